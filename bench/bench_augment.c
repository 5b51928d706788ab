/* bench_augment: per-operation time of augment's pixel operations on VGA JPEGs (single
 * thread), and the throughput of making whole variants (draw, apply, encode) on 1 and 2
 * threads. bench/run-augment runs bench/augment_opencv.py (OpenCV doing the same operations on
 * the same images in the same run) and prints the ratios.
 *
 * usage: bench_augment DIR [N] [ROUNDS]   (N images from DIR, default 16; best of ROUNDS, 3)
 * Output: per operation "op NAME MS_PER_IMAGE" (wall time) and "cpu NAME MS_PER_IMAGE"
 * (process CPU time), then "variants THREADS PER_SECOND", "variant-cpu THREADS MS_PER_VARIANT",
 * "scaling 1->2 RATIO" (wall) and "cpu-scaling 1->2 RATIO" (see below). Each is the best of
 * ROUNDS. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "augment/augment.h"
#include "formats/decode.h"

static double clock_s(clockid_t id)
{
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double now_s(void)
{
  return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of the whole process (all threads): on a shared machine it leaves out the time
 * other jobs hold the core, which wall time does not. */
static double cpu_s(void)
{
  return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint8_t *read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return b;
}

enum { B_HFLIP, B_VFLIP, B_BRIGHT, B_CONTRAST, B_ROTATE, B_BLUR, B_SCALE, B_TRANSLATE, B_CROP,
       B_GAMMA, B_SAT, B_NOISE, B_JPEG, B_PNG, B_COUNT };
static const char *const names[B_COUNT] = {"hflip", "vflip", "bright", "contrast", "rotate",
                                           "blur", "scale", "translate", "crop", "gamma", "sat",
                                           "noise", "jpeg", "png"};

