/* Manifest v1 (docs/dataset-format.md): items in memory, their JSON objects and the canonical
 * JSONL bytes. Canonical means: items sorted by id, keys in the fixed order of the format then
 * unknown fields sorted (recursively), reals rounded to ES_FLOAT_DIGITS significant digits and
 * printed by jansson with that precision (it strips the libc's exponent padding and '+'), -0
 * written as 0, paths escaped so that any byte string without NUL is valid UTF-8 and comes back
 * exactly. parse(serialize(m)) serializes to the same bytes. No path I/O happens here.
 * This file holds the items, the container and the jansson path (item <-> JSON); the direct
 * reader is formats/manifest_read.c, the direct writer formats/manifest_write.c, path escaping
 * formats/path_escape.c, and what they share formats/manifest_internal.h. */
#include "formats/manifest.h"

#include "core/json.h"
#include "core/show.h"
#include "core/strmap.h"
#include "formats/labels.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "formats/manifest_internal.h"
#include "formats/path_escape.h"


/* The fields this module writes itself; anything else lives in `extra`. */
static const char *const known_keys[] = {
    "id",      "format", "width",   "height", "channels", "bytes",      "phash", "stats",
    "src",     "seen",   "cluster", "label",  "split",    "split_note", "group",
};

int es__manifest_is_known_key(const char *k)
{
  for (size_t i = 0; i < sizeof known_keys / sizeof *known_keys; i++)
    if (strcmp(k, known_keys[i]) == 0)
      return 1;
  return 0;
}

int es__manifest_is_lower_hex_n(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return 1;
}

static int is_lower_hex(const char *s, size_t n)
{
  return es__manifest_is_lower_hex_n(s, n) && s[n] == '\0';
}

int es__manifest_is_id(const char *s)
{
  return strnlen(s, ES_ID_HEX + 1) == ES_ID_HEX && is_lower_hex(s, ES_ID_HEX);
}

/* ---- item -> JSON ----------------------------------------------------------------------- */

int es__manifest_cmp_cstr(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of v with object keys sorted at every level and reals canonical; NULL when out of
 * memory. */
json_t *es__manifest_canonical_copy(const json_t *v)
{
  if (json_is_object(v)) {
    size_t n = json_object_size(v), i = 0;
    const char **keys = malloc((n ? n : 1) * sizeof *keys);
    json_t *o = json_object();
    if (!keys || !o) {
      free(keys);
      json_decref(o);
      return NULL;
    }
    const char *k;
    json_t *child;
    json_object_foreach((json_t *)v, k, child) keys[i++] = k;
    qsort(keys, n, sizeof *keys, es__manifest_cmp_cstr);
    for (i = 0; i < n; i++) {
      json_t *c = es__manifest_canonical_copy(json_object_get(v, keys[i]));
      if (!c || json_object_set_new(o, keys[i], c) != 0) {
        json_decref(o);
        o = NULL;
        break;
      }
    }
    free(keys);
    return o;
  }
  if (json_is_array(v)) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < json_array_size(v); i++) {
      json_t *c = es__manifest_canonical_copy(json_array_get(v, i));
      if (!c || json_array_append_new(a, c) != 0) {
        json_decref(a);
        a = NULL;
      }
    }
    return a;
  }
  if (json_is_real(v))
    return es_json_real(json_real_value(v));
  return json_incref((json_t *)v);
}

/* json_string() refuses invalid UTF-8; say which field it was. */
static int put_string(json_t *o, const char *key, const char *s, const char *id, es_error *err)
{
  json_t *v = s ? json_string(s) : json_null();
  if (!v)
    return es_error_set(err, ES_EFORMAT, "item '%s': field '%s' is not valid UTF-8", id, key);
  if (json_object_set_new(o, key, v) != 0)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  return ES_OK;
}

static int put_new(json_t *o, const char *key, json_t *v, es_error *err)
{
  if (!v || json_object_set_new(o, key, v) != 0)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  return ES_OK;
}

