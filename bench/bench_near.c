/* bench_near: the near-duplicate self-joins collect performs (each item in order joins the
 * nearest representative it is related to, ties to the smallest ref, or becomes one) over
 * 1,000,000 items, each a phash and the signature collect would store for the same picture:
 *
 * - photos: the file of --hashes and its .sig (bench/near_quality.py --write-hashes: the
 *   quality set's pictures and random crops of its photos, through our C code);
 * - Fashion-MNIST's 70,000 images from --fmnist DIR (default /usr/share/datasets/fashion-mnist)
 *   and a one-pixel shift or 10% darker copy of half of them, through es_image_features();
 * - synthetic bursts up to -n: value-noise scenes seen 1..8 times with small moves, gain and
 *   noise, phash and signature from the same 32x32 means.
 *
 * Timed: the phash-only join (es_near_selfjoin(), multi-index) against the named baseline
 * "linear scan over the representatives" measured in the same run on the first hashes and
 * extrapolated exactly (its cost is one distance per representative present at each query);
 * the verified two-stage join (es_near_selfjoin_verified()) against the named baseline "the
 * phash-only self-join at ES_DEFAULT_NEAR" in the same run, with each source alone to show
 * its candidate rate. Also es_image_features on a 640x480 RGB image against libjpeg-turbo
 * decoding the same picture as a quality-90 JPEG (the throughput budget collect works within).
 *
 * usage: bench_near [-n TOTAL] [-r RADIUS] [-j THREADS] [--hashes FILE] [--fmnist DIR]
 *                   [--baseline N] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include <jpeglib.h> /* after stdio.h: it needs FILE and size_t */

