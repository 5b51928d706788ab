/* bench_fsck: edgeset-fsck on a dataset of N objects of SIZE bytes from a cold page cache,
 * against the named baseline "cat of the same objects to /dev/null" (find | xargs cat, cold
 * too) measured in the same run: bytes/s of both and their ratio (fsck reads and hashes every
 * object on -j threads). Then `fsck --quick` (sizes only, no reading), cold, in seconds.
 *
 * The dataset is written directly (random bytes; the manifest through the real serializer, one
 * item per object), not collected: what is measured is the check. The page cache is dropped
 * (root) before each timed run; elsewhere the figures are warm and say so.
 *
 * usage: bench_fsck -n N [--size BYTES] [--quick-n N2] --bin BUILD/bin --work DIR [-j J] */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/store.h"
#include "formats/index.h"
#include "formats/manifest.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t splitmix(uint64_t *s)
{
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void die(const char *what, const es_error *err)
{
  fprintf(stderr, "bench_fsck: %s: %s\n", what, err ? err->msg : "failed");
  exit(3);
}

static int drop_cache(void)
{
  sync();
  FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
  int ok = f && fputs("3\n", f) >= 0;
  if (f && fclose(f) != 0)
    ok = 0;
  return ok;
}

/* A dataset of n objects of size bytes at root; returns the bytes written. */
static uint64_t make_dataset(const char *root, size_t n, size_t size)
{
  es_error err = {0};
  es_store st;
  if (es_store_open(&st, root, 1, NULL, &err))
    die("create", &err);
  mkdirat(st.dirfd, "objects", 0777);
  for (int v = 0; v < 256; v++) {
    char d[16];
    snprintf(d, sizeof d, "objects/%02x", v);
    mkdirat(st.dirfd, d, 0777);
  }
  es_manifest m = {0};
  uint8_t *buf = malloc(size);
  uint64_t seed = 7, total = 0;
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k + 8 <= size; k += 8) {
      uint64_t r = splitmix(&seed);
      memcpy(buf + k, &r, 8);
    }
    es_item it;
    memset(&it, 0, sizeof it);
    es_hash_hex(buf, size, it.id);
    strcpy(it.format, "jpeg");
    it.width = it.height = 1;
    it.channels = 3;
    it.bytes = size;
    char rel[ES_OBJECT_REL_MAX];
    es_object_rel(it.id, it.format, rel);
    int fd = openat(st.dirfd, rel, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, buf, size) != (ssize_t)size || close(fd) != 0)
      die(rel, NULL);
    if (es_item_add_seen(&it, rel, "b1", "cam1", "2026-12-07T00:00:00Z", &err) ||
        es_manifest_add(&m, &it, &err))
      die("manifest", &err);
    total += size;
  }
  es_manifest_sort(&m);
  size_t len;
  char *text = es_manifest_serialize(&m, &len, &err);
  if (!text || es_store_replace(&st, "manifest.jsonl", text, len, &err))
    die("manifest", &err);
  free(text);
  free(buf);
  es_manifest_free(&m);
  es_store_close(&st);
  return total;
}

static double timed(const char *cmd, int cold, int *dropped)
{
  if (cold)
    *dropped &= drop_cache();
  double t0 = now();
  int rc = system(cmd);
  double t = now() - t0;
  if (rc != 0 && WEXITSTATUS(rc) != 0) {
    fprintf(stderr, "bench_fsck: '%s' failed (%d)\n", cmd, rc);
    exit(3);
  }
  return t;
}

