/* Leak checks on the index (split.h, es_split_verify): groups and clusters spanning splits,
 * train or val items within the near-duplicate radius of a held-out item, and augmented items
 * outside their source's split. The near check joins every held-out item with the train and
 * val items (near_join.c), in parallel; the pairs are sorted and reported in item order, so the
 * output does not depend on --jobs. */
#include <stdlib.h>
#include <string.h>

#include "split/split.h"
#include "split/split_internal.h"

#define NONE ES_INDEX_NONE

static json_t *id_json(const es_index *ix, size_t i)
{
  char id[33];
  es_index_id_hex(ix, i, id);
  return json_string(id);
}

/* Members of keys that span splits; key_of(i) gives an item's key in [0, nkeys) or NONE. */
static int spans(const es_index *ix, json_t *out, const char *kind, const char *keyname,
                 const uint32_t *key, size_t nkeys, int key_is_item, es_error *err)
{
  uint32_t *first = malloc((nkeys ? nkeys : 1) * sizeof *first);
  uint8_t *bad = calloc(nkeys ? nkeys : 1, 1);
  json_t **lists = NULL;
  if (!first || !bad) {
    free(first);
    free(bad);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  for (size_t k = 0; k < nkeys; k++)
    first[k] = NONE;
  size_t nbad = 0;
  for (size_t i = 0; i < ix->n; i++) {
    uint32_t k = key[i], s = ix->items[i].split;
    if (k == NONE || s == NONE)
      continue;
    if (first[k] == NONE)
      first[k] = s;
    else if (first[k] != s && !bad[k]) {
      bad[k] = 1;
      nbad++;
    }
  }
  if (nbad) {
    lists = calloc(nkeys, sizeof *lists);
    if (!lists) {
      free(first);
      free(bad);
      return es_error_set(err, ES_ENOMEM, "out of memory");
    }
    /* problems in the order of each key's first member */
    for (size_t i = 0; i < ix->n; i++) {
      uint32_t k = key[i], s = ix->items[i].split;
      if (k == NONE || s == NONE || !bad[k])
        continue;
      if (!lists[k]) {
        lists[k] = json_array();
        json_t *kj = key_is_item ? id_json(ix, k) : json_string(ix->strs[k]);
        json_array_append_new(out, json_pack("{s:s, s:o, s:O}", "kind", kind, keyname, kj,
                                             "items", lists[k]));
        json_decref(lists[k]); /* out holds it */
      }
      json_array_append_new(lists[k], json_pack("{s:o, s:s}", "id", id_json(ix, i), "split",
                                                ix->strs[s]));
    }
  }
  free(lists);
  free(first);
  free(bad);
  return ES_OK;
}

json_t *es_split_verify(const es_index *ix, const es_split_near *near, int jobs, es_error *err)
{
  size_t n = ix->n;
  json_t *out = json_array();
  uint32_t *key = calloc(n ? n : 1, sizeof *key);
  uint32_t *near_ref = NULL;
  uint8_t *near_d = NULL;
  if (!out || !key)
    goto nomem;

  for (size_t i = 0; i < n; i++)
    key[i] = ix->items[i].group;
  if (spans(ix, out, "group-spans-splits", "group", key, ix->n_strs, 0, err))
    goto fail;
  for (size_t i = 0; i < n; i++)
    key[i] = ix->items[i].cluster;
  if (spans(ix, out, "cluster-spans-splits", "cluster", key, n, 1, err))
    goto fail;

  /* near duplicates of held-out items in train or val: a join over the train/val items is
   * asked, for every held-out item, for all train/val items within the radius; each train/val
   * item keeps its nearest held-out item (ties to the smallest id) */
  near_ref = malloc((n ? n : 1) * sizeof *near_ref);
  near_d = malloc(n ? n : 1);
  uint8_t *is_held = calloc(ix->n_strs + 1, 1);
  uint32_t *q = malloc((n ? n : 1) * sizeof *q), *tv = malloc((n ? n : 1) * sizeof *tv);
  if (!near_ref || !near_d || !is_held || !q || !tv) {
    free(is_held);
    free(q);
    free(tv);
    goto nomem;
  }
  for (size_t s = 0; s < ix->n_strs; s++)
    is_held[s] = (uint8_t)es_split_is_held_out(ix->strs[s]);
  int rc = ES_OK;
  size_t nq = 0, ntv = 0;
  for (size_t i = 0; i < n; i++) {
    near_ref[i] = NONE;
    uint32_t sp = ix->items[i].split;
    if (sp == NONE)
      continue;
    if (is_held[sp])
      q[nq++] = (uint32_t)i;
    else
      tv[ntv++] = (uint32_t)i;
  }
  free(is_held);
  es__near_pair *pairs = NULL;
  size_t np = 0;
  if (nq && ntv) {
    es__near_join *join = es__near_join_build(ix, tv, ntv, near, err);
    if (!join)
      rc = err ? err->code : ES_ENOMEM;
    else
      rc = es__near_join_pairs(join, ix, q, nq, jobs, &pairs, &np, err);
    es__near_join_free(join);
  }
  free(q);
  free(tv);
  if (rc)
    goto fail;
  for (size_t k = 0; k < np; k++) {
    uint32_t t = pairs[k].ref;
    /* pairs come sorted by held-out item, so the first of equal distances has the smallest */
    if (near_ref[t] == NONE || pairs[k].dist < near_d[t]) {
      near_ref[t] = pairs[k].q;
      near_d[t] = (uint8_t)pairs[k].dist;
    }
  }
  free(pairs);
  for (size_t i = 0; i < n; i++)
    if (near_ref[i] != NONE)
      json_array_append_new(out, json_pack("{s:s, s:o, s:s, s:o, s:s, s:i}", "kind",
                                           "near-held-out", "item", id_json(ix, i), "split",
                                           ix->strs[ix->items[i].split], "near",
                                           id_json(ix, near_ref[i]), "near_split",
                                           ix->strs[ix->items[near_ref[i]].split], "distance",
                                           near_d[i]));

  /* augmented items follow their source */
  for (size_t i = 0; i < n; i++) {
    uint32_t src = ix->items[i].derived_from;
    if (src == NONE)
      continue;
    uint32_t a = ix->items[i].split, b = ix->items[src].split;
    if (a == b)
      continue;
    json_array_append_new(out, json_pack("{s:s, s:o, s:o, s:o, s:o}", "kind",
                                         "augmented-outside-source", "item", id_json(ix, i),
                                         "split", a == NONE ? json_null() : json_string(ix->strs[a]),
                                         "source", id_json(ix, src), "source_split",
                                         b == NONE ? json_null() : json_string(ix->strs[b])));
  }
  free(key);
  free(near_ref);
  free(near_d);
  return out;
nomem:
  es_error_set(err, ES_ENOMEM, "out of memory verifying splits");
fail:
  json_decref(out);
  free(key);
  free(near_ref);
  free(near_d);
  return NULL;
}
