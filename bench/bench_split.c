/* bench_split: split + verify of a 1,000,000-item dataset from the binary index, against the
 * named baseline "scikit-learn StratifiedGroupKFold" (Debian's python3-sklearn, run by
 * bench/split_sklearn.py with /usr/bin/python3 on the same labels, given the scenes as groups)
 * measured in the same run, with the achieved per-class ratio error of both. The time to parse
 * the same dataset's JSON manifest is reported on its own line (it is what the index saves).
 *
 * Data: synthetic bursts — a random 64-bit phash per scene and 1..5 near copies (0..4 flipped
 * bits) in one cluster; one scene in five continues in a second cluster of 1..3 whose phash is
 * 7 bits away (near pairs across clusters). 10 classes with shares proportional to 1/(k+1), 1%
 * of clusters with a second label (label noise), 40 devices; ids random.
 *
 * usage: bench_split [-n ITEMS] [-j THREADS] [--ratios R] [--no-baseline] [--no-json-parse] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/hash.h"
#include "formats/index.h"
#include "formats/manifest.h"
#include "split/split.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *s)
{
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void die(const char *what, const es_error *err)
{
  fprintf(stderr, "bench_split: %s: %s\n", what, err ? err->msg : "failed");
  exit(3);
}

int main(int argc, char **argv)
{
  size_t N = 1000000;
  int jobs = 2, baseline = 1, parse_json = 1;
  const char *ratios = "80:10:10";
  for (int a = 1; a < argc; a++) {
    if (!strcmp(argv[a], "-n") && a + 1 < argc)
      N = strtoull(argv[++a], NULL, 10);
    else if (!strcmp(argv[a], "-j") && a + 1 < argc)
      jobs = atoi(argv[++a]);
    else if (!strcmp(argv[a], "--ratios") && a + 1 < argc)
      ratios = argv[++a];
    else if (!strcmp(argv[a], "--no-baseline"))
      baseline = 0;
    else if (!strcmp(argv[a], "--no-json-parse")) /* for profiling the split alone */
      parse_json = 0;
    else {
      fprintf(stderr, "usage: bench_split [-n ITEMS] [-j THREADS] [--ratios R] [--no-baseline] "
                      "[--no-json-parse]\n");
      return 2;
    }
  }
  es_error err = {0};
  uint64_t seed = 42;
  static const char *const classes[10] = {"person", "car", "bicycle", "dog", "cat",
                                          "bird", "truck", "fox", "deer", "snow leopard"};
  double cw[10], cwsum = 0;
  for (int k = 0; k < 10; k++)
    cwsum += cw[k] = 1.0 / (k + 1);

  /* 1. a manifest: scenes of one or two clusters (the second a burst continued after the
   * clusterer split it: its base 7 bits from the first's, so near pairs cross clusters) */
  es_manifest m = {0};
  size_t made = 0, nclusters = 0, nscenes = 0;
  int64_t t = 1717200000; /* 2024-06-01 */
  es_strmap scene_of = {0}; /* cluster representative id -> scene number */
  while (made < N) {
    uint64_t base = rng_next(&seed);
    double u = (double)(rng_next(&seed) >> 11) / 9007199254740992.0 * cwsum;
    int k = 0;
    while (k < 9 && u > cw[k])
      u -= cw[k++];
    unsigned dev = (unsigned)(rng_next(&seed) % 40);
    int parts = rng_next(&seed) % 5 == 0 ? 2 : 1;
    for (int part = 0; part < parts && made < N; part++) {
      size_t size = 1 + rng_next(&seed) % (part ? 3 : 5);
      if (size > N - made)
        size = N - made;
      uint64_t pbase = base;
      for (int f = 0; part && f < 7; f++)
        pbase ^= (uint64_t)1 << (rng_next(&seed) % 64);
      int noisy = rng_next(&seed) % 100 == 0;
      char rep[33] = "";
      for (size_t j = 0; j < size; j++) {
        es_item it;
        memset(&it, 0, sizeof it);
        snprintf(it.id, sizeof it.id, "%016" PRIx64 "%016" PRIx64, rng_next(&seed),
                 rng_next(&seed));
        if (!j)
          memcpy(rep, it.id, 33);
        memcpy(it.cluster, rep, 33);
        strcpy(it.format, "jpeg");
        it.width = 640;
        it.height = 480;
        it.channels = 3;
        it.bytes = 50000 + rng_next(&seed) % 10000;
        uint64_t h = pbase;
        unsigned flips = j ? (unsigned)(rng_next(&seed) % 5) : 0;
        for (unsigned f = 0; f < flips; f++)
          h ^= (uint64_t)1 << (rng_next(&seed) % 64);
        it.phash = h;
        it.stats = (es_stats){100, 40, 500, 0.3, 0, 0.001};
        char path[64], tm[32], devname[16];
        t += 1 + (int64_t)(rng_next(&seed) % 3);
        time_t tt = (time_t)t;
        struct tm g;
        gmtime_r(&tt, &g);
        strftime(tm, sizeof tm, "%Y-%m-%dT%H:%M:%SZ", &g);
        snprintf(devname, sizeof devname, "cam%02u", dev);
        snprintf(path, sizeof path, "up/%s/%zu.jpg", devname, made);
        if (es_item_add_seen(&it, path, "b1", devname, tm, &err))
          die("add_seen", &err);
        it.label = strdup(classes[noisy && j == size - 1 ? (k + 1) % 10 : k]);
        if (es_manifest_add(&m, &it, &err))
          die("add", &err);
        made++;
      }
      if (es_strmap_put(&scene_of, rep, nscenes, &err))
        die("scene map", &err);
      nclusters++;
    }
    nscenes++;
  }
  es_manifest_sort(&m);
  size_t jlen;
  char *json = es_manifest_serialize(&m, &jlen, &err);
  if (!json)
    die("serialize", &err);
  char hash[33];
  es_hash_hex(json, jlen, hash);
  printf("dataset: %zu items in %zu clusters of %zu scenes, manifest %.1f MB, 10 classes, "
         "ratios %s, %d threads\n",
         N, nclusters, nscenes, (double)jlen / 1e6, ratios, jobs);

  /* 2. what the index saves: parsing the JSON manifest */
  es_manifest m2 = {0};
  double t0 = now();
  if (parse_json) {
    if (es_manifest_parse((const uint8_t *)json, jlen, &m2, &err))
      die("parse", &err);
    double t_json = now() - t0;
    printf("manifest JSON parse: %.2f s (%.0f lines/s)\n", t_json, (double)N / t_json);
    es_manifest_free(&m2);
  }
  free(json);

  es_index ix0;
  if (es_index_from_manifest(&m, jlen, hash, &ix0, &err))
    die("index", &err);
  size_t blen;
  uint8_t *bin = es_index_serialize(&ix0, &blen, &err);
  if (!bin)
    die("index serialize", &err);
  es_index_free(&ix0);

  /* labels and groups for the baseline: class number and scene number per item (the baseline
   * is told which clusters belong together; edgeset finds it from the phashes) */
  char tmpl[] = "/tmp/bench_split_XXXXXX";
  int fd = mkstemp(tmpl);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f)
    die("temporary file", NULL);
  for (size_t i = 0; i < m.n; i++) {
    size_t sc = 0;
    es_strmap_get(&scene_of, m.items[i].cluster, &sc);
    int k = 0;
    while (strcmp(classes[k], m.items[i].label))
      k++;
    fprintf(f, "%d %zu\n", k, sc);
  }
  fclose(f);
  es_strmap_free(&scene_of);
  es_manifest_free(&m);

  /* 3. split + verify from the binary index */
  es_split_opts so;
  memset(&so, 0, sizeof so);
  if (es_split_ratios_parse(ratios, &so.ratios, &err))
    die("ratios", &err);
  so.seed = 1;
  so.near.rel.radius = 10; /* synthetic phashes, no signatures: the phash alone */
  so.max_ratio_error = 0.03; /* the command line's default */
  so.jobs = jobs;
  so.group_by.kind = ES_GROUP_CLUSTER;
  es_index ix;
  double c0 = cpu();
  t0 = now();
  if (es_index_parse(bin, blen, &ix, &err))
    die("index parse", &err);
  double t_load = now() - t0, c_load = cpu() - c0;
  c0 = cpu();
  t0 = now();
  json_t *sum = es_split_assign(&ix, &so, &err);
  if (!sum)
    die("assign", &err);
  double t_assign = now() - t0, c_assign = cpu() - c0;
  c0 = cpu();
  t0 = now();
  json_t *probs = es_split_verify(&ix, &so.near, jobs, &err);
  if (!probs)
    die("verify", &err);
  double t_verify = now() - t0, c_verify = cpu() - c0;
  double total = t_load + t_assign + t_verify;
  printf("index load: %.3f s wall, %.3f s CPU (%.1f MB)\n", t_load, c_load, (double)blen / 1e6);
  printf("split: %.3f s wall, %.3f s CPU (%lld assigned, %lld excluded, %lld moved for leaks "
         "in %lld rounds)\n",
         t_assign, c_assign,
         (long long)json_integer_value(json_object_get(sum, "assigned")),
         (long long)json_integer_value(json_object_get(sum, "excluded")),
         (long long)json_integer_value(json_object_get(sum, "moved_for_leaks")),
         (long long)json_integer_value(json_object_get(sum, "leak_rounds")));
  printf("verify: %.3f s wall, %.3f s CPU (%zu problems)\n", t_verify, c_verify,
         json_array_size(probs));
  printf("edgeset split + verify from the index: %.3f s wall, %.3f s CPU over %d threads\n",
         total, c_load + c_assign + c_verify, jobs);
  const json_t *ach = json_object_get(sum, "achieved");
  double mean = 0;
  for (size_t c = 0; c < json_array_size(ach); c++)
    mean += json_real_value(json_object_get(json_array_get(ach, c), "max_error"));
  mean /= (double)(json_array_size(ach) ? json_array_size(ach) : 1);
  printf("edgeset per-class ratio error: max %.6f, mean over classes %.6f\n",
         json_real_value(json_object_get(sum, "max_ratio_error")), mean);
  json_decref(sum);
  json_decref(probs);
  es_index_free(&ix);
  free(bin);

  if (baseline) {
    char cmd[1024];
    const char *src = getenv("EDGESET_SOURCE");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/bench/split_sklearn.py %s", src ? src : ".",
             tmpl);
    FILE *p = popen(cmd, "r");
    double bt = -1, bmax = -1, bmean = -1;
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
      fputs(line, stdout);
      sscanf(line, "sklearn time: %lf", &bt);
      sscanf(line, "sklearn per-class ratio error: max %lf, mean over classes %lf", &bmax, &bmean);
    }
    if (!p || pclose(p) != 0 || bt <= 0)
      fprintf(stderr, "bench_split: the baseline did not run (set EDGESET_SOURCE to the source "
                      "tree; needs python3-sklearn)\n");
    else
      printf("ratio edgeset/sklearn time: %.3f (edgeset %.2fx faster)\n", total / bt, bt / total);
  }
  unlink(tmpl);
  return 0;
}
