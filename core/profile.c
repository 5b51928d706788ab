/* es_profile: see profile.h. */
#include "core/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void es_profile(const char *step)
{
  static int on = -1;
  static double last = -1;
  if (on < 0)
    on = getenv("EDGESET_PROFILE") != NULL;
  if (!on)
    return;
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  double now = (double)t.tv_sec + (double)t.tv_nsec / 1e9;
  if (last >= 0)
    fprintf(stderr, "edgeset: profile: %s %.3f s\n", step, now - last);
  last = now;
}
