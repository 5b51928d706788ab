/* es_json_real: the one way an edgeset JSON file writes a real (core/json.h). */
#include "core/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

json_t *es_json_real(double v)
{
  if (!isfinite(v))
    return json_null(); /* JSON has no NaN or infinity; item writers reject them first */
  /* Rounding the value itself (not only its printing) keeps records dumped without
   * JSON_REAL_PRECISION equal in value, and makes parse then print a fixed point. */
  char buf[40];
  snprintf(buf, sizeof buf, "%.*g", ES_FLOAT_DIGITS, v);
  double r = strtod(buf, NULL);
  if (r == 0)
    r = 0; /* -0 would print as "-0.0" */
  return json_real(r);
}
