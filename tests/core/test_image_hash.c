/* The `pixels` fact (es_image_hash_hex): the one-shot XXH3-128 of the three little-endian
 * dimensions followed by the samples, as docs/dataset-format.md defines it; the same samples in
 * another shape hash differently; and each build of XXH3 gives the library's digest. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/cpu.h"
#include "core/hash.h"
#include "core/image.h"
#include "core/store.h"

Test(image_hash, is_xxh3_128_of_dimensions_then_samples)
{
  es_image img = {0};
  cr_assert_eq(es_image_alloc(&img, 3, 2, 3, NULL), ES_OK);
  for (size_t i = 0; i < es_image_size(&img); i++)
    img.data[i] = (uint8_t)(i * 37 + 1);
  uint8_t buf[12 + 18] = {3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0};
  memcpy(buf + 12, img.data, 18);
  char got[33], want[33];
  cr_assert_eq(es_image_hash_hex(&img, got, NULL), ES_OK);
  es_hash_hex(buf, sizeof buf, want);
  cr_expect_str_eq(got, want);

  /* 2 x 3 instead of 3 x 2: same samples, another picture */
  img.width = 2;
  img.height = 3;
  char other[33];
  cr_assert_eq(es_image_hash_hex(&img, other, NULL), ES_OK);
  cr_expect_str_neq(other, got);
  img.width = 3;
  img.height = 2;
  es_image_free(&img);
}

void es__xxh3_hex_generic(const void *a, size_t alen, const void *b, size_t blen, char out[33]);
void es__xxh3_hex_avx2(const void *a, size_t alen, const void *b, size_t blen, char out[33]);
void es__xxh3_hex_avx512(const void *a, size_t alen, const void *b, size_t blen, char out[33]);

/* Every build of XXH3 this CPU runs (core/xxh3_internal.h) gives Debian's libxxhash digest, one-shot
 * and streamed in two parts, on lengths through each of the hash's paths (short inputs,
 * 129-240 bytes, stripes, 1 KiB blocks and their remainders, a whole VGA image). */
Test(image_hash, every_xxh3_build_equals_libxxhash)
{
  typedef void fn(const void *, size_t, const void *, size_t, char[33]);
  struct {
    const char *name;
    int have;
    fn *f;
  } builds[] = {{"generic", 1, es__xxh3_hex_generic},
#if defined(__x86_64__) && defined(__GNUC__)
                {"avx2", (es_cpu_detected() & ES_CPU_AVX2) != 0, es__xxh3_hex_avx2},
                {"avx512", (es_cpu_detected() & ES_CPU_AVX512F) != 0, es__xxh3_hex_avx512},
#endif
  };
  enum { MAXN = 640 * 480 * 3 + 12 };
  uint8_t *buf = malloc(MAXN);
  cr_assert(buf);
  for (size_t i = 0; i < MAXN; i++)
    buf[i] = (uint8_t)((i * 2654435761u) >> 11);
  const size_t lens[] = {0,    1,    3,    4,    8,    9,    16,   17,   128,   129,
                         240,  241,  255,  256,  1023, 1024, 1025, 4096, 65537, MAXN};
  for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
    size_t n = lens[li];
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(buf, n));
    char want[33], got[33];
    for (int i = 0; i < 16; i++)
      snprintf(want + 2 * i, 3, "%02x", c.digest[i]);
    for (size_t bi = 0; bi < sizeof builds / sizeof builds[0]; bi++) {
      if (!builds[bi].have)
        continue;
      builds[bi].f(buf, n, NULL, 0, got);
      cr_assert_str_eq(got, want, "%s, one-shot, %zu bytes", builds[bi].name, n);
      size_t head = n < 12 ? n / 2 : 12;
      builds[bi].f(buf, head, buf + head, n - head, got);
      cr_assert_str_eq(got, want, "%s, streamed, %zu bytes", builds[bi].name, n);
    }
  }
  free(buf);
}
