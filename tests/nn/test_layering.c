/* The kernels depend on each other one way, as in TFLite Micro: a fast kernel (nn/kernels/fast*)
 * may read a reference kernel's parameters, a reference kernel never includes, calls or
 * mentions a fast one (nn_internal.h, "Kernels"). This reads the sources: every file of
 * nn/kernels/ whose name does not start with "fast" must have no "fast" in its code (comments
 * aside), so no fast.h include, no op->fast, no fast prepare or eval. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* The text with its comments and string literals blanked. */
static char *code_only(const char *s, size_t n)
{
  char *o = malloc(n + 1);
  cr_assert(o);
  size_t i = 0;
  while (i < n) {
    if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
      const char *end = strstr(s + i + 2, "*/");
      size_t stop = end ? (size_t)(end - s) + 2 : n;
      for (; i < stop; i++)
        o[i] = s[i] == '\n' ? '\n' : ' ';
    } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '/') {
      for (; i < n && s[i] != '\n'; i++)
        o[i] = ' ';
    } else {
      o[i] = s[i];
      i++;
    }
  }
  o[n] = 0;
  return o;
}

Test(layering, reference_kernels_never_reach_the_fast_ones)
{
  const char *src = getenv("EDGESET_SOURCE");
  cr_assert(src, "EDGESET_SOURCE is not set (run through ctest)");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/nn/kernels", src);
  DIR *d = opendir(dir);
  cr_assert(d, "cannot open %s", dir);
  int reference = 0, fast = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *nm = e->d_name;
    const size_t len = strlen(nm);
    if (len < 3 || (strcmp(nm + len - 2, ".c") != 0 && strcmp(nm + len - 2, ".h") != 0))
      continue;
    if (strncmp(nm, "fast", 4) == 0) {
      fast++;
      continue;
    }
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, nm);
    size_t n = 0;
    char *text = (char *)tu_read(path, &n);
    cr_assert(text, "cannot read %s", path);
    char *code = code_only(text, n);
    const char *hit = strstr(code, "fast");
    int line = 1;
    for (const char *p = code; hit && p < hit; p++)
      line += *p == '\n';
    cr_expect(!hit, "%s:%d: a reference kernel file names a fast kernel", path, line);
    free(code);
    free(text);
    reference++;
  }
  closedir(d);
  cr_assert_geq(reference, 10, "only %d reference kernel files found in %s", reference, dir);
  cr_assert_geq(fast, 2, "no fast kernel files found in %s", dir);
}
