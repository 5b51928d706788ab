/* es_image_features (formats/image_stats.c: the RGB row kernels, the prefix sums and the
 * AVX-512 thumbnail kernels, each picked within the EDGESET_ISA cap) gives the same phash and
 * statistics, to the bit, under every cap as under `portable`. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "capcheck.h"
#include "core/image.h"
#include "formats/features.h"

static const uint32_t sizes[][2] = {{1, 1},    {3, 2},    {17, 9},   {64, 64},   {127, 129},
                                    {128, 128}, {129, 97}, {333, 250}, {640, 480}, {1031, 77}};
#define NSIZES (sizeof sizes / sizeof sizes[0])

typedef struct result {
  uint64_t phash;
  es_stats stats;
} result;

static uint64_t mix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15u;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

/* kind 0: noise; 1: smooth gradients with clipped corners; 2: only values near the clip
 * thresholds (0..4, 251..255) */
static void features_all(void *out, void *ctx)
{
  (void)ctx;
  result *r = out;
  for (size_t s = 0; s < NSIZES; s++)
    for (uint32_t c = 1; c <= 4; c++)
      for (int kind = 0; kind < 3; kind++) {
        es_image img = {0};
        cr_assert_eq(es_image_alloc(&img, sizes[s][0], sizes[s][1], c, NULL), ES_OK);
        for (size_t i = 0; i < es_image_size(&img); i++) {
          size_t px = i / c, x = px % img.width, y = px / img.width;
          uint64_t m = mix(i * 31 + s * 7 + kind);
          int v = kind == 0   ? (int)(m >> 56)
                  : kind == 1 ? (int)((x * 300 / img.width + y * 200 / img.height) % 300) - 20 +
                                    (int)(i % c) * 30
                              : (int)((m >> 60) % 5 + ((m >> 59) & 1) * 251);
          img.data[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        result *o = &r[(s * 4 + (c - 1)) * 3 + (size_t)kind];
        es_error err = {0};
        cr_assert_eq(es_image_features(&img, &o->phash, &o->stats, NULL, &err), ES_OK, "%s", err.msg);
        es_image_free(&img);
      }
}

Test(cpu_cap, image_features_same_under_every_cap)
{
  cap_same_bytes(features_all, NULL, NSIZES * 4 * 3 * sizeof(result), "es_image_features");
}