#include "formats/features.h"
#include "formats/features_internal.h"
#include "core/near_index.h"
#include "core/near_sig.h"
#include "core/store.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *s)
{
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* The items: a phash and a signature each, as collect computes them. */
typedef struct hashes {
  uint64_t *h;
  es_near_sig *sig;
  size_t n, cap;
} hashes;

static int push(hashes *hs, uint64_t h, const es_near_sig *sig)
{
  if (hs->n == hs->cap)
    return -1;
  hs->h[hs->n] = h;
  hs->sig[hs->n++] = *sig;
  return 0;
}

/* FILE holds little-endian uint64 hashes, FILE.sig their signatures (1,024 luma bytes and the
 * picture's smaller side as little-endian uint16), as bench/near_quality.py writes them. */
static size_t load_file(hashes *hs, const char *path)
{
  char spath[4096];
  snprintf(spath, sizeof spath, "%s.sig", path);
  FILE *f = fopen(path, "rb"), *g = fopen(spath, "rb");
  if (!f || !g) {
    fprintf(stderr, "bench_near: cannot open '%s'\n", f ? spath : path);
    if (f)
      fclose(f);
    if (g)
      fclose(g);
    exit(2);
  }
  size_t before = hs->n;
  uint8_t b[8], rec[ES_SIG_PIXELS + 2];
  while (hs->n < hs->cap && fread(b, 1, 8, f) == 8) {
    if (fread(rec, 1, sizeof rec, g) != sizeof rec) {
      fprintf(stderr, "bench_near: '%s' has fewer signatures than '%s' has hashes\n", spath,
              path);
      exit(2);
    }
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
      v = v << 8 | b[i];
    es_near_sig sig;
    memcpy(sig.px, rec, ES_SIG_PIXELS);
    sig.side = (uint16_t)(rec[ES_SIG_PIXELS] | rec[ES_SIG_PIXELS + 1] << 8);
    push(hs, v, &sig);
  }
  fclose(f);
  fclose(g);
  return hs->n - before;
}

static void push_features(hashes *hs, const es_image *img)
{
  uint64_t h;
  es_stats st;
  es_near_sig sig;
  es_error err;
  if (es_image_features(img, &h, &st, &sig, &err) == ES_OK)
    push(hs, h, &sig);
}

/* Every image of an idx3-ubyte.gz file, and for half of them a copy shifted right by one
 * pixel or one 10% darker: real pictures and the small changes a burst of captures shows. */
static size_t load_fmnist(hashes *hs, const char *path)
{
  gzFile f = gzopen(path, "rb");
  if (!f)
    return 0;
  uint8_t hdr[16];
  size_t before = hs->n;
  if (gzread(f, hdr, 16) == 16) {
    uint32_t n = (uint32_t)hdr[4] << 24 | hdr[5] << 16 | hdr[6] << 8 | hdr[7];
    uint32_t rows = (uint32_t)hdr[8] << 24 | hdr[9] << 16 | hdr[10] << 8 | hdr[11];
    uint32_t cols = (uint32_t)hdr[12] << 24 | hdr[13] << 16 | hdr[14] << 8 | hdr[15];
    es_image img, var;
    es_error err;
    if (rows * cols <= 4096 && es_image_alloc(&img, cols, rows, 1, &err) == ES_OK &&
        es_image_alloc(&var, cols, rows, 1, &err) == ES_OK) {
      for (uint32_t i = 0; i < n && hs->n + 2 <= hs->cap; i++) {
        if (gzread(f, img.data, rows * cols) != (int)(rows * cols))
          break;
        push_features(hs, &img);
        if (i % 2 == 0) {
          for (uint32_t y = 0; y < rows; y++) {
            var.data[y * cols] = 0;
            memcpy(var.data + y * cols + 1, img.data + y * cols, cols - 1);
          }
        } else {
          for (uint32_t k = 0; k < rows * cols; k++)
            var.data[k] = (uint8_t)(img.data[k] * 9 / 10);
        }
        if (i % 4 < 2)
          push_features(hs, &var);
      }
      es_image_free(&img);
      es_image_free(&var);
    }
  }
  gzclose(f);
  return hs->n - before;
}

/* A synthetic scene: value noise of three octaves (random luma on grids of 4, 8 and 16 cells
 * across the picture, bilinear, amplitudes 4:2:1), whose spectrum falls with frequency as a
 * natural picture's does. */
#define OCT 3
typedef struct scene {
  uint8_t g[OCT][19][19];
} scene;

static const int oct_cells[OCT] = {4, 8, 16}, oct_amp[OCT] = {4, 2, 1};

static void scene_new(scene *sc, uint64_t *s)
{
  for (int o = 0; o < OCT; o++)
    for (int y = 0; y < 19; y++)
      for (int x = 0; x < 19; x++)
        sc->g[o][y][x] = (uint8_t)(rng_next(s) % 256);
}

/* One capture of the scene as collect would see it in a 480-pixel photo: the 32x32 area means
 * (sampled at the pixel centres, the scene being smooth at that scale) moved by (dx, dy)
 * quarter pixels, brightness times (1000 + gain) / 1000, and sensor noise that the averaging
 * leaves at +-0.5 luma; the phash from the same means, as es_image_features() computes it. */
static void capture(const scene *sc, int dx, int dy, int gain, uint64_t *s, uint64_t *h,
                    es_near_sig *sig)
{
  int32_t f[ES_SIG_PIXELS];
  for (int y = 0; y < ES_SIG_SIDE; y++)
    for (int x = 0; x < ES_SIG_SIDE; x++) {
      double v = 0;
      for (int o = 0; o < OCT; o++) {
        /* position in cells: the picture spans oct_cells[o] cells after one cell of margin */
        double px = 1 + (4.0 * x + 2 + dx) / 128.0 * oct_cells[o];
        double py = 1 + (4.0 * y + 2 + dy) / 128.0 * oct_cells[o];
        int ix = (int)px, iy = (int)py;
        double fx = px - ix, fy = py - iy;
        const uint8_t(*g)[19] = sc->g[o];
        v += oct_amp[o] * ((1 - fy) * ((1 - fx) * g[iy][ix] + fx * g[iy][ix + 1]) +
                           fy * ((1 - fx) * g[iy + 1][ix] + fx * g[iy + 1][ix + 1]));
      }
      v = v / 7.0 * (1000 + gain) / 1000.0;
      int q = (int)(v * 16 + 0.5) + (int)(rng_next(s) % 17) - 8;
      f[y * ES_SIG_SIDE + x] = q < 0 ? 0 : q > 4080 ? 4080 : q;
    }
  *h = es__phash_from_luma32(f);
  for (int i = 0; i < ES_SIG_PIXELS; i++)
    sig->px[i] = (uint8_t)((f[i] + 8) >> 4);
  sig->side = 480;
}

/* Synthetic bursts up to the capacity: a new scene each, seen 1..8 times, each capture moved
 * by up to half a signature pixel, up to 3% brighter or darker and with its own noise. */
static void synth_bursts(hashes *hs, uint64_t seed)
{
  uint64_t s = seed;
  scene sc;
  while (hs->n < hs->cap) {
    scene_new(&sc, &s);
    unsigned burst = 1 + (unsigned)(rng_next(&s) % 8);
    for (unsigned k = 0; k < burst && hs->n < hs->cap; k++) {
      int dx = (int)(rng_next(&s) % 5) - 2, dy = (int)(rng_next(&s) % 5) - 2;
      int gain = (int)(rng_next(&s) % 61) - 30;
      uint64_t h;
      es_near_sig sig;
      capture(&sc, dx, dy, gain, &s, &h, &sig);
      push(hs, h, &sig);
    }
  }
}

static es_near_index *new_index(unsigned radius)
{
  es_error err;
  es_near_index *idx = es_near_index_new(radius, &err);
  if (!idx) {
    fprintf(stderr, "bench_near: %s\n", err.msg);
    exit(3);
  }
  return idx;
}

static void add_rep(es_near_index *idx, uint64_t h, uint32_t ref)
{
  es_error err;
  if (es_near_index_add(idx, h, ref, &err) != ES_OK) {
    fprintf(stderr, "bench_near: %s\n", err.msg);
    exit(3);
  }
}

/* The self-join with the index, as collect runs it (es_near_selfjoin()): assign[i] = ref of
 * i's representative (i itself for a new one). Returns seconds; fills *examined, *reps_seen
 * (sum over queries of the representatives present, i.e. the linear scan's work), *reps and
 * *memory (of an index holding the representatives, as the join's own index does). */
static double join_index(const uint64_t *h, size_t n, unsigned radius, int threads,
                         uint32_t *assign, uint64_t *examined, uint64_t *reps_seen,
                         size_t *reps, size_t *memory)
{
  es_error err;
  uint64_t ex = 0;
  double t0 = now();
  if (es_near_selfjoin(h, n, radius, threads, assign, reps, &ex, &err) != ES_OK) {
    fprintf(stderr, "bench_near: %s\n", err.msg);
    exit(3);
  }
  double t = now() - t0;
  uint64_t seen = 0;
  size_t present = 0;
  es_near_index *idx = new_index(radius);
  for (size_t i = 0; i < n; i++) {
    seen += present;
    if (assign[i] == i) {
      present++;
      add_rep(idx, h[i], (uint32_t)i);
    }
  }
  *examined = ex;
  *reps_seen = seen;
  *memory = es_near_index_memory(idx);
  es_near_index_free(idx);
  return t;
}

/* The baseline: the same join with a linear scan over the representatives, as fast as a scan
 * gets: the smallest distance over all of them with a vectorised loop (AVX-512 VPOPCNTDQ or
 * POPCNT where the CPU has them, like the index), then the first representative at that
 * distance (representatives are kept in ref order, so that is the tie rule). */
static inline __attribute__((always_inline)) unsigned min_body(const uint64_t *rh, size_t nr,
                                                               uint64_t q)
{
  unsigned least = 64;
  for (size_t j = 0; j < nr; j++) {
    unsigned d = (unsigned)__builtin_popcountll(rh[j] ^ q);
    least = d < least ? d : least;
  }
  return least;
}

static inline __attribute__((always_inline)) size_t first_body(const uint64_t *rh, size_t nr,
                                                              uint64_t q, unsigned d)
{
  size_t j = 0;
  while (j < nr && (unsigned)__builtin_popcountll(rh[j] ^ q) != d)
    j++;
  return j;
}

typedef unsigned (*min_fn)(const uint64_t *rh, size_t nr, uint64_t q);
typedef size_t (*first_fn)(const uint64_t *rh, size_t nr, uint64_t q, unsigned d);

static unsigned min_plain(const uint64_t *rh, size_t nr, uint64_t q)
{
  return min_body(rh, nr, q);
}

static size_t first_plain(const uint64_t *rh, size_t nr, uint64_t q, unsigned d)
{
  return first_body(rh, nr, q, d);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target("popcnt"))) static size_t first_popcnt(const uint64_t *rh, size_t nr,
                                                             uint64_t q, unsigned d)
{
  return first_body(rh, nr, q, d);
}

