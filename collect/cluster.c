/* Deriving near-duplicate clusters in canonical order (see cluster_internal.h). */
#include "collect/cluster_internal.h"

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

int es__clusters_derive(es_manifest *m, const es_near_rel *rel, const es_near_sig *sigs,
                        const es_strmap *batch_seq, int threads, size_t *n_clusters,
                        es_error *err)
{
  int rc = ES_OK;
  order_key *order = NULL;
  es_near_sig *sig = NULL;
  uint64_t *hash = NULL;
  uint32_t *item = NULL, *assign = NULL;
  size_t reps = 0, n = 0;

  if (m->n > UINT32_MAX - 1)
    return es_error_set(err, ES_ELIMIT, "%zu items: more than the index supports", m->n);
  size_t cap = m->n ? m->n : 1;
  order = malloc(cap * sizeof *order);
  hash = malloc(cap * sizeof *hash);
  item = malloc(cap * sizeof *item);
  assign = malloc(cap * sizeof *assign);
  sig = sigs ? malloc(cap * sizeof *sig) : NULL;
  if (!order || !hash || !item || !assign || (sigs && !sig)) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory deriving clusters");
    goto cleanup;
  }
  for (size_t i = 0; i < m->n; i++) {
    size_t seq = SIZE_MAX;
    if (m->items[i].n_seen)
      es_strmap_get(batch_seq, m->items[i].seen[0].batch, &seq);
    order[i] = (order_key){seq, i, m->items[i].id};
  }
  qsort(order, m->n, sizeof *order, cmp_order);
  /* The items that can represent a cluster, in canonical order; a variant belongs to its
   * source's cluster, set below. */
  for (size_t k = 0; k < m->n; k++)
    if (!derived_from(&m->items[order[k].item])) {
      hash[n] = m->items[order[k].item].phash;
      if (sig)
        sig[n] = sigs[order[k].item];
      item[n++] = (uint32_t)order[k].item;
    }
  rc = sig ? es_near_selfjoin_verified(hash, sig, n, rel, threads, assign, &reps, NULL, err)
           : es_near_selfjoin(hash, n, rel->radius, threads, assign, &reps, NULL, err);
  if (rc)
    goto cleanup;
  for (size_t k = 0; k < n; k++)
    memcpy(m->items[item[k]].cluster, m->items[item[assign[k]]].id,
           sizeof m->items[item[k]].cluster);
  *n_clusters = reps;
  /* Augmented variants (augment/) join their source's cluster whatever their pixels became,
   * so that a rotated variant can never seed a cluster of its own. */
  for (size_t i = 0; i < m->n; i++) {
    es_item *it = &m->items[i];
    const char *src = derived_from(it);
    if (!src)
      continue;
    const es_item *from = es_manifest_find(m, src);
    for (int depth = 0; from && derived_from(from) && depth < 8; depth++)
      from = es_manifest_find(m, derived_from(from));
    memcpy(it->cluster, from && from->cluster[0] ? from->cluster : it->id, sizeof it->cluster);
  }

cleanup:
  free(order);
  free(sig);
  free(hash);
  free(item);
  free(assign);
  return rc;
}