json_t *es_item_to_json(const es_item *it, es_error *err)
{
  int rc = ES_OK;
  char *esc = NULL;
  const char **keys = NULL;
  json_t *o = json_object(), *seen = NULL;
  if (!o) {
    es_error_set(err, ES_ENOMEM, "out of memory");
    return NULL;
  }
  if (!es__manifest_is_id(it->id)) {
    rc = es_error_set(err, ES_EFORMAT, "item id '%.40s' is not %d lowercase hex digits", it->id,
                      ES_ID_HEX);
    goto cleanup;
  }
  const char *id = it->id;
  if (strnlen(it->format, sizeof it->format) == sizeof it->format) {
    rc = es_error_set(err, ES_EFORMAT, "item '%s': field 'format' is not terminated", id);
    goto cleanup;
  }
  if (it->bytes > INT64_MAX) {
    rc = es_error_set(err, ES_EFORMAT, "item '%s': field 'bytes' is too large", id);
    goto cleanup;
  }
  char phash[17];
  snprintf(phash, sizeof phash, "%016" PRIx64, it->phash);
  if ((rc = put_string(o, "id", id, id, err)) || (rc = put_string(o, "format", it->format, id, err)) ||
      (rc = put_new(o, "width", json_integer(it->width), err)) ||
      (rc = put_new(o, "height", json_integer(it->height), err)) ||
      (rc = put_new(o, "channels", json_integer(it->channels), err)) ||
      (rc = put_new(o, "bytes", json_integer((json_int_t)it->bytes), err)) ||
      (rc = put_string(o, "phash", phash, id, err)))
    goto cleanup;

  const es_stats *s = &it->stats;
  const double vals[6] = {s->mean, s->std, s->sharpness, s->saturation, s->clip_low, s->clip_high};
  static const char *const names[6] = {"mean",       "std",      "sharpness",
                                       "saturation", "clip_low", "clip_high"};
  json_t *stats = json_object();
  if ((rc = put_new(o, "stats", stats, err)))
    goto cleanup;
  for (int i = 0; i < 6; i++) {
    if (!isfinite(vals[i])) {
      rc = es_error_set(err, ES_EFORMAT, "item '%s': stat '%s' is not a finite number", id,
                        names[i]);
      goto cleanup;
    }
    if ((rc = put_new(stats, names[i], es_json_real(vals[i]), err)))
      goto cleanup;
  }

  seen = json_array();
  if (!seen) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  for (size_t i = 0; i < it->n_seen; i++) {
    const es_occurrence *oc = &it->seen[i];
    if (!oc->path || !oc->batch) {
      rc = es_error_set(err, ES_EFORMAT, "item '%s': occurrence %zu has no %s", id, i,
                        oc->path ? "batch" : "path");
      goto cleanup;
    }
    esc = es_path_escape(oc->path, err);
    if (!esc) {
      rc = err ? err->code : ES_ENOMEM;
      goto cleanup;
    }
    if (i == 0 && (rc = put_string(o, "src", esc, id, err)))
      goto cleanup;
    json_t *e = json_object();
    if (!e || json_array_append_new(seen, e) != 0) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
    if ((rc = put_string(e, "path", esc, id, err)) ||
        (rc = put_string(e, "batch", oc->batch, id, err)) ||
        (rc = put_string(e, "device", oc->device, id, err)) ||
        (rc = put_string(e, "time", oc->time, id, err)))
      goto cleanup;
    free(esc);
    esc = NULL;
  }
  rc = put_new(o, "seen", seen, err);
  seen = NULL;
  if (rc)
    goto cleanup;

  if (it->cluster[0] && !es__manifest_is_id(it->cluster)) {
    rc = es_error_set(err, ES_EFORMAT, "item '%s': cluster '%.40s' is not an id", id,
                      it->cluster);
    goto cleanup;
  }
  if ((rc = put_string(o, "cluster", it->cluster[0] ? it->cluster : NULL, id, err)) ||
      (rc = put_string(o, "label", it->label, id, err)) ||
      (rc = put_string(o, "split", it->split, id, err)) ||
      (rc = put_string(o, "split_note", it->split_note, id, err)) ||
      (rc = put_string(o, "group", it->group, id, err)))
    goto cleanup;

  if (it->extra) {
    if (!json_is_object(it->extra)) {
      rc = es_error_set(err, ES_EFORMAT, "item '%s': extra fields are not an object", id);
      goto cleanup;
    }
    size_t n = json_object_size(it->extra), i = 0;
    keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
    const char *k;
    json_t *v;
    json_object_foreach(it->extra, k, v) keys[i++] = k;
    qsort(keys, n, sizeof *keys, es__manifest_cmp_cstr);
    for (i = 0; i < n; i++) {
      if (es__manifest_is_known_key(keys[i])) {
        rc = es_error_set(err, ES_EFORMAT, "item '%s': extra field '%s' is a manifest field", id,
                          keys[i]);
        goto cleanup;
      }
      if ((rc = put_new(o, keys[i],
                        es__manifest_canonical_copy(json_object_get(it->extra, keys[i])), err)))
        goto cleanup;
    }
  }
cleanup:
  free(keys);
  free(esc);
  json_decref(seen);
  if (rc) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* ---- JSON -> item ----------------------------------------------------------------------- */

/* A string field: NULL *out for JSON null when nullable; absent fields are errors only when
 * required. The copy is malloc'd. */
static int get_string(const json_t *obj, const char *key, int required, int nullable,
                      const char *where, char **out, es_error *err)
{
  *out = NULL;
  json_t *v = json_object_get(obj, key);
  if (!v) {
    if (required)
      return es_error_set(err, ES_EFORMAT, "%s'%s' is missing", where, key);
    return ES_OK;
  }
  if (json_is_null(v) && nullable)
    return ES_OK;
  if (!json_is_string(v))
    return es_error_set(err, ES_EFORMAT, "%s'%s' is not a string%s", where, key,
                        nullable ? " or null" : "");
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (strlen(s) != n)
    return es_error_set(err, ES_EFORMAT, "%s'%s' contains a NUL character", where, key);
  *out = malloc(n + 1);
  if (!*out)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  memcpy(*out, s, n + 1);
  return ES_OK;
}

static int get_uint(const json_t *obj, const char *key, uint64_t max, uint64_t *out,
                    es_error *err)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return es_error_set(err, ES_EFORMAT, "field '%s' is missing", key);
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      (uint64_t)json_integer_value(v) > max)
    return es_error_set(err, ES_EFORMAT, "field '%s' is not an integer from 0 to %" PRIu64, key,
                        max);
  *out = (uint64_t)json_integer_value(v);
  return ES_OK;
}