__attribute__((target("popcnt"))) static unsigned min_popcnt(const uint64_t *rh, size_t nr,
                                                             uint64_t q)
{
  return min_body(rh, nr, q);
}

__attribute__((target("avx512vpopcntdq,avx512f,popcnt"), optimize("tree-vectorize"))) static unsigned
min_vpopcnt(const uint64_t *rh, size_t nr, uint64_t q)
{
  return min_body(rh, nr, q);
}
#endif

static min_fn pick_min(first_fn *first)
{
  *first = first_plain;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  if (__builtin_cpu_supports("popcnt"))
    *first = first_popcnt;
  if (__builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("avx512f"))
    return min_vpopcnt;
  if (__builtin_cpu_supports("popcnt"))
    return min_popcnt;
#endif
  return min_plain;
}

static double join_linear(const uint64_t *h, size_t n, unsigned radius, uint32_t *assign)
{
  first_fn first;
  min_fn least = pick_min(&first);
  uint64_t *rh = malloc(n * sizeof *rh);
  uint32_t *rr = malloc(n * sizeof *rr);
  size_t nr = 0;
  if (!rh || !rr)
    exit(3);
  double t0 = now();
  for (size_t i = 0; i < n; i++) {
    unsigned best = nr ? least(rh, nr, h[i]) : 64;
    if (best <= radius) {
      assign[i] = rr[first(rh, nr, h[i], best)];
    } else {
      assign[i] = (uint32_t)i;
      rh[nr] = h[i];
      rr[nr++] = (uint32_t)i;
    }
  }
  double t = now() - t0;
  free(rh);
  free(rr);
  return t;
}

