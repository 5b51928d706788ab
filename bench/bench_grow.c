/* bench_grow: what adding a batch of captures costs as the dataset grows (bench/run-grow).
 *
 *   bench_grow make DIR N     writes a synthetic dataset of N items (batch b0): edgeset.json,
 *                             manifest.jsonl, signatures.bin, index.bin, ledger. Phashes come
 *                             in bursts of 1 to 8 near duplicates with matching 32x32
 *                             signatures (as bench_near's); each burst is one cluster. No
 *                             objects: collect never reads the objects of items it already has
 *                             signatures for. bench/run-grow then times a real collect of new
 *                             captures into it.
 *   bench_grow cluster N...   clustering 1,000 new items against datasets of N items
 *                             (es_clusters_derive, incremental) against the named baseline,
 *                             clustering the whole dataset again (what every collect did before),
 *                             checking both give the same clusters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "core/strmap.h"
#include "formats/clusters.h"
#include "formats/dataset.h"
#include "formats/signatures.h"

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t rng(uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void smooth(es_near_sig *g, uint64_t *s)
{
  int grid[5][5];
  for (int y = 0; y < 5; y++)
    for (int x = 0; x < 5; x++)
      grid[y][x] = (int)(rng(s) % 256);
  for (int y = 0; y < ES_SIG_SIDE; y++)
    for (int x = 0; x < ES_SIG_SIDE; x++) {
      int gy = y / 8, gx = x / 8, fy = y % 8, fx = x % 8;
      g->px[y * ES_SIG_SIDE + x] =
          (uint8_t)(((8 - fy) * ((8 - fx) * grid[gy][gx] + fx * grid[gy][gx + 1]) +
                     fy * ((8 - fx) * grid[gy + 1][gx] + fx * grid[gy + 1][gx + 1])) / 64);
    }
  g->side = 480;
}

static int die(const es_error *err)
{
  fprintf(stderr, "bench_grow: %s\n", err->msg);
  return 1;
}

/* n items in bursts; items from first_new on are in batch b1 and have no cluster; the others'
 * clusters are their bursts (the member with the smallest id represents it) when `clustered`. */
static int make(es_manifest *m, es_sigs *sigs, size_t n, size_t first_new, int clustered,
                es_error *err)
{
  uint64_t s = 42;
  size_t i = 0;
  memset(m, 0, sizeof *m);
  memset(sigs, 0, sizeof *sigs);
  while (i < n) {
    uint64_t base = rng(&s) & ~(uint64_t)1;
    es_near_sig g;
    smooth(&g, &s);
    unsigned burst = 1 + (unsigned)(rng(&s) % 8);
    size_t start = m->n;
    for (unsigned k = 0; k < burst && i < n; k++, i++) {
      es_item it;
      memset(&it, 0, sizeof it);
      char key[32];
      snprintf(key, sizeof key, "item%zu", i);
      es_hash_hex(key, strlen(key), it.id);
      strcpy(it.format, "jpeg");
      it.width = 640;
      it.height = 480;
      it.channels = 3;
      it.bytes = 50000 + i % 1000;
      it.phash = base;
      for (unsigned f = (unsigned)(rng(&s) % 5); f > 0; f--)
        it.phash ^= (uint64_t)2 << (rng(&s) % 63);
      it.stats = (es_stats){100.0 + (double)(i % 50), 40.5, 1234.5, 0.25, 0.001, 0.002};
      char path[64];
      snprintf(path, sizeof path, "cam%02zu/img_%08zu.jpg", i % 37, i);
      es_near_sig v = g;
      for (int p = 0; p < ES_SIG_PIXELS; p += 7)
        v.px[p] = (uint8_t)(v.px[p] + (rng(&s) % 5) - 2);
      it.extra = json_pack("{s:s}", "pixels", it.id);
      int rc = es_item_add_seen(&it, path, i < first_new ? "b0" : "b1", NULL,
                                "2026-12-01T10:00:00Z", err);
      if (!rc)
        rc = es_sigs_put(sigs, it.id, &v, err);
      if (!rc)
        rc = es_manifest_add(m, &it, err);
      if (rc)
        return rc;
    }
    if (clustered && i <= first_new) {
      size_t rep = start;
      for (size_t k = start; k < m->n; k++)
        if (strcmp(m->items[k].id, m->items[rep].id) < 0)
          rep = k;
      for (size_t k = start; k < m->n; k++)
        memcpy(m->items[k].cluster, m->items[rep].id, sizeof m->items[k].cluster);
    }
  }
  es_manifest_sort(m);
  return es_sigs_sort(sigs, err);
}

