/* Deriving near-duplicate clusters in canonical order (see clusters.h). */
#include "formats/clusters.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/near_index.h"

typedef struct order_key {
  size_t seq;
  size_t item;
  const char *id;
} order_key;

static int cmp_order(const void *a, const void *b)
{
  const order_key *x = a, *y = b;
  if (x->seq != y->seq)
    return x->seq < y->seq ? -1 : 1;
  return strcmp(x->id, y->id);
}

static const char *derived_from(const es_item *it)
{
  return json_string_value(json_object_get(it->extra, "derived_from"));
}

enum { DERIVED = 1, KEEP_REP = 2, KEEP_MEMBER = 4 };

/* Sorts the items `sel` (n of them) into canonical order. */
static void canonical(const es_manifest *m, const es_strmap *batch_seq, const size_t *sel,
                      size_t n, order_key *order)
{
  for (size_t k = 0; k < n; k++) {
    const es_item *it = &m->items[sel[k]];
    size_t seq = SIZE_MAX;
    if (it->n_seen)
      es_strmap_get(batch_seq, it->seen[0].batch, &seq);
    order[k] = (order_key){seq, sel[k], it->id};
  }
  qsort(order, n, sizeof *order, cmp_order);
}

int es_clusters_derive(es_manifest *m, const es_near_rel *rel, const es_sigs *sigs,
                       const es_strmap *batch_seq, int incremental, int threads,
                       size_t *n_clusters, es_error *err)
{
  int rc = ES_OK;
  uint8_t *flag = NULL;
  size_t *sel = NULL;
  order_key *order = NULL;
  const es_near_sig **sig = NULL;
  uint64_t *hash = NULL;
  uint32_t *item = NULL, *assign = NULL;
  size_t reps = 0, n = 0, n_fixed = 0;
  es_strmap rep_ids = {0};
  static const es_near_sig none; /* side 0: related to nothing */

  if (m->n > UINT32_MAX - 1)
    return es_error_set(err, ES_ELIMIT, "%zu items: more than the index supports", m->n);
  /* with the second stage only: a version 1 dataset is always clustered whole */
  incremental = incremental && sigs;
  size_t cap = m->n ? m->n : 1;
  flag = calloc(cap, 1);
  sel = malloc(cap * sizeof *sel);
  order = malloc(cap * sizeof *order);
  if (!flag || !sel || !order) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory deriving clusters");
    goto cleanup;
  }
  for (size_t i = 0; i < m->n; i++)
    flag[i] = derived_from(&m->items[i]) ? DERIVED : 0;
  /* An incremental run keeps every cluster whose representative represents itself: the
   * representatives are indexed as they are, their members take no part, and only the other
   * items (a new batch's) are placed, after them. */
  if (incremental) {
    for (size_t i = 0; i < m->n && !rc; i++) {
      const es_item *it = &m->items[i];
      if (!(flag[i] & DERIVED) && !strcmp(it->cluster, it->id)) {
        flag[i] |= KEEP_REP;
        rc = es_strmap_put(&rep_ids, it->id, i, err);
      }
    }
    for (size_t i = 0; i < m->n && !rc; i++) {
      const es_item *it = &m->items[i];
      if (!(flag[i] & (DERIVED | KEEP_REP)) && it->cluster[0] &&
          es_strmap_get(&rep_ids, it->cluster, NULL))
        flag[i] |= KEEP_MEMBER;
    }
    if (rc)
      goto cleanup;
  }
  /* the kept representatives, then the items to place, each in canonical order; a variant
   * belongs to its source's cluster, set below */
  for (int pass = 0; pass < 2; pass++) {
    size_t ns = 0;
    for (size_t i = 0; i < m->n; i++)
      if (pass == 0 ? (flag[i] & KEEP_REP) != 0 : !flag[i])
        sel[ns++] = i;
    canonical(m, batch_seq, sel, ns, order + n);
    n += ns;
    if (pass == 0)
      n_fixed = ns;
  }
  hash = malloc((n ? n : 1) * sizeof *hash);
  item = malloc((n ? n : 1) * sizeof *item);
  assign = malloc((n ? n : 1) * sizeof *assign);
  sig = sigs ? malloc((n ? n : 1) * sizeof *sig) : NULL;
  if (!hash || !item || !assign || (sigs && !sig)) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory deriving clusters");
    goto cleanup;
  }
  for (size_t k = 0; k < n; k++) {
    const es_item *it = &m->items[order[k].item];
    hash[k] = it->phash;
    item[k] = (uint32_t)order[k].item;
    if (k < n_fixed)
      assign[k] = (uint32_t)k;
    if (sig) {
      const es_near_sig *g = es_sigs_find(sigs, it->id);
      sig[k] = g ? g : &none;
    }
  }
  rc = sig ? es_near_extend_verified(hash, sig, n, n_fixed, rel, threads, assign, &reps, NULL,
                                     err)
           : es_near_selfjoin(hash, n, rel->radius, threads, assign, &reps, NULL, err);
  if (rc)
    goto cleanup;
  for (size_t k = n_fixed; k < n; k++)
    memcpy(m->items[item[k]].cluster, m->items[item[assign[k]]].id,
           sizeof m->items[item[k]].cluster);
  *n_clusters = reps;
  /* Augmented variants (augment/) join their source's cluster whatever their pixels became,
   * so that a rotated variant can never seed a cluster of its own. */
  for (size_t i = 0; i < m->n; i++) {
    if (!(flag[i] & DERIVED))
      continue;
    es_item *it = &m->items[i];
    const es_item *from = es_manifest_find(m, derived_from(it));
    for (int depth = 0; from && derived_from(from) && depth < 8; depth++)
      from = es_manifest_find(m, derived_from(from));
    memcpy(it->cluster, from && from->cluster[0] ? from->cluster : it->id, sizeof it->cluster);
  }

cleanup:
  es_strmap_free(&rep_ids);
  free(flag);
  free(sel);
  free(order);
  free(sig);
  free(hash);
  free(item);
  free(assign);
  return rc;
}

int es_clusters_update(const es_store *st, es_manifest *m, es_sigs *sigs,
                       const es_strmap *batch_seq, int incremental, int threads,
                       void (*warn)(void *ctx, const char *id, const char *why), void *ctx,
                       size_t *n_clusters, size_t *computed, es_error *err)
{
  es_near_rel rel;
  int two = es_settings_relation(&st->settings, &rel);
  *computed = 0;
  int rc = two ? es_sigs_complete(st, sigs, m, threads, warn, ctx, computed, NULL, err)
               : es_sigs_sort(sigs, err);
  if (!rc)
    rc = es_clusters_derive(m, &rel, two ? sigs : NULL, batch_seq, incremental, threads,
                            n_clusters, err);
  return rc;
}
