/* Stage 2 of the near-duplicate relation (core/near_sig.c) on real photos (tests/data/photos):
 * a picture matches its crops, shifts and brightness changes, distinct photos stay apart, the
 * answer is symmetric, the score is its definition computed sample by sample (for every
 * EDGESET_ISA cap), and the verified self-join gives the brute-force clustering for any number
 * of threads. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capcheck.h"
#include "core/near_sig.h"
#include "formats/decode.h"
#include "formats/features.h"
#include "photos.h"
#include "testutil.h"

static const char *PHOTOS[] = {"brick.png",  "camera.png", "chelsea.png", "china.jpg",
                               "coffee.png", "flower.jpg", "grass.png",   "gravel.png"};
#define NPHOTOS (sizeof PHOTOS / sizeof *PHOTOS)

/* The window [x0, x0 + w) x [y0, y0 + h) of img, as a new image; delta added to every sample
 * (clipped). */
static es_image window(const es_image *img, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h,
                       int delta)
{
  es_image out;
  cr_assert_eq(es_image_alloc(&out, w, h, img->channels, NULL), ES_OK);
  size_t c = img->channels;
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w * c; x++) {
      int v = img->data[((size_t)(y0 + y) * img->width) * c + x0 * c + x] + delta;
      out.data[(size_t)y * w * c + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  return out;
}

static void features(const es_image *img, uint64_t *h, es_near_sig *sig)
{
  es_error err = {0};
  cr_assert_eq(es_image_features(img, h, NULL, sig, &err), ES_OK, "%s", err.msg);
}

static const es_near_rel REL = {16, 850, 990};

Test(near_sig, threshold_depends_on_the_smaller_picture)
{
  cr_assert_eq(es_near_threshold(&REL, 28, 640), 990);
  cr_assert_eq(es_near_threshold(&REL, 32, 32), 990);
  cr_assert_eq(es_near_threshold(&REL, 128, 4000), 850);
  cr_assert_eq(es_near_threshold(&REL, 640, 480), 850);
  cr_assert_eq(es_near_threshold(&REL, 80, 640), 920); /* half way */
  unsigned prev = 1000;
  for (unsigned s = 1; s < 300; s++) {
    unsigned t = es_near_threshold(&REL, s, 1000);
    cr_assert(t <= prev && t >= 850 && t <= 990, "side %u: %u", s, t);
    prev = t;
  }
}

Test(near_sig, signature_is_the_hash_input_and_the_side)
{
  es_image img = tc_photo("camera.png");
  uint64_t h;
  es_near_sig s;
  features(&img, &h, &s);
  cr_assert_eq(s.side, img.width < img.height ? img.width : img.height);
  /* camera.png is 512x512 gray: cell (0, 0) is the mean of its top-left 16x16 block */
  uint32_t sum = 0;
  for (int y = 0; y < 16; y++)
    for (int x = 0; x < 16; x++)
      sum += img.data[(size_t)y * img.width + x];
  cr_assert_eq(s.px[0], (sum + 128) / 256);
  es_image_free(&img);
}

Test(near_sig, a_photo_matches_its_crops_shifts_and_brightness)
{
  for (size_t p = 0; p < NPHOTOS; p++) {
    if (!strcmp(PHOTOS[p], "grass.png") || !strcmp(PHOTOS[p], "gravel.png") ||
        !strcmp(PHOTOS[p], "brick.png"))
      continue; /* fine textures without structure at 32x32: see the next test */
    es_image img = tc_photo(PHOTOS[p]);
    uint32_t W = img.width, H = img.height;
    es_image base = window(&img, W / 20, H / 20, W - W / 10, H - H / 10, 0);
    es_image crop =
        window(&img, W / 20 + W / 25, H / 20, W - W / 10 - W / 25, H - H / 10 - H / 30, 0);
    es_image shift = window(&img, W / 20 + W / 40, H / 20 + H / 40, W - W / 10, H - H / 10, 0);
    es_image bright = window(&img, W / 20, H / 20, W - W / 10, H - H / 10, 20);
    es_near_sig sb, sc, ss, sl;
    uint64_t hb, hc, hs, hl;
    features(&base, &hb, &sb);
    features(&crop, &hc, &sc);
    features(&shift, &hs, &ss);
    features(&bright, &hl, &sl);
    cr_assert(es_near_sig_match(&sb, &sb, 1000), "%s: itself", PHOTOS[p]);
    cr_assert(es_near_sig_match(&sb, &sc, 850), "%s: crop %.3f", PHOTOS[p],
              es_near_sig_score(&sb, &sc));
    cr_assert(es_near_sig_match(&sc, &sb, 850), "%s: crop, reversed", PHOTOS[p]);
    cr_assert(es_near_sig_match(&sb, &ss, 850), "%s: shift %.3f", PHOTOS[p],
              es_near_sig_score(&sb, &ss));
    cr_assert(es_near_sig_match(&sb, &sl, 950), "%s: brightness %.3f", PHOTOS[p],
              es_near_sig_score(&sb, &sl));
    cr_assert(es_near_related(&REL, hb, &sb, hl, &sl), "%s: brightness, whole relation", PHOTOS[p]);
    es_image_free(&img);
    es_image_free(&base);
    es_image_free(&crop);
    es_image_free(&shift);
    es_image_free(&bright);
  }
}

Test(near_sig, distinct_photos_and_distinct_halves_stay_apart)
{
  es_near_sig s[NPHOTOS * 3];
  uint64_t h[NPHOTOS * 3];
  for (size_t p = 0; p < NPHOTOS; p++) {
    es_image img = tc_photo(PHOTOS[p]);
    uint32_t W = img.width, H = img.height;
    es_image left = window(&img, 0, 0, W * 45 / 100, H, 0);
    es_image right = window(&img, W - W * 45 / 100, 0, W * 45 / 100, H, 0);
    features(&img, &h[3 * p], &s[3 * p]);
    features(&left, &h[3 * p + 1], &s[3 * p + 1]);
    features(&right, &h[3 * p + 2], &s[3 * p + 2]);
    es_image_free(&img);
    es_image_free(&left);
    es_image_free(&right);
  }
  for (size_t i = 0; i < NPHOTOS * 3; i++)
    for (size_t j = i + 1; j < NPHOTOS * 3; j++) {
      int m = es_near_sig_match(&s[i], &s[j], 850);
      cr_assert_eq(m, es_near_sig_match(&s[j], &s[i], 850), "not symmetric: %zu %zu", i, j);
      cr_assert(!m, "%s/%zu and %s/%zu match (%.3f)", PHOTOS[i / 3], i % 3, PHOTOS[j / 3], j % 3,
                es_near_sig_score(&s[i], &s[j]));
    }
}

Test(near_sig, flat_pictures)
{
  es_near_sig black, gray, ramp;
  memset(&black, 0, sizeof black);
  memset(&gray, 128, sizeof gray);
  for (size_t i = 0; i < ES_SIG_PIXELS; i++)
    ramp.px[i] = (uint8_t)(i % ES_SIG_SIDE * 8);
  black.side = gray.side = ramp.side = 100;
  cr_assert(es_near_sig_match(&black, &gray, 1000), "two empty scenes are the same");
  cr_assert(!es_near_sig_match(&black, &ramp, 0), "an empty scene is no picture's duplicate");
  cr_assert(!es_near_sig_match(&ramp, &gray, 0));
  cr_assert(es_near_sig_match(&ramp, &ramp, 1000));
  cr_assert(!es_near_sig_match(&ramp, &ramp, 1001), "thresholds above 1 never match");
}

/* The self-join against its definition: in order, each item joins the nearest earlier
 * representative it is related to (ties to the earliest), or becomes one. */
static void brute_join(const uint64_t *h, const es_near_sig *s, size_t n, uint32_t *assign)
{
  for (size_t i = 0; i < n; i++) {
    assign[i] = (uint32_t)i;
    unsigned bd = 65;
    for (size_t r = 0; r < i; r++) {
      if (assign[r] != r)
        continue;
      unsigned d = es_phash_distance(h[i], h[r]);
      if (d < bd && es_near_related(&REL, h[i], &s[i], h[r], &s[r])) {
        bd = d;
        assign[i] = (uint32_t)r;
      }
    }
  }
}

Test(near_sig, selfjoin_is_the_sequential_definition_for_any_threads)
{
  /* windows of the photos with small shifts and brightness changes, in a mixed order, so that
   * clusters, near misses and ties all occur; more than one block (1,024) of items */
  size_t n = 0, cap = 1200;
  uint64_t *h = malloc(cap * sizeof *h);
  es_near_sig *s = malloc(cap * sizeof *s);
  uint32_t *a = malloc(cap * sizeof *a), *b = malloc(cap * sizeof *b);
  cr_assert(h && s && a && b);
  uint64_t rng = 12345;
  for (size_t p = 0; p < NPHOTOS; p++) {
    es_image img = tc_photo(PHOTOS[p]);
    uint32_t W = img.width, H = img.height;
    for (int k = 0; k < 150; k++) {
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      uint32_t side = (uint32_t)(W < H ? W : H) / 3;
      uint32_t x = (uint32_t)((rng >> 33) % (W - side)), y = (uint32_t)((rng >> 13) % (H - side));
      x -= x % 8; /* windows on a grid of 8 pixels: many overlap by all but a few pixels */
      y -= y % 8;
      es_image win = window(&img, x, y, side, side, (int)((rng >> 50) % 21) - 10);
      features(&win, &h[n], &s[n]);
      n++;
      es_image_free(&win);
    }
    es_image_free(&img);
  }
  for (size_t i = n - 1; i > 0; i--) { /* shuffle */
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    size_t j = (size_t)((rng >> 33) % (i + 1));
    uint64_t th = h[i];
    h[i] = h[j];
    h[j] = th;
    es_near_sig ts = s[i];
    s[i] = s[j];
    s[j] = ts;
  }
  brute_join(h, s, n, b);
  size_t brute_reps = 0;
  for (size_t i = 0; i < n; i++)
    brute_reps += b[i] == i;
  cr_assert(brute_reps > 50 && brute_reps < n - 100, "a test with clusters: %zu reps of %zu",
            brute_reps, n);
  for (int threads = 1; threads <= 4; threads++) {
    size_t reps = 0;
    es_near_counts counts = {0};
    es_error err = {0};
    cr_assert_eq(es_near_selfjoin_verified(h, s, n, &REL, threads, a, &reps, &counts, &err),
                 ES_OK, "%s", err.msg);
    cr_assert_eq(reps, brute_reps, "%d threads", threads);
    cr_assert_eq(memcmp(a, b, n * sizeof *a), 0, "%d threads: not the sequential join", threads);
    cr_assert(counts.verified <= counts.candidates && counts.verified >= n - reps);
  }
  free(h);
  free(s);
  free(a);
  free(b);
}

/* Stage 2 written out from its definition (docs/near-duplicates.md), one sample at a time:
 * a's central 24x24 window against b warped (scale kx/16, ky/16 about the centre, shift tx,
 * ty), each warped sample the 2-D bilinear interpolation in 1/32 pixel steps, rounded to 1/32
 * luma; the greedy ascent from the identity to the best of the 8 neighbours, skipping warps
 * already seen. Returns the best correlation the ascent reaches. */
static int ref_pos(int k, int t, int u)
{
  int p = 16 * 32 + k * (2 * u + 1 - 32) + 32 * t - 16;
  return p < 0 ? 0 : p > 31 * 32 ? 31 * 32 : p;
}

static double ref_corr(const es_near_sig *a, const es_near_sig *b, const int q[4])
{
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (int y = 4; y < 28; y++)
    for (int x = 4; x < 28; x++) {
      int px = ref_pos(q[0], q[2], x), py = ref_pos(q[1], q[3], y);
      int x0 = px >> 5, y0 = py >> 5, fx = px & 31, fy = py & 31;
      int x1 = x0 + 1 < 32 ? x0 + 1 : x0, y1 = y0 + 1 < 32 ? y0 + 1 : y0;
      const uint8_t *p = b->px;
      int v = ((32 - fx) * (32 - fy) * p[y0 * 32 + x0] + fx * (32 - fy) * p[y0 * 32 + x1] +
               (32 - fx) * fy * p[y1 * 32 + x0] + fx * fy * p[y1 * 32 + x1] + 16) >>
              5;
      double w = a->px[y * 32 + x];
      sa += w;
      saa += w * w;
      sb += v;
      sbb += (double)v * v;
      sab += w * v;
    }
  double n = 576, va = n * saa - sa * sa, vb = n * sbb - sb * sb;
  return va > 0 && vb > 0 ? (n * sab - sa * sb) / sqrt(va * vb) : 0;
}

static double ref_ascent(const es_near_sig *a, const es_near_sig *b)
{
  int p[4] = {16, 16, 0, 0}, lo[4] = {15, 15, -2, -2}, hi[4] = {17, 17, 2, 2};
  char seen[3][3][5][5] = {{{{0}}}};
  seen[1][1][2][2] = 1;
  double cur = ref_corr(a, b, p);
  for (;;) {
    int bi = -1, bd = 0;
    double best = cur;
    for (int i = 0; i < 4; i++)
      for (int d = -1; d <= 1; d += 2) {
        int q[4] = {p[0], p[1], p[2], p[3]};
        q[i] += d;
        if (q[i] < lo[i] || q[i] > hi[i] || seen[q[0] - 15][q[1] - 15][q[2] + 2][q[3] + 2])
          continue;
        seen[q[0] - 15][q[1] - 15][q[2] + 2][q[3] + 2] = 1;
        double c = ref_corr(a, b, q);
        if (c > best + 1e-12) {
          best = c;
          bi = i;
          bd = d;
        }
      }
    if (bi < 0)
      return cur;
    p[bi] += bd;
    cur = best;
  }
}

typedef struct score_pairs {
  const es_near_sig *s;
  size_t n;
} score_pairs;

static void scores_of(void *out, void *ctx)
{
  const score_pairs *sp = ctx;
  double *o = out;
  for (size_t i = 0; i + 1 < sp->n; i++)
    o[i] = es_near_sig_score(&sp->s[i], &sp->s[i + 1]);
}

Test(near_sig, score_is_the_definition_under_every_isa)
{
  /* overlapping windows of the photos (neighbours in the list share content, so the ascent
   * climbs), some scaled, some small */
  enum { N = 60 };
  es_near_sig s[N];
  uint64_t h, rng = 99;
  for (size_t k = 0; k < N; k++) {
    es_image img = tc_photo(PHOTOS[k % NPHOTOS]);
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t side = (uint32_t)(img.width < img.height ? img.width : img.height) / (2 + k % 5);
    uint32_t x = (uint32_t)((rng >> 33) % (img.width - side - 16));
    uint32_t y = (uint32_t)((rng >> 13) % (img.height - side - 8));
    es_image win = window(&img, x, y, side + (uint32_t)(rng >> 60), side, 0);
    features(&win, &h, &s[k]);
    es_image_free(&win);
    es_image_free(&img);
  }
  for (size_t k = 0; k < N; k += 2) { /* and pairs of one photo, a few pixels apart */
    es_image img = tc_photo(PHOTOS[k / 2 % NPHOTOS]);
    uint32_t side = img.height / 2;
    es_image w1 = window(&img, 10, 10, side, side, 0), w2 = window(&img, 13, 12, side, side, 5);
    features(&w1, &h, &s[k]);
    features(&w2, &h, &s[k + 1]);
    es_image_free(&w1);
    es_image_free(&w2);
    es_image_free(&img);
  }
  for (size_t i = 0; i + 1 < N; i++) {
    double want = fmax(ref_ascent(&s[i], &s[i + 1]), ref_ascent(&s[i + 1], &s[i]));
    cr_expect(fabs(es_near_sig_score(&s[i], &s[i + 1]) - want) < 1e-9, "pair %zu: %f, not %f",
              i, es_near_sig_score(&s[i], &s[i + 1]), want);
  }
  score_pairs sp = {s, N};
  cap_same_bytes(scores_of, &sp, (N - 1) * sizeof(double), "es_near_sig_score");
}