/* The parameters here are the ones augment_opencv.py uses. */
static int run_op(int op, const es_image *img, es_error *err)
{
  es_image out = {0};
  uint8_t *bytes = NULL;
  size_t len = 0;
  int rc;
  uint32_t w = img->width, h = img->height;
  switch (op) {
  case B_HFLIP: rc = es_aug_hflip(img, &out, err); break;
  case B_VFLIP: rc = es_aug_vflip(img, &out, err); break;
  case B_BRIGHT: rc = es_aug_brightness(img, 30, &out, err); break;
  case B_CONTRAST: rc = es_aug_contrast(img, 12000, &out, err); break;
  case B_ROTATE: rc = es_aug_affine(img, 1250, 10000, &out, err); break;
  case B_BLUR: rc = es_aug_blur(img, 150, 5, &out, err); break;
  case B_SCALE: rc = es_aug_affine(img, 0, 11000, &out, err); break;
  case B_TRANSLATE: rc = es_aug_translate(img, 40, -30, &out, err); break;
  case B_CROP: rc = es_aug_crop_resize(img, w / 8, h / 8, w * 3 / 4, h * 3 / 4, &out, err); break;
  case B_GAMMA: rc = es_aug_gamma(img, 8000, &out, err); break;
  case B_SAT: rc = es_aug_saturation(img, 13000, &out, err); break;
  case B_NOISE: rc = es_aug_noise(img, 800, 12345, &out, err); break;
  case B_JPEG: rc = es_jpeg_encode(img, 75, &bytes, &len, err); break;
  default: rc = es_png_encode(img, &bytes, &len, err); break;
  }
  es_image_free(&out);
  free(bytes);
  return rc;
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: bench_augment DIR [N] [ROUNDS]\n");
    return 2;
  }
  size_t want = argc > 2 ? (size_t)atoi(argv[2]) : 16;
  int rounds = argc > 3 ? atoi(argv[3]) : 3;
  DIR *d = opendir(argv[1]);
  if (!d) {
    perror(argv[1]);
    return 3;
  }
  char **files = NULL;
  size_t nf = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l > 4 && !strcmp(e->d_name + l - 4, ".jpg")) {
      files = realloc(files, (nf + 1) * sizeof *files);
      files[nf++] = strdup(e->d_name);
    }
  }
  closedir(d);
  qsort(files, nf, sizeof *files, cmp_str);
  if (nf > want)
    nf = want;
  es_image *imgs = calloc(nf ? nf : 1, sizeof *imgs);
  es_error err = {0};
  for (size_t i = 0; i < nf; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[1], files[i]);
    size_t len;
    uint8_t *b = read_file(path, &len);
    if (!b || es_image_decode(b, len, NULL, &imgs[i], NULL, &err)) {
      fprintf(stderr, "cannot decode %s: %s\n", path, err.msg);
      return 3;
    }
    free(b);
  }
  printf("images %zu %ux%u\n", nf, nf ? imgs[0].width : 0, nf ? imgs[0].height : 0);

  for (int op = 0; op < B_COUNT; op++) {
    double best = 1e30, best_cpu = 1e30;
    for (int r = 0; r < rounds; r++) {
      double t0 = now_s(), c0 = cpu_s();
      for (size_t i = 0; i < nf; i++)
        if (run_op(op, &imgs[i], &err)) {
          fprintf(stderr, "%s: %s\n", names[op], err.msg);
          return 3;
        }
      double t = now_s() - t0, c = cpu_s() - c0;
      if (t < best)
        best = t;
      if (c < best_cpu)
        best_cpu = c;
    }
    printf("op %s %.4f\n", names[op], best * 1e3 / (double)nf);
    printf("cpu %s %.4f\n", names[op], best_cpu * 1e3 / (double)nf);
  }

  /* Whole variants on 1 and 2 threads: draw from a typical spec, apply, encode. */
  es_aug_spec spec;
  if (es_aug_spec_parse("hflip@0.5,rotate:15,crop:0.6@0.5,bright:0.2,contrast:0.2,blur:0.5-1.5@0.3,"
                        "jpeg:70-95", &spec, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 3;
  }
  const int K = 4;
  long long pairs = (long long)nf * K;
  double rate[3] = {0, 0, 0}, cpu_per[3] = {0, 0, 0};
  for (int threads = 1; threads <= 2; threads++) {
    double best = 1e30, best_cpu = 1e30;
    for (int r = 0; r < rounds; r++) {
      double t0 = now_s(), c0 = cpu_s();
      volatile int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
      for (long long p = 0; p < pairs; p++) {
        const es_image *img = &imgs[p / K];
        es_aug_ops ops;
        char id[40];
        snprintf(id, sizeof id, "%032lld", p / K);
        es_aug_draw(&spec, es_aug_variant_key(1, id, (uint32_t)(p % K)), img->width,
                    img->height, &ops);
        uint8_t *bytes = NULL;
        size_t len = 0;
        const char *fmt;
        es_error e2 = {0};
        if (ops.n && es_aug_make(img, &ops, &bytes, &len, &fmt, NULL, &e2))
          failed = 1;
        free(bytes);
      }
      double t = now_s() - t0, c = cpu_s() - c0;
      if (failed)
        return 3;
      if (t < best)
        best = t;
      if (c < best_cpu)
        best_cpu = c;
    }
    rate[threads] = (double)pairs / best;
    cpu_per[threads] = best_cpu / (double)pairs;
    printf("variants %d %.2f\n", threads, rate[threads]);
    printf("variant-cpu %d %.3f\n", threads, cpu_per[threads] * 1e3);
  }
  /* Wall-time scaling needs two idle cores. The CPU-time figure is the scaling two free cores
   * would give if the only loss is the work the threads add to each other (contention in the
   * allocator, caches, memory): 2 x CPU time per variant on one thread / on two. */
  printf("scaling 1->2 %.3f\n", rate[2] / rate[1]);
  printf("cpu-scaling 1->2 %.3f\n", 2 * cpu_per[1] / cpu_per[2]);
  for (size_t i = 0; i < nf; i++) {
    es_image_free(&imgs[i]);
    free(files[i]);
  }
  free(files);
  free(imgs);
  return 0;
}
