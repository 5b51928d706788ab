/* The dataset's near-duplicate relation as split applies it (split.h, es_split_near). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/near_index.h"
#include "formats/signatures.h"
#include "split/split.h"

int es_split_related(const es_split_near *near, const es_index *ix, size_t a, size_t b)
{
  if (es_phash_distance(ix->items[a].phash, ix->items[b].phash) > near->rel.radius)
    return 0;
  if (!near->sigs)
    return 1;
  const es_near_sig *x = &near->sigs[a], *y = &near->sigs[b];
  return es_near_sig_match(x, y, es_near_threshold(&near->rel, x->side, y->side));
}

int es_split_near_load(const es_store *st, const es_index *ix, es_split_near *near,
                       es_near_sig **owned, size_t *missing, es_error *err)
{
  *owned = NULL;
  near->sigs = NULL;
  if (missing)
    *missing = 0;
  if (!es_settings_relation(&st->settings, &near->rel))
    return ES_OK;
  es_sigs s;
  int rc = es_sigs_load(st, &s, NULL, err);
  if (rc)
    return rc;
  *owned = es_sigs_for_index(&s, ix, missing, err);
  es_sigs_free(&s);
  if (!*owned)
    return err ? err->code : ES_ENOMEM;
  near->sigs = *owned;
  return ES_OK;
}

/* The index item whose id is the hex string id, or -1. */
static long item_of(const es_index *ix, const char *id)
{
  uint8_t b[16];
  for (int k = 0; k < 16; k++) {
    unsigned v;
    if (!id || sscanf(id + 2 * k, "%2x", &v) != 1)
      return -1;
    b[k] = (uint8_t)v;
  }
  size_t lo = 0, hi = ix->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = memcmp(ix->items[mid].id, b, 16);
    if (!c)
      return (long)mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

static int set_aside(es_index *ix, long i, const char *why, const char *held, size_t *n,
                     es_error *err)
{
  if (i < 0 || ix->items[i].split == ES_INDEX_NONE ||
      es_split_is_held_out(ix->strs[ix->items[i].split]))
    return ES_OK; /* a held-out item never moves */
  char note[128];
  snprintf(note, sizeof note, "set aside: %s held-out item %s", why, held);
  uint32_t num;
  int rc = es_index_intern(ix, note, &num, err);
  if (rc)
    return rc;
  ix->items[i].split = ES_INDEX_NONE;
  ix->items[i].split_note = num;
  (*n)++;
  return ES_OK;
}

int es_split_set_aside(es_index *ix, const json_t *problems, size_t *n, es_error *err)
{
  *n = 0;
  size_t k;
  json_t *p;
  int rc = ES_OK;
  json_array_foreach(problems, k, p)
  {
    const char *kind = json_string_value(json_object_get(p, "kind"));
    if (!kind)
      continue;
    if (!strcmp(kind, "near-held-out")) {
      rc = set_aside(ix, item_of(ix, json_string_value(json_object_get(p, "item"))),
                     "near duplicate of", json_string_value(json_object_get(p, "near")), n, err);
    } else if (!strcmp(kind, "cluster-spans-splits")) {
      /* the cluster's held-out member keeps it; train and val members step aside */
      const json_t *members = json_object_get(p, "items");
      const char *held = NULL;
      size_t j;
      json_t *m;
      json_array_foreach(members, j, m)
      {
        const char *s = json_string_value(json_object_get(m, "split"));
        if (!held && s && es_split_is_held_out(s))
          held = json_string_value(json_object_get(m, "id"));
      }
      if (held)
        json_array_foreach(members, j, m)
        {
          if (rc)
            break;
          rc = set_aside(ix, item_of(ix, json_string_value(json_object_get(m, "id"))),
                         "in the near-duplicate cluster of", held, n, err);
        }
    }
    if (rc)
      return rc;
  }
  return ES_OK;
}