static int get_stats(const json_t *obj, es_stats *s, es_error *err)
{
  json_t *st = json_object_get(obj, "stats");
  if (!st)
    return es_error_set(err, ES_EFORMAT, "field 'stats' is missing");
  if (!json_is_object(st))
    return es_error_set(err, ES_EFORMAT, "field 'stats' is not an object");
  static const char *const names[6] = {"mean",       "std",      "sharpness",
                                       "saturation", "clip_low", "clip_high"};
  double *dst[6] = {&s->mean, &s->std, &s->sharpness, &s->saturation, &s->clip_low,
                    &s->clip_high};
  for (int i = 0; i < 6; i++) {
    json_t *v = json_object_get(st, names[i]);
    if (!v)
      return es_error_set(err, ES_EFORMAT, "field 'stats.%s' is missing", names[i]);
    if (!json_is_number(v))
      return es_error_set(err, ES_EFORMAT, "field 'stats.%s' is not a number", names[i]);
    *dst[i] = json_number_value(v);
  }
  if (json_object_size(st) != 6) {
    const char *k;
    json_t *v;
    json_object_foreach(st, k, v)
    {
      int found = 0;
      for (int i = 0; i < 6; i++)
        found |= strcmp(k, names[i]) == 0;
      if (!found)
        return es_error_set(err, ES_EFORMAT, "field 'stats' has an unknown key '%s'", k);
    }
  }
  return ES_OK;
}