int main(int argc, char **argv)
{
  static const struct option lo[] = {{"size", required_argument, NULL, 's'},
                                     {"quick-n", required_argument, NULL, 'Q'},
                                     {"bin", required_argument, NULL, 'b'},
                                     {"work", required_argument, NULL, 'w'},
                                     {NULL, 0, NULL, 0}};
  size_t n = 100000, size = 30000, quick_n = 0;
  const char *bin = NULL, *work = "/tmp";
  int jobs = 2, c;
  while ((c = getopt_long(argc, argv, "n:j:", lo, NULL)) != -1) {
    switch (c) {
    case 'n': n = strtoull(optarg, NULL, 10); break;
    case 'j': jobs = atoi(optarg); break;
    case 's': size = strtoull(optarg, NULL, 10); break;
    case 'Q': quick_n = strtoull(optarg, NULL, 10); break;
    case 'b': bin = optarg; break;
    case 'w': work = optarg; break;
    default:
      fprintf(stderr, "usage: bench_fsck -n N [--size B] [--quick-n N2] --bin DIR --work DIR\n");
      return 2;
    }
  }
  if (!bin) {
    fprintf(stderr, "bench_fsck: give --bin BUILD/bin\n");
    return 2;
  }
  char root[4096], cmd[8192];
  snprintf(root, sizeof root, "%s/fsck-bench", work);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd) != 0)
    return 3;
  double t0 = now();
  uint64_t total = make_dataset(root, n, size);
  printf("dataset: %zu objects of %zu bytes (%.2f GB) written in %.1f s\n", n, size,
         (double)total / 1e9, now() - t0);
  /* A VM's disk has the host's page cache behind it, which dropping the guest's cannot clear:
   * the first reader after the write pays more. So the baseline runs before and after fsck,
   * and the ratio is taken against the later one (the same host-cache state fsck saw). */
  int dropped = 1;
  char cat1[8192], catp[8192];
  snprintf(cat1, sizeof cat1,
           "cd '%s' && find objects -type f -print0 | xargs -0 cat > /dev/null", root);
  snprintf(catp, sizeof catp,
           "cd '%s' && find objects -type f -print0 | xargs -0 -P %d -n 1000 cat > /dev/null",
           root, jobs);
  double t_cat0 = timed(cat1, 1, &dropped);
  snprintf(cmd, sizeof cmd, "'%s/edgeset-fsck' -d '%s' -j %d -q", bin, root, jobs);
  double t_fsck = timed(cmd, 1, &dropped);
  double t_cat = timed(cat1, 1, &dropped), t_catp = timed(catp, 1, &dropped);
  snprintf(cmd, sizeof cmd, "'%s/edgeset-fsck' -d '%s' -j %d -q --quick", bin, root, jobs);
  double t_quick = timed(cmd, 1, &dropped);
  printf("%s page cache before each run\n", dropped ? "cold:" : "WARM (could not drop):");
  printf("baseline cat of the objects, first run: %.2f s, %.0f MB/s\n", t_cat0,
         (double)total / 1e6 / t_cat0);
  printf("baseline cat of the objects: %.2f s, %.0f MB/s; %d cats in parallel: %.2f s, "
         "%.0f MB/s\n",
         t_cat, (double)total / 1e6 / t_cat, jobs, t_catp, (double)total / 1e6 / t_catp);
  printf("edgeset-fsck -j %d (every object hashed): %.2f s, %.0f MB/s\n", jobs, t_fsck,
         (double)total / 1e6 / t_fsck);
  printf("ratio fsck / cat throughput: %.2f (against %d parallel cats: %.2f)\n", t_cat / t_fsck,
         jobs, t_catp / t_fsck);
  printf("edgeset-fsck --quick: %.2f s for %zu objects\n", t_quick, n);
  if (quick_n) {
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
      return 3;
    t0 = now();
    make_dataset(root, quick_n, 1024);
    printf("dataset: %zu objects of 1024 bytes written in %.1f s\n", quick_n, now() - t0);
    snprintf(cmd, sizeof cmd, "'%s/edgeset-fsck' -d '%s' -j %d -q --quick", bin, root, jobs);
    t_quick = timed(cmd, 1, &dropped);
    printf("edgeset-fsck --quick, %zu objects, %s: %.2f s (target < 10 s)\n", quick_n,
           dropped ? "cold" : "warm", t_quick);
  }
  if (getenv("BENCH_FSCK_KEEP")) /* for profiling: the dataset stays */
    return 0;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  return system(cmd) != 0 ? 3 : 0;
}