static int make_dataset(const char *dir, size_t n)
{
  es_error err = {0};
  es_store st;
  es_manifest m;
  es_sigs sigs;
  int rc = es_store_open(&st, dir, 1, NULL, &err);
  if (!rc)
    rc = es_store_lock(&st, 1, &err);
  if (!rc)
    rc = make(&m, &sigs, n, n, 1, &err);
  es_dataset *tx = rc ? NULL : es_dataset_begin(&st, 2, &err);
  if (!rc && !tx)
    rc = ES_ENOMEM;
  if (!rc) {
    es_dataset_set_manifest(tx, &m, NULL);
    es_dataset_set_signatures(tx, &sigs);
    rc = es_dataset_new_batch(tx, "b0", 0, &err);
  }
  if (!rc)
    rc = es_dataset_commit(tx, &err);
  es_dataset_abort(tx);
  es_store_close(&st);
  return rc ? die(&err) : 0;
}

static int compare_clustering(size_t n)
{
  const size_t batch = 1000;
  es_near_rel rel = {ES_DEFAULT_NEAR, ES_DEFAULT_NEAR_SCORE, ES_DEFAULT_NEAR_SCORE_SMALL};
  es_error err = {0};
  es_manifest m;
  es_sigs sigs;
  es_strmap seq = {0};
  size_t clusters = 0;
  if (make(&m, &sigs, n + batch, n, 0, &err) || es_strmap_put(&seq, "b0", 0, &err) ||
      es_strmap_put(&seq, "b1", 1, &err))
    return die(&err);
  /* the baseline: everything clustered again (the old items come first in canonical order, so
   * their clusters are what earlier runs left) */
  double t0 = now();
  if (es_clusters_derive(&m, &rel, &sigs, &seq, 0, 2, &clusters, &err))
    return die(&err);
  double t_full = now() - t0;
  char(*whole)[ES_ID_HEX + 1] = malloc(m.n * sizeof *whole);
  for (size_t i = 0; i < m.n; i++) {
    memcpy(whole[i], m.items[i].cluster, sizeof whole[i]);
    if (!strcmp(m.items[i].seen[0].batch, "b1"))
      m.items[i].cluster[0] = '\0';
  }
  t0 = now();
  if (es_clusters_derive(&m, &rel, &sigs, &seq, 1, 2, &clusters, &err))
    return die(&err);
  double t_inc = now() - t0;
  size_t differ = 0;
  for (size_t i = 0; i < m.n; i++)
    differ += strcmp(whole[i], m.items[i].cluster) != 0;
  printf("%9zu %10.4f s %10.3f s %8.0fx   %s\n", n, t_inc, t_full, t_full / t_inc,
         differ ? "CLUSTERS DIFFER" : "same clusters");
  free(whole);
  es_manifest_free(&m);
  es_sigs_free(&sigs);
  es_strmap_free(&seq);
  return differ != 0;
}

int main(int argc, char **argv)
{
  if (argc == 4 && !strcmp(argv[1], "make"))
    return make_dataset(argv[2], strtoull(argv[3], NULL, 10));
  if (argc >= 3 && !strcmp(argv[1], "cluster")) {
    printf("clustering 1,000 new items into N (2 threads): against the existing clusters, and "
           "the whole dataset again (baseline)\n%9s %12s %12s %9s\n", "N", "new batch",
           "everything", "ratio");
    int bad = 0;
    for (int a = 2; a < argc; a++)
      bad |= compare_clustering(strtoull(argv[a], NULL, 10));
    return bad;
  }
  fprintf(stderr, "usage: bench_grow make DIR N | bench_grow cluster N...\n");
  return 2;
}