static int get_seen(const json_t *obj, es_item *it, es_error *err)
{
  json_t *seen = json_object_get(obj, "seen");
  if (!seen)
    return es_error_set(err, ES_EFORMAT, "field 'seen' is missing");
  if (!json_is_array(seen))
    return es_error_set(err, ES_EFORMAT, "field 'seen' is not an array");
  size_t n = json_array_size(seen);
  if (n == 0) {
    if (json_object_get(obj, "src"))
      return es_error_set(err, ES_EFORMAT, "field 'src' is present but 'seen' is empty");
    return ES_OK;
  }
  if (n > SIZE_MAX / sizeof *it->seen)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  it->seen = calloc(n, sizeof *it->seen);
  if (!it->seen)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(seen, i);
    char where[48];
    snprintf(where, sizeof where, "field 'seen[%zu]' key ", i);
    if (!json_is_object(e))
      return es_error_set(err, ES_EFORMAT, "field 'seen[%zu]' is not an object", i);
    es_occurrence *oc = &it->seen[i];
    it->n_seen = i + 1;
    char *escaped = NULL;
    int rc = get_string(e, "path", 1, 0, where, &escaped, err);
    if (rc)
      return rc;
    oc->path = es_path_unescape(escaped, err);
    free(escaped);
    if (!oc->path) {
      es_error_prefix(err, "field 'seen[%zu].path'", i);
      return err ? err->code : ES_EFORMAT;
    }
    if ((rc = get_string(e, "batch", 1, 0, where, &oc->batch, err)) ||
        (rc = get_string(e, "device", 0, 1, where, &oc->device, err)) ||
        (rc = get_string(e, "time", 0, 1, where, &oc->time, err)))
      return rc;
    const char *k;
    json_t *v;
    json_object_foreach(e, k, v)
    {
      if (strcmp(k, "path") && strcmp(k, "batch") && strcmp(k, "device") && strcmp(k, "time"))
        return es_error_set(err, ES_EFORMAT, "field 'seen[%zu]' has an unknown key '%s'", i, k);
    }
  }
  /* src is derived from seen[0]; a different one means the line was edited or damaged. */
  json_t *src = json_object_get(obj, "src");
  if (src) {
    json_t *p0 = json_object_get(json_array_get(seen, 0), "path");
    if (!json_is_string(src) || !json_equal(src, p0))
      return es_error_set(err, ES_EFORMAT, "field 'src' is not the path of seen[0]");
  }
  return ES_OK;
}

int es_item_from_json(const json_t *obj, es_item *it, es_error *err)
{
  int rc = ES_OK;
  char *s = NULL;
  memset(it, 0, sizeof *it);
  if (!json_is_object(obj))
    return es_error_set(err, ES_EFORMAT, "not a JSON object");

  if ((rc = get_string(obj, "id", 1, 0, "field ", &s, err)))
    goto cleanup;
  if (!es__manifest_is_id(s)) {
    rc = es_error_set(err, ES_EFORMAT, "field 'id' is not %d lowercase hex digits", ES_ID_HEX);
    goto cleanup;
  }
  memcpy(it->id, s, ES_ID_HEX + 1);
  free(s);
  s = NULL;

  if ((rc = get_string(obj, "format", 1, 0, "field ", &s, err)))
    goto cleanup;
  if (strlen(s) >= sizeof it->format) {
    rc = es_error_set(err, ES_EFORMAT, "field 'format' is longer than %zu bytes",
                      sizeof it->format - 1);
    goto cleanup;
  }
  strcpy(it->format, s);
  free(s);
  s = NULL;

  uint64_t w, h, c;
  if ((rc = get_uint(obj, "width", UINT32_MAX, &w, err)) ||
      (rc = get_uint(obj, "height", UINT32_MAX, &h, err)) ||
      (rc = get_uint(obj, "channels", UINT32_MAX, &c, err)) ||
      (rc = get_uint(obj, "bytes", INT64_MAX, &it->bytes, err)))
    goto cleanup;
  it->width = (uint32_t)w;
  it->height = (uint32_t)h;
  it->channels = (uint32_t)c;

  if ((rc = get_string(obj, "phash", 1, 0, "field ", &s, err)))
    goto cleanup;
  if (strlen(s) != 16 || !is_lower_hex(s, 16)) {
    rc = es_error_set(err, ES_EFORMAT, "field 'phash' is not 16 lowercase hex digits");
    goto cleanup;
  }
  it->phash = strtoull(s, NULL, 16);
  free(s);
  s = NULL;

  if ((rc = get_stats(obj, &it->stats, err)) || (rc = get_seen(obj, it, err)))
    goto cleanup;

  if ((rc = get_string(obj, "cluster", 0, 1, "field ", &s, err)))
    goto cleanup;
  if (s) {
    if (!es__manifest_is_id(s)) {
      rc = es_error_set(err, ES_EFORMAT, "field 'cluster' is not null or an id");
      goto cleanup;
    }
    memcpy(it->cluster, s, ES_ID_HEX + 1);
    free(s);
    s = NULL;
  }
  if ((rc = get_string(obj, "label", 0, 1, "field ", &it->label, err)) ||
      (rc = get_string(obj, "split", 0, 1, "field ", &it->split, err)) ||
      (rc = get_string(obj, "split_note", 0, 1, "field ", &it->split_note, err)) ||
      (rc = get_string(obj, "group", 0, 1, "field ", &it->group, err)))
    goto cleanup;
  const char *why = it->label ? es_label_invalid(it->label) : NULL; /* the one label rule */
  if (why) {
    rc = es_error_set(err, ES_EFORMAT, "field 'label' is '%s': %s", es_show(it->label), why);
    goto cleanup;
  }

  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v)
  {
    if (es__manifest_is_known_key(k))
      continue;
    if (!it->extra && !(it->extra = json_object())) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
    json_t *copy = json_deep_copy(v);
    if (!copy || json_object_set_new(it->extra, k, copy) != 0) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
  }