static void bench_features(void)
{
  enum { W = 640, H = 480 };
  es_image img;
  es_error err;
  if (es_image_alloc(&img, W, H, 3, &err) != ES_OK)
    return;
  uint64_t s = 7;
  for (uint32_t y = 0; y < H; y++)
    for (uint32_t x = 0; x < W; x++) {
      uint8_t *p = img.data + (y * W + x) * 3;
      uint64_t r = rng_next(&s);
      p[0] = (uint8_t)((x + y) / 5 + (r & 15));
      p[1] = (uint8_t)(x * y / 1200 + (r >> 8 & 15));
      p[2] = (uint8_t)(200 - y / 3 + (r >> 16 & 15));
    }
  /* The baseline: libjpeg-turbo decoding the same picture as a quality-90 JPEG. */
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr jerr;
  unsigned char *jpg = NULL;
  unsigned long jlen = 0;
  c.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&c);
  jpeg_mem_dest(&c, &jpg, &jlen);
  c.image_width = W;
  c.image_height = H;
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 90, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < H) {
    JSAMPROW row = img.data + (size_t)c.next_scanline * W * 3;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);

  uint8_t *out = malloc((size_t)W * H * 3);
  const int reps = 200;
  double t0 = now();
  for (int k = 0; k < reps; k++) {
    struct jpeg_decompress_struct d;
    d.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, jpg, jlen);
    jpeg_read_header(&d, TRUE);
    jpeg_start_decompress(&d);
    while (d.output_scanline < d.output_height) {
      JSAMPROW row = out + (size_t)d.output_scanline * W * 3;
      jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
  }
  double tdec = (now() - t0) / reps;
  uint64_t h = 0, acc = 0;
  es_stats st;
  es_image_features(&img, &h, &st, NULL, &err); /* warm-up */
  t0 = now();
  for (int k = 0; k < reps; k++) {
    es_image_features(&img, &h, &st, NULL, &err);
    acc ^= h;
  }
  double tfeat = (now() - t0) / reps;
  printf("features 640x480 RGB: %.3f ms/image (phash %016" PRIx64 ")\n", tfeat * 1e3, h);
  (void)acc;
  printf("baseline libjpeg-turbo decode of the same image (q90, %lu bytes): %.3f ms/image\n",
         jlen, tdec * 1e3);
  printf("ratio features/decode: %.3f (decode+features runs at %.0f%% of pure decode "
         "throughput)\n", tfeat / tdec, 100.0 * tdec / (tdec + tfeat));
  free(out);
  free(jpg);
  es_image_free(&img);
}

