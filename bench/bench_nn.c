/* bench_nn: int8 inference speed of every kernel variant against the reference kernels (plain
 * loops, same build, same binary, selected through es_interp_opts.isa) and against the peak
 * measured in the same run (es_nn_peak_gmacs: vpdpbusd zmm for avx512vnni, vpdpbusd ymm for
 * avxvnni, vpmaddwd for avx2), on person_detect (tests/data/tflite) and on synthetic models with
 * the standard architectures built with the project's TFLite writer (tests/shared/nn_arch.c:
 * MobileNetV2 1.0 at 224, ResNet-8 at 32x32x3, MobileNetV1 0.25 at 96x96x3). Checks that every
 * variant's outputs equal the reference's on 4 random inputs. One interpreter on one thread,
 * then one interpreter per core; with several threads it reports CPU time per inference too
 * (the machines are shared: wall time also counts what other jobs take).
 * Usage: bench_nn [SECONDS per measurement, default 1] [MODEL.tflite | ARCH]...
 *        bench_nn write ARCH FILE   (the synthetic model as a .tflite file, for eval --profile) */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/nn.h"
#include "nn_arch.h"

static double clock_s(clockid_t c)
{
  struct timespec ts;
  clock_gettime(c, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint8_t *slurp(const char *path, size_t *len)
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

/* deterministic input number k */
static void fill(es_tensor *t, unsigned k)
{
  uint32_t s = 2654435761u * (k + 1);
  for (size_t i = 0; i < t->bytes; i++) {
    s = s * 1103515245u + 12345u;
    ((uint8_t *)t->data)[i] = (uint8_t)(s >> 24);
  }
}

typedef struct rate {
  double per_s;     /* inferences per wall second, all threads */
  double cpu_per_1; /* CPU seconds per inference */
} rate;

/* One interpreter of variant isa (`inner` threads inside its inferences) running for about
 * `secs` once *go is set; inferences done, and the seconds it ran. */
static long run_one(const es_model *m, int isa, int inner, double secs, unsigned seed,
                    double *elapsed)
{
  es_interp *ip = NULL;
  es_error err = {0};
  es_interp_opts o = {.isa = isa, .threads = inner};
  long n = 0;
  *elapsed = 0;
  if (es_interp_new(m, &o, &ip, &err) != ES_OK)
    return 0;
  es_tensor t;
  es_interp_input(ip, 0, &t);
  fill(&t, seed);
  es_interp_invoke(ip, &err);
  const double t0 = clock_s(CLOCK_MONOTONIC);
  do {
    es_interp_invoke(ip, &err);
    n++;
  } while (clock_s(CLOCK_MONOTONIC) - t0 < secs);
  *elapsed = clock_s(CLOCK_MONOTONIC) - t0;
  es_interp_free(ip);
  return n;
}

/* Interpreters of variant isa on `threads` threads (each with `inner` threads inside its
 * inferences) for about `secs`. One thread runs outside any parallel region, as edgeset-eval
 * does: inside one (even a team of one) the kernels' own regions would be nested, and a nested
 * region starts a new team of threads every time. */
static rate measure(const es_model *m, int isa, int threads, int inner, double secs)
{
  long total = 0;
  double elapsed = 0;
  const double cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
  if (threads == 1) {
    total = run_one(m, isa, inner, secs, 0, &elapsed);
  } else {
#pragma omp parallel num_threads(threads) reduction(+ : total) reduction(max : elapsed)
    total = run_one(m, isa, inner, secs, (unsigned)omp_get_thread_num(), &elapsed);
  }
  const double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  rate r = {elapsed > 0 ? (double)total / elapsed : 0, total ? cpu / (double)total : 0};
  return r;
}

/* Outputs of 4 different inputs through variant isa equal the reference's? */
static int identical(const es_model *m, int isa)
{
  es_interp *a = NULL, *b = NULL;
  es_error err = {0};
  es_interp_opts oa = {.isa = ES_NN_ISA_REFERENCE}, ob = {.isa = isa};
  int same = 1;
  if (es_interp_new(m, &oa, &a, &err) || es_interp_new(m, &ob, &b, &err))
    same = 0;
  for (unsigned k = 0; same && k < 4; k++) {
    es_tensor ta, tb;
    es_interp_input(a, 0, &ta);
    es_interp_input(b, 0, &tb);
    fill(&ta, k + 100);
    fill(&tb, k + 100);
    es_interp_invoke(a, &err);
    es_interp_invoke(b, &err);
    for (size_t i = 0; i < es_model_output_count(m); i++) {
      es_interp_output(a, i, &ta);
      es_interp_output(b, i, &tb);
      same &= memcmp(ta.data, tb.data, ta.bytes) == 0;
    }
  }
  es_interp_free(a);
  es_interp_free(b);
  return same;
}

static es_model *load(const char *what, es_error *err)
{
  size_t len = 0;
  uint8_t *bytes = strstr(what, ".tflite") ? slurp(what, &len)
                                           : nn_arch_build(what, 42, &len, err);
  if (!bytes) {
    if (strstr(what, ".tflite"))
      es_error_set(err, ES_EIO, "cannot read '%s'", what);
    return NULL;
  }
  es_model *m = NULL;
  int rc = es_model_load(bytes, len, NULL, &m, err);
  free(bytes);
  return rc ? NULL : m;
}

static void bench(const char *what, double secs, const double *peak, int cores)
{
  es_error err = {0};
  es_model *m = load(what, &err);
  if (!m) {
    printf("%s: %s\n\n", what, err.msg);
    return;
  }
  es_model_info info;
  es_model_info_get(m, &info);
  const double gmac = (double)info.macs / 1e9;
  printf("%s: %.2f M MACs per inference, %zu operators\n", what, (double)info.macs / 1e6,
         info.n_ops);
  printf("  %-11s %10s %9s %9s %11s  %s\n", "variant", "1 thread/s", "GMAC/s", "of peak",
         "x reference", "outputs");
  const rate ref1 = measure(m, ES_NN_ISA_REFERENCE, 1, 1, secs);
  printf("  %-11s %10.1f %9.2f %9s %11s  baseline\n", "reference", ref1.per_s, ref1.per_s * gmac,
         "", "1.0");
  for (int isa = ES_NN_ISA_PORTABLE; isa < ES_NN_ISA_COUNT; isa++) {
    if (!es_nn_isa_supported(isa))
      continue;
    const rate v = measure(m, isa, 1, 1, secs);
    char share[16] = "";
    if (peak[isa] > 0)
      snprintf(share, sizeof share, "%.1f%%", 100 * v.per_s * gmac / peak[isa]);
    printf("  %-11s %10.1f %9.2f %9s %10.1fx  %s\n", es_nn_isa_name(isa), v.per_s,
           v.per_s * gmac, share, v.per_s / ref1.per_s,
           identical(m, isa) ? "bit-identical" : "DIFFER");
  }
  if (cores > 1) {
    printf("  %d threads (one interpreter each): wall inferences/s, and CPU ms per inference\n",
           cores);
    const rate refn = measure(m, ES_NN_ISA_REFERENCE, cores, 1, secs);
    printf("  %-11s %10.1f/s %8.3f ms CPU  baseline\n", "reference", refn.per_s,
           refn.cpu_per_1 * 1e3);
    for (int isa = ES_NN_ISA_PORTABLE; isa < ES_NN_ISA_COUNT; isa++) {
      if (!es_nn_isa_supported(isa))
        continue;
      const rate v = measure(m, isa, cores, 1, secs);
      char share[16] = "";
      if (peak[isa] > 0 && v.cpu_per_1 > 0)
        snprintf(share, sizeof share, "%.1f%%", 100 * gmac / v.cpu_per_1 / peak[isa]);
      printf("  %-11s %10.1f/s %8.3f ms CPU  %6.1fx reference  %s of peak per CPU-second\n",
             es_nn_isa_name(isa), v.per_s, v.cpu_per_1 * 1e3, v.per_s / refn.per_s, share);
    }
  }
  if (cores > 1) {
    /* one inference at a time with every core inside it: the latency of --raw-input, --profile
     * and one --image */
    const int best = es_nn_isa_best();
    const rate one = measure(m, best, 1, 1, secs), split = measure(m, best, 1, cores, secs);
    printf("  one inference on %d threads (%s): %.3f ms, against %.3f ms on one: %.2fx; %.3f "
           "ms CPU\n", cores, es_nn_isa_name(best), 1e3 / split.per_s, 1e3 / one.per_s,
           split.per_s / one.per_s, split.cpu_per_1 * 1e3);
  }
  printf("\n");
  es_model_free(m);
}

int main(int argc, char **argv)
{
  if (argc == 4 && !strcmp(argv[1], "write")) {
    es_error err = {0};
    size_t len = 0;
    uint8_t *bytes = nn_arch_build(argv[2], 42, &len, &err);
    FILE *f = bytes ? fopen(argv[3], "wb") : NULL;
    int ok = f && fwrite(bytes, 1, len, f) == len;
    if (f && fclose(f))
      ok = 0;
    free(bytes);
    if (!ok)
      fprintf(stderr, "bench_nn: cannot write '%s': %s\n", argv[3], err.msg[0] ? err.msg : "I/O");
    return ok ? 0 : 1;
  }
  double secs = argc > 1 ? atof(argv[1]) : 1.0;
  if (!(secs > 0))
    secs = 1.0;
  const int cores = omp_get_num_procs();
  double peak[ES_NN_ISA_COUNT] = {0};
  printf("measured int8 peak of one core (the best of 0.5 s of short slices):\n");
  for (int isa = ES_NN_ISA_AVX2; isa < ES_NN_ISA_COUNT; isa++) {
    const char *instr = NULL;
    peak[isa] = es_nn_peak_gmacs(isa, 0.5, &instr);
    if (peak[isa] > 0)
      printf("  %-11s %7.1f GMAC/s  (%s)\n", es_nn_isa_name(isa), peak[isa], instr);
  }
  printf("\n");
  if (argc > 2) {
    for (int a = 2; a < argc; a++)
      bench(argv[a], secs, peak, cores);
    return 0;
  }
  const char *src = getenv("EDGESET_SOURCE");
  char pd[4096];
  snprintf(pd, sizeof pd, "%s/tests/data/tflite/person_detect.tflite", src ? src : ".");
  bench(pd, secs, peak, cores);
  for (int a = 0; nn_arch_names[a]; a++)
    bench(nn_arch_names[a], secs, peak, cores);
  return 0;
}