cleanup:
  free(s);
  if (rc)
    es_item_free(it);
  return rc;
}

/* ---- manifest --------------------------------------------------------------------------- */

static int cmp_item(const void *a, const void *b)
{
  return strcmp(((const es_item *)a)->id, ((const es_item *)b)->id);
}

void es_manifest_sort(es_manifest *m)
{
  if (m->n > 1)
    qsort(m->items, m->n, sizeof *m->items, cmp_item);
}

es_item *es_manifest_find(const es_manifest *m, const char *id)
{
  es_item key;
  if (!m->n || strlen(id) > ES_ID_HEX)
    return NULL;
  memcpy(key.id, id, strlen(id) + 1);
  return bsearch(&key, m->items, m->n, sizeof *m->items, cmp_item);
}

int es_manifest_add(es_manifest *m, es_item *it, es_error *err)
{
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    if (cap < m->cap || cap > SIZE_MAX / sizeof *m->items)
      return es_error_set(err, ES_ENOMEM, "out of memory");
    es_item *items = realloc(m->items, cap * sizeof *items);
    if (!items)
      return es_error_set(err, ES_ENOMEM, "out of memory");
    m->items = items;
    m->cap = cap;
  }
  m->items[m->n++] = *it;
  memset(it, 0, sizeof *it);
  return ES_OK;
}

static int dup_or_null(const char *s, char **out)
{
  *out = NULL;
  return s && !(*out = strdup(s)) ? -1 : 0;
}

int es_item_add_seen(es_item *it, const char *path, const char *batch, const char *device,
                     const char *time, es_error *err)
{
  if (it->n_seen >= SIZE_MAX / sizeof *it->seen - 1)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  es_occurrence *seen = realloc(it->seen, (it->n_seen + 1) * sizeof *seen);
  if (!seen)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  it->seen = seen;
  es_occurrence oc = {0};
  if (dup_or_null(path, &oc.path) || dup_or_null(batch, &oc.batch) ||
      dup_or_null(device, &oc.device) || dup_or_null(time, &oc.time)) {
    free(oc.path);
    free(oc.batch);
    free(oc.device);
    free(oc.time);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  it->seen[it->n_seen++] = oc;
  return ES_OK;
}

static int cmp_seen(const es_strmap *batch_seq, const es_occurrence *a, const es_occurrence *b)
{
  size_t sa = SIZE_MAX, sb = SIZE_MAX;
  es_strmap_get(batch_seq, a->batch, &sa);
  es_strmap_get(batch_seq, b->batch, &sb);
  if (sa != sb)
    return sa < sb ? -1 : 1;
  return strcmp(a->path, b->path);
}

int es_item_add_seen_ordered(es_item *it, const char *path, const char *batch,
                             const char *device, const char *time,
                             const struct es_strmap *batch_seq, es_error *err)
{
  int rc = es_item_add_seen(it, path, batch, device, time, err);
  if (rc)
    return rc;
  for (size_t j = it->n_seen - 1; j > 0 && cmp_seen(batch_seq, &it->seen[j - 1], &it->seen[j]) > 0;
       j--) {
    es_occurrence t = it->seen[j - 1];
    it->seen[j - 1] = it->seen[j];
    it->seen[j] = t;
  }
  return ES_OK;
}

void es_item_free(es_item *it)
{
  if (!it)
    return;
  for (size_t i = 0; i < it->n_seen; i++) {
    free(it->seen[i].path);
    free(it->seen[i].batch);
    free(it->seen[i].device);
    free(it->seen[i].time);
  }
  free(it->seen);
  free(it->label);
  free(it->split);
  free(it->split_note);
  free(it->group);
  json_decref(it->extra);
  memset(it, 0, sizeof *it);
}

void es_manifest_free(es_manifest *m)
{
  if (!m)
    return;
  for (size_t i = 0; i < m->n; i++)
    es_item_free(&m->items[i]);
  free(m->items);
  memset(m, 0, sizeof *m);
}