int main(int argc, char **argv)
{
  size_t total = 1000000, nbase = 100000;
  int threads = 2;
  unsigned radius = ES_DEFAULT_NEAR;
  const char *file = NULL, *fmnist = "/usr/share/datasets/fashion-mnist";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc)
      total = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "-r") && i + 1 < argc)
      radius = (unsigned)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--hashes") && i + 1 < argc)
      file = argv[++i];
    else if (!strcmp(argv[i], "--fmnist") && i + 1 < argc)
      fmnist = argv[++i];
    else if (!strcmp(argv[i], "-j") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--baseline") && i + 1 < argc)
      nbase = strtoull(argv[++i], NULL, 10);
    else {
      fprintf(stderr, "usage: bench_near [-n TOTAL] [-r RADIUS] [-j THREADS] [--hashes FILE] "
                      "[--fmnist DIR] [--baseline N]\n");
      return 2;
    }
  }
  if (total == 0 || radius > 32) {
    fprintf(stderr, "bench_near: bad -n or -r\n");
    return 2;
  }
  bench_features();

  hashes hs = {malloc(total * sizeof(uint64_t)), malloc(total * sizeof(es_near_sig)), 0, total};
  uint32_t *assign = malloc(total * sizeof *assign), *assign2 = malloc(total * sizeof *assign2);
  if (!hs.h || !hs.sig || !assign || !assign2)
    return 3;
  size_t nfile = file ? load_file(&hs, file) : 0;
  char path[4096];
  size_t nfm = 0;
  snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", fmnist);
  nfm += load_fmnist(&hs, path);
  snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", fmnist);
  nfm += load_fmnist(&hs, path);
  size_t nreal = hs.n;
  synth_bursts(&hs, 12345);
  printf("hashes: %zu (real: %zu from --hashes, %zu Fashion-MNIST images and variants; "
         "synthetic bursts: %zu)\n", hs.n, nfile, nfm, hs.n - nreal);

  uint64_t examined, reps_seen;
  size_t reps, memory;
  double t = join_index(hs.h, hs.n, radius, threads, assign, &examined, &reps_seen, &reps,
                        &memory);
  printf("self-join at radius %u (multi-index, %d thread%s): %.3f s, %zu representatives, "
         "%.1f candidates examined per query, index %.1f bytes per item (%.1f MB)\n",
         radius, threads, threads == 1 ? "" : "s", t, reps, (double)examined / hs.n,
         (double)memory / reps, memory / 1e6);

  if (nbase > hs.n)
    nbase = hs.n;
  uint64_t ex2, seen2;
  size_t reps2, mem2;
  double ti = join_index(hs.h, nbase, radius, threads, assign, &ex2, &seen2, &reps2, &mem2);
  double tl = join_linear(hs.h, nbase, radius, assign2);
  if (memcmp(assign, assign2, nbase * sizeof *assign)) {
    fprintf(stderr, "bench_near: index and linear scan disagree\n");
    return 3;
  }
  double per = tl / (double)(seen2 ? seen2 : 1);
  double tl_full = per * (double)reps_seen;
  printf("baseline linear scan over representatives: %.3f s on the first %zu hashes "
         "(index: %.3f s, same assignments); extrapolated to %zu hashes (%.3g distances): "
         "%.1f s\n", tl, nbase, ti, hs.n, (double)reps_seen, tl_full);
  printf("ratio linear-scan (1 thread)/index (%d thread%s): %.1fx; against a linear scan "
         "split perfectly over %d threads: %.1fx\n", threads, threads == 1 ? "" : "s",
         tl_full / t, threads, tl_full / threads / t);

  /* the two-stage relation, against the phash-only join */
  es_near_rel rel = {ES_DEFAULT_NEAR, ES_DEFAULT_NEAR_SCORE, ES_DEFAULT_NEAR_SCORE_SMALL};
  es_near_counts counts = {0};
  es_error err;
  size_t vreps = 0;
  double t0 = now();
  if (es_near_selfjoin_verified(hs.h, hs.sig, hs.n, &rel, threads, assign, &vreps, &counts, &err)) {
    fprintf(stderr, "bench_near: %s\n", err.msg);
    return 3;
  }
  double tv = now() - t0;
  t0 = now();
  size_t preps = 0;
  if (es_near_selfjoin(hs.h, hs.n, ES_DEFAULT_NEAR, threads, assign2, &preps, NULL, &err)) {
    fprintf(stderr, "bench_near: %s\n", err.msg);
    return 3;
  }
  double tp = now() - t0;
  printf("two-stage self-join (radius %u, scores %u/%u, %d thread%s): %.3f s, %zu "
         "representatives, %.2f candidate pairs verified per item, %.1f%% of them accepted\n",
         rel.radius, rel.score_large, rel.score_small, threads, threads == 1 ? "" : "s", tv,
         vreps, (double)counts.candidates / hs.n,
         counts.candidates ? 100.0 * counts.verified / counts.candidates : 0.0);
  printf("  pairs needing the alignment search: %.2f per item\n",
         (double)counts.searched / hs.n);
  /* each source alone, to show where the candidates come from */
  const char *src[3] = {"photos (--hashes)", "Fashion-MNIST", "synthetic bursts"};
  size_t lo[3] = {0, nfile, nfile + nfm}, hi[3] = {nfile, nfile + nfm, hs.n};
  for (int g = 0; g < 3; g++) {
    if (hi[g] == lo[g])
      continue;
    es_near_counts c = {0};
    size_t r = 0, m = hi[g] - lo[g];
    double t1 = now();
    if (es_near_selfjoin_verified(hs.h + lo[g], hs.sig + lo[g], m, &rel, threads, assign, &r,
                                  &c, &err)) {
      fprintf(stderr, "bench_near: %s\n", err.msg);
      return 3;
    }
    printf("  %s alone: %zu items, %.3f s, %zu representatives, %.2f candidate pairs per item "
           "(%.2f searched), %.1f%% accepted\n", src[g], m, now() - t1, r,
           (double)c.candidates / m, (double)c.searched / m,
           c.candidates ? 100.0 * c.verified / c.candidates : 0.0);
  }
  printf("baseline phash-only self-join at radius %u: %.3f s (%zu representatives); "
         "ratio two-stage / phash-only: %.2f\n", rel.radius, tp, preps, tv / tp);
  printf("signatures: %zu bytes per item in memory, %d in signatures.bin\n", sizeof *hs.sig,
         16 + 2 + ES_SIG_PIXELS);
  free(hs.sig);
  free(hs.h);
  free(assign);
  free(assign2);
  return 0;
}
