#include "capcheck.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"

void cap_same_bytes(void (*fn)(void *out, void *ctx), void *ctx, size_t n, const char *what)
{
  uint8_t *want = calloc(1, n ? n : 1), *got = calloc(1, n ? n : 1);
  cr_assert(want && got);
  int prev = es__cpu_set_cap(ES_CPU_CAP_PORTABLE);
  fn(want, ctx);
  for (int c = ES_CPU_CAP_AVX2; c <= ES_CPU_CAP_AVX512VNNI; c++) {
    es__cpu_set_cap(c);
    memset(got, 0, n);
    fn(got, ctx);
    size_t first = n;
    for (size_t i = 0; i < n && first == n; i++)
      if (got[i] != want[i])
        first = i;
    cr_expect_eq(first, n, "%s: EDGESET_ISA=%s differs from portable at byte %zu", what,
                 es_cpu_cap_name(c), first);
  }
  es__cpu_set_cap(prev);
  free(want);
  free(got);
}
