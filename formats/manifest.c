/* Manifest v1 (docs/dataset-format.md): items in memory, their JSON objects and the canonical
 * JSONL bytes. Canonical means: items sorted by id, keys in the fixed order of the format then
 * unknown fields sorted (recursively), reals rounded to ES_FLOAT_DIGITS significant digits and
 * printed by jansson with that precision (it strips the libc's exponent padding and '+'), -0
 * written as 0, paths escaped so that any byte string without NUL is valid UTF-8 and comes back
 * exactly. parse(serialize(m)) serializes to the same bytes. No path I/O happens here. */
#include "formats/manifest.h"

#include "core/show.h"
#include "formats/labels.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(ES_FLOAT_DIGITS))

/* The fields this module writes itself; anything else lives in `extra`. */
static const char *const known_keys[] = {
    "id",      "format", "width",   "height", "channels", "bytes",      "phash", "stats",
    "src",     "seen",   "cluster", "label",  "split",    "split_note", "group",
};

static int is_known_key(const char *k)
{
  for (size_t i = 0; i < sizeof known_keys / sizeof *known_keys; i++)
    if (strcmp(k, known_keys[i]) == 0)
      return 1;
  return 0;
}

static int is_lower_hex_n(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return 1;
}

static int is_lower_hex(const char *s, size_t n)
{
  return is_lower_hex_n(s, n) && s[n] == '\0';
}

static int is_id(const char *s)
{
  return strnlen(s, ES_ID_HEX + 1) == ES_ID_HEX && is_lower_hex(s, ES_ID_HEX);
}

/* ---- path escaping ---------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (1 to 4), or 0 when s[0] does not start one
 * (a stray continuation byte, an overlong form, a surrogate, a code point above U+10FFFF or a
 * truncated sequence). s is NUL-terminated, and NUL is never a continuation byte, so reading
 * stops in time. These are exactly the strings jansson accepts. */
static size_t utf8_len(const uint8_t *s)
{
  uint8_t b = s[0];
  if (b < 0x80)
    return 1;
  uint8_t lo = 0x80, hi = 0xbf;
  size_t n;
  if (b >= 0xc2 && b <= 0xdf)
    n = 2;
  else if (b >= 0xe0 && b <= 0xef) {
    n = 3;
    if (b == 0xe0)
      lo = 0xa0; /* overlong */
    else if (b == 0xed)
      hi = 0x9f; /* surrogates */
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4;
    if (b == 0xf0)
      lo = 0x90; /* overlong */
    else if (b == 0xf4)
      hi = 0x8f; /* above U+10FFFF */
  } else
    return 0;
  if (s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xbf)
      return 0;
  return n;
}

char *es_path_escape(const char *raw, es_error *err)
{
  if (!raw) {
    es_error_set(err, ES_EINTERNAL, "no path to escape");
    return NULL;
  }
  size_t len = strlen(raw);
  if (len > (SIZE_MAX - 1) / 4) {
    es_error_set(err, ES_ENOMEM, "path too long to escape");
    return NULL;
  }
  char *out = malloc(len * 4 + 1);
  if (!out) {
    es_error_set(err, ES_ENOMEM, "out of memory");
    return NULL;
  }
  static const char hex[] = "0123456789abcdef";
  const uint8_t *s = (const uint8_t *)raw;
  char *o = out;
  while (*s) {
    if (*s == '\\') {
      *o++ = '\\';
      *o++ = '\\';
      s++;
      continue;
    }
    size_t n = utf8_len(s);
    if (n == 0) {
      *o++ = '\\';
      *o++ = 'x';
      *o++ = hex[*s >> 4];
      *o++ = hex[*s & 15];
      s++;
      continue;
    }
    memcpy(o, s, n);
    o += n;
    s += n;
  }
  *o = '\0';
  return out;
}

static int hex_value(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

char *es_path_unescape(const char *escaped, es_error *err)
{
  if (!escaped) {
    es_error_set(err, ES_EINTERNAL, "no path to unescape");
    return NULL;
  }
  char *out = malloc(strlen(escaped) + 1), *check = NULL;
  if (!out) {
    es_error_set(err, ES_ENOMEM, "out of memory");
    return NULL;
  }
  const char *s = escaped, *why = NULL;
  char *o = out;
  while (*s && !why) {
    if (*s != '\\') {
      *o++ = *s++;
      continue;
    }
    if (s[1] == '\\') {
      *o++ = '\\';
      s += 2;
    } else if (s[1] == 'x') {
      int h = hex_value(s[2]), l = h < 0 ? -1 : hex_value(s[3]);
      if (h < 0 || l < 0)
        why = "\\x not followed by two lowercase hex digits";
      else if (h == 0 && l == 0)
        why = "\\x00 (paths cannot hold NUL)";
      else {
        *o++ = (char)(h << 4 | l);
        s += 4;
      }
    } else {
      why = "a backslash not followed by a backslash or x";
    }
  }
  *o = '\0';
  /* Only the form es_path_escape() writes is accepted, so that a path has one spelling and
   * paths compare equal exactly when their escaped strings do. */
  if (!why) {
    check = es_path_escape(out, err);
    if (!check) {
      free(out);
      return NULL;
    }
    if (strcmp(check, escaped) != 0)
      why = "an escape of bytes that are valid UTF-8 (they must be written as they are)";
  }
  free(check);
  if (why) {
    es_error_set(err, ES_EFORMAT, "bad path '%s': %s", escaped, why);
    free(out);
    return NULL;
  }
  return out;
}

/* ---- reals ------------------------------------------------------------------------------ */

json_t *es_json_real(double v)
{
  if (!isfinite(v))
    return json_null(); /* JSON has no NaN or infinity; item writers reject them first */
  /* Rounding the value itself (not only its printing) keeps records dumped without
   * JSON_REAL_PRECISION equal in value, and makes parse then print a fixed point. */
  char buf[40];
  snprintf(buf, sizeof buf, "%.*g", ES_FLOAT_DIGITS, v);
  double r = strtod(buf, NULL);
  if (r == 0)
    r = 0; /* -0 would print as "-0.0" */
  return json_real(r);
}

/* ---- item -> JSON ----------------------------------------------------------------------- */

static int cmp_cstr(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of v with object keys sorted at every level and reals canonical; NULL when out of
 * memory. */
static json_t *canonical_copy(const json_t *v)
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
    qsort(keys, n, sizeof *keys, cmp_cstr);
    for (i = 0; i < n; i++) {
      json_t *c = canonical_copy(json_object_get(v, keys[i]));
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
      json_t *c = canonical_copy(json_array_get(v, i));
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
  if (!is_id(it->id)) {
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

  if (it->cluster[0] && !is_id(it->cluster)) {
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
    qsort(keys, n, sizeof *keys, cmp_cstr);
    for (i = 0; i < n; i++) {
      if (is_known_key(keys[i])) {
        rc = es_error_set(err, ES_EFORMAT, "item '%s': extra field '%s' is a manifest field", id,
                          keys[i]);
        goto cleanup;
      }
      if ((rc = put_new(o, keys[i], canonical_copy(json_object_get(it->extra, keys[i])), err)))
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
  if (!is_id(s)) {
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
    if (!is_id(s)) {
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
    if (is_known_key(k))
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

/* ---- a canonical line, read directly ----------------------------------------------------
 * json_loadb() and es_item_from_json() take about 29 us an item, most of it jansson building
 * and freeing a tree; for a dataset of 100,000 items that was seconds in every program that
 * reads the manifest. read_item() reads a line in the exact form write_item() writes (compact,
 * known keys in their order, string-valued extra fields) straight into an es_item. It declines
 * (returns 1) at the first thing it does not expect or that jansson would read differently or
 * refuse (whitespace, other key orders, other value types, \u0000, invalid UTF-8, a raw
 * control character, numbers out of range ...), and the line then goes through jansson, which
 * gives the same item or the error message. A test compares the two on mutated lines. */

typedef struct reader {
  const char *p, *end;
} reader;

static int lit(reader *r, const char *s, size_t n)
{
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, s, n) != 0)
    return 1;
  r->p += n;
  return 0;
}
#define LIT(r, s) lit(r, s, sizeof s - 1)

static int hex4(const char *p, unsigned *v)
{
  *v = 0;
  for (int i = 0; i < 4; i++) {
    int c = p[i], d = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                             : -1;
    if (d < 0)
      return 1;
    *v = *v << 4 | (unsigned)d;
  }
  return 0;
}

/* A JSON string at r->p into a malloc'd copy (*out, *len; NUL-terminated, without NULs). */
static int read_string(reader *r, char **out, size_t *len)
{
  *out = NULL;
  if (r->p == r->end || *r->p != '"')
    return 1;
  const uint8_t *p = (const uint8_t *)r->p + 1, *end = (const uint8_t *)r->end;
  size_t n = 0, esc = 0;
  while (p < end && *p != '"') {
    if (*p < 0x20)
      return 1;
    if (*p == '\\') {
      if (end - p < 2)
        return 1;
      esc = 1;
      p += p[1] == 'u' ? 6 : 2;
      n += 4; /* at most 4 bytes out per escape */
      continue;
    }
    size_t k = 1;
    if (*p >= 0x80) { /* utf8_len() reads up to 4 bytes, or to a NUL */
      uint8_t t[5] = {0};
      memcpy(t, p, end - p < 4 ? (size_t)(end - p) : 4);
      k = utf8_len(t);
      if (k == 0)
        return 1;
    }
    p += k;
    n += k;
  }
  if (p >= end)
    return 1;
  char *o = malloc(n + 1);
  if (!o)
    return -1;
  const char *q = r->p + 1;
  size_t w = 0;
  if (!esc) {
    w = (size_t)((const char *)p - q);
    memcpy(o, q, w);
  } else
    while (q < (const char *)p) {
      if (*q != '\\') {
        o[w++] = *q++;
        continue;
      }
      char c = q[1];
      const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t", *hit = strchr(from, c);
      if (c != 'u') {
        if (!hit || !c) {
          free(o);
          return 1;
        }
        o[w++] = to[hit - from];
        q += 2;
        continue;
      }
      unsigned u, lo;
      if ((const char *)p - q < 6 || hex4(q + 2, &u) || u == 0 || (u >= 0xdc00 && u < 0xe000)) {
        free(o);
        return 1;
      }
      q += 6;
      if (u >= 0xd800 && u < 0xdc00) { /* a high surrogate needs its low half */
        if ((const char *)p - q < 6 || q[0] != '\\' || q[1] != 'u' || hex4(q + 2, &lo) ||
            lo < 0xdc00 || lo >= 0xe000) {
          free(o);
          return 1;
        }
        u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
        q += 6;
      }
      if (u < 0x80)
        o[w++] = (char)u;
      else if (u < 0x800) {
        o[w++] = (char)(0xc0 | u >> 6);
        o[w++] = (char)(0x80 | (u & 0x3f));
      } else if (u < 0x10000) {
        o[w++] = (char)(0xe0 | u >> 12);
        o[w++] = (char)(0x80 | (u >> 6 & 0x3f));
        o[w++] = (char)(0x80 | (u & 0x3f));
      } else {
        o[w++] = (char)(0xf0 | u >> 18);
        o[w++] = (char)(0x80 | (u >> 12 & 0x3f));
        o[w++] = (char)(0x80 | (u >> 6 & 0x3f));
        o[w++] = (char)(0x80 | (u & 0x3f));
      }
    }
  o[w] = '\0';
  r->p = (const char *)p + 1;
  *out = o;
  *len = w;
  return 0;
}

/* A string or null: *out stays NULL for null. */
static int read_string_or_null(reader *r, char **out)
{
  size_t len;
  *out = NULL;
  return LIT(r, "null") == 0 ? 0 : read_string(r, out, &len);
}

/* `"key":` then a string or null. */
static int read_field(reader *r, const char *key_lit, size_t n, char **out)
{
  *out = NULL;
  return lit(r, key_lit, n) ? 1 : read_string_or_null(r, out);
}
#define FIELD(r, k, out) read_field(r, k, sizeof k - 1, out)

/* A JSON integer from 0 to max, written without sign or leading zeros. */
static int read_uint(reader *r, uint64_t max, uint64_t *v)
{
  const char *p = r->p;
  uint64_t x = 0;
  while (p < r->end && *p >= '0' && *p <= '9' && p - r->p < 19)
    x = x * 10 + (uint64_t)(*p++ - '0');
  if (p == r->p || (p - r->p > 1 && *r->p == '0') || x > max ||
      (p < r->end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9'))))
    return 1;
  r->p = p;
  *v = x;
  return 0;
}

/* A JSON number as jansson reads it: an integer (at most 18 digits here) or a finite real. */
static int read_number(reader *r, double *v)
{
  const char *p = r->p, *e = r->end;
  int real = 0;
  if (p < e && *p == '-')
    p++;
  if (p < e && *p == '0')
    p++;
  else if (p < e && *p >= '1' && *p <= '9')
    while (p < e && *p >= '0' && *p <= '9')
      p++;
  else
    return 1;
  if (p < e && *p == '.') {
    real = 1;
    if (++p == e || *p < '0' || *p > '9')
      return 1;
    while (p < e && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < e && (*p == 'e' || *p == 'E')) {
    real = 1;
    if (++p < e && (*p == '+' || *p == '-'))
      p++;
    if (p == e || *p < '0' || *p > '9')
      return 1;
    while (p < e && *p >= '0' && *p <= '9')
      p++;
  }
  char buf[64];
  size_t n = (size_t)(p - r->p);
  if (n >= sizeof buf || (!real && n > 18))
    return 1;
  memcpy(buf, r->p, n);
  buf[n] = '\0';
  *v = real ? strtod(buf, NULL) : (double)strtoll(buf, NULL, 10);
  if (!isfinite(*v))
    return 1;
  r->p = p;
  return 0;
}

static int read_occurrence(reader *r, es_occurrence *oc, char **escaped)
{
  size_t len;
  int rc = 1;
  *escaped = NULL;
  if (LIT(r, "{\"path\":") || (rc = read_string(r, escaped, &len)) != 0)
    return rc;
  if (!(oc->path = es_path_unescape(*escaped, NULL)))
    return 1;
  if ((rc = FIELD(r, ",\"batch\":", &oc->batch)) || !oc->batch ||
      (rc = FIELD(r, ",\"device\":", &oc->device)) || (rc = FIELD(r, ",\"time\":", &oc->time)))
    return rc ? rc : 1;
  return LIT(r, "}");
}

static int read_seen(reader *r, es_item *it)
{
  char *src = NULL;
  size_t len;
  int rc = 0;
  if (LIT(r, ",\"src\":") == 0) {
    if ((rc = read_string(r, &src, &len)) || (rc = LIT(r, ",\"seen\":[")) || LIT(r, "]") == 0) {
      free(src);
      return rc ? rc : 1;
    }
  } else if (LIT(r, ",\"seen\":[]") == 0)
    return 0;
  else
    return 1;
  size_t cap = 0;
  do {
    if (it->n_seen == cap) {
      cap = cap ? cap * 2 : 4;
      es_occurrence *v = realloc(it->seen, cap * sizeof *v);
      if (!v) {
        rc = -1;
        break;
      }
      it->seen = v;
    }
    es_occurrence *oc = &it->seen[it->n_seen++];
    memset(oc, 0, sizeof *oc);
    char *escaped;
    rc = read_occurrence(r, oc, &escaped);
    if (!rc && it->n_seen == 1 && strcmp(escaped, src) != 0)
      rc = 1; /* jansson's path names the error */
    free(escaped);
  } while (!rc && LIT(r, ",") == 0);
  if (!rc)
    rc = LIT(r, "]");
  free(src);
  return rc;
}

static int read_item(const char *line, size_t n, es_item *it)
{
  reader r = {line, line + n};
  char *s = NULL;
  size_t len;
  uint64_t w, h, c;
  int rc;
  memset(it, 0, sizeof *it);
  if (LIT(&r, "{\"id\":\"") || r.end - r.p < ES_ID_HEX + 1 || r.p[ES_ID_HEX] != '"')
    return 1;
  memcpy(it->id, r.p, ES_ID_HEX);
  r.p += ES_ID_HEX + 1;
  if (!is_id(it->id) || LIT(&r, ",\"format\":"))
    return 1;
  if ((rc = read_string(&r, &s, &len)) || len >= sizeof it->format) {
    free(s);
    return rc ? rc : 1;
  }
  memcpy(it->format, s, len + 1);
  free(s);
  if (LIT(&r, ",\"width\":") || read_uint(&r, UINT32_MAX, &w) || LIT(&r, ",\"height\":") ||
      read_uint(&r, UINT32_MAX, &h) || LIT(&r, ",\"channels\":") ||
      read_uint(&r, UINT32_MAX, &c) || LIT(&r, ",\"bytes\":") ||
      read_uint(&r, INT64_MAX, &it->bytes) || LIT(&r, ",\"phash\":\"") || r.end - r.p < 17 ||
      !is_lower_hex_n(r.p, 16) || r.p[16] != '"')
    return 1;
  it->width = (uint32_t)w;
  it->height = (uint32_t)h;
  it->channels = (uint32_t)c;
  for (int i = 0; i < 16; i++)
    it->phash = it->phash << 4 | (uint64_t)hex_value(r.p[i]);
  r.p += 17;
  es_stats *st = &it->stats;
  if (LIT(&r, ",\"stats\":{\"mean\":") || read_number(&r, &st->mean) || LIT(&r, ",\"std\":") ||
      read_number(&r, &st->std) || LIT(&r, ",\"sharpness\":") ||
      read_number(&r, &st->sharpness) || LIT(&r, ",\"saturation\":") ||
      read_number(&r, &st->saturation) || LIT(&r, ",\"clip_low\":") ||
      read_number(&r, &st->clip_low) || LIT(&r, ",\"clip_high\":") ||
      read_number(&r, &st->clip_high) || LIT(&r, "}"))
    return 1;
  if ((rc = read_seen(&r, it)) || (rc = FIELD(&r, ",\"cluster\":", &s)))
    goto fail;
  if (s && (strlen(s) != ES_ID_HEX || !is_id(s)))
    rc = 1;
  else if (s)
    memcpy(it->cluster, s, ES_ID_HEX + 1);
  free(s);
  s = NULL;
  if (rc || (rc = FIELD(&r, ",\"label\":", &it->label)) ||
      (rc = FIELD(&r, ",\"split\":", &it->split)) ||
      (rc = FIELD(&r, ",\"split_note\":", &it->split_note)) ||
      (rc = FIELD(&r, ",\"group\":", &it->group)))
    goto fail;
  if (it->label && es_label_invalid(it->label)) {
    rc = 1; /* es_item_from_json() names the error */
    goto fail;
  }
  while (LIT(&r, ",") == 0) {
    char *key = NULL;
    size_t klen;
    json_t *v = NULL;
    if ((rc = read_string(&r, &key, &klen)) == 0 &&
        (is_known_key(key) || (it->extra && json_object_get(it->extra, key)) || LIT(&r, ":")))
      rc = 1;
    if (!rc)
      rc = read_string(&r, &s, &len);
    if (!rc && ((!it->extra && !(it->extra = json_object())) ||
                !(v = json_stringn_nocheck(s, len)) ||
                json_object_set_new_nocheck(it->extra, key, v) != 0)) /* takes v, even then */
      rc = -1;
    free(key);
    free(s);
    s = NULL;
    if (rc)
      goto fail;
  }
  if ((rc = LIT(&r, "}")) || r.p != r.end)
    rc = 1;
fail:
  if (rc)
    es_item_free(it);
  return rc;
}

typedef struct id_line {
  char id[ES_ID_HEX + 1];
  size_t line;
} id_line;

static int cmp_id_line(const void *a, const void *b)
{
  const id_line *x = a, *y = b;
  int c = strcmp(x->id, y->id);
  return c ? c : (x->line > y->line) - (x->line < y->line);
}

int es_manifest_parse(const uint8_t *buf, size_t len, es_manifest *m, es_error *err)
{
  int rc = ES_OK;
  id_line *ids = NULL;
  size_t n_ids = 0, cap_ids = 0, pos = 0, lineno = 0;
  memset(m, 0, sizeof *m);
  while (pos < len) {
    const uint8_t *nl = memchr(buf + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - buf) : len, start = pos;
    pos = end + 1;
    lineno++;
    size_t i = start;
    while (i < end && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r'))
      i++;
    if (i == end)
      continue;
    es_item it;
    int fast = read_item((const char *)buf + start, end - start, &it);
    if (fast < 0) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
    if (fast == 0)
      goto add;
    json_error_t je;
    json_t *obj = json_loadb((const char *)buf + start, end - start, JSON_REJECT_DUPLICATES, &je);
    if (!obj) {
      /* edgeset replaces the manifest atomically, so a last line cut short was damaged by
       * something else (an interrupted copy, a full disk, a sync client): skipping it would
       * lose the item for good, and the next commit would drop it from the manifest. */
      if (!nl)
        rc = es_error_set(err, ES_EFORMAT,
                          "line %zu: torn line: the file ends inside it (no final newline, "
                          "incomplete JSON); the manifest was cut short outside edgeset",
                          lineno);
      else
        rc = es_error_set(err, ES_EFORMAT, "line %zu: %s", lineno, je.text);
      goto cleanup;
    }
    rc = es_item_from_json(obj, &it, err);
    json_decref(obj);
    if (rc) {
      es_error_prefix(err, "line %zu", lineno);
      goto cleanup;
    }
  add:
    if (n_ids == cap_ids) {
      size_t cap = cap_ids ? cap_ids * 2 : 64;
      id_line *ni = cap > SIZE_MAX / sizeof *ni ? NULL : realloc(ids, cap * sizeof *ni);
      if (!ni) {
        es_item_free(&it);
        rc = es_error_set(err, ES_ENOMEM, "out of memory");
        goto cleanup;
      }
      ids = ni;
      cap_ids = cap;
    }
    memcpy(ids[n_ids].id, it.id, sizeof it.id);
    ids[n_ids++].line = lineno;
    if ((rc = es_manifest_add(m, &it, err))) {
      es_item_free(&it);
      goto cleanup;
    }
  }
  if (n_ids > 1)
    qsort(ids, n_ids, sizeof *ids, cmp_id_line);
  for (size_t i = 1; i < n_ids; i++)
    if (strcmp(ids[i].id, ids[i - 1].id) == 0) {
      rc = es_error_set(err, ES_EFORMAT, "line %zu: duplicate id '%s' (also on line %zu)",
                        ids[i].line, ids[i].id, ids[i - 1].line);
      goto cleanup;
    }
  es_manifest_sort(m);
cleanup:
  free(ids);
  if (rc)
    es_manifest_free(m);
  return rc;
}

typedef struct outbuf {
  char *p;
  size_t n, cap;
} outbuf;

static int out_append(const char *s, size_t n, void *ctx)
{
  outbuf *b = ctx;
  if (n > SIZE_MAX - 1 - b->n)
    return -1;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n + 1) {
      if (cap > SIZE_MAX / 2)
        return -1;
      cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p)
      return -1;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
  return 0;
}

static int cmp_item_ptr(const void *a, const void *b)
{
  return strcmp((*(const es_item *const *)a)->id, (*(const es_item *const *)b)->id);
}

/* ---- an item's line, written directly ----------------------------------------------------
 * es_item_to_json() and jansson's dump make a line from a tree of allocated values, printing
 * each real twice (es_json_real() rounds it first), about 25 us an item: seconds for every
 * collect into a dataset of 100,000 items. write_item() writes the same bytes straight into
 * the buffer. It takes only items that es_item_to_json() accepts as they are, and returns 1
 * for anything else (invalid UTF-8, a non-finite stat, a bad id ...), which the caller then
 * hands to the jansson path for its error message. A test compares the two on random items. */

/* A JSON string as jansson writes it (no ASCII escaping, '/' kept): 1 when s is not valid
 * UTF-8. */
static int put_json_string(outbuf *b, const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  if (out_append("\"", 1, b) != 0)
    return -1;
  const uint8_t *p = (const uint8_t *)s, *run = p;
  for (;;) {
    uint8_t c = *p;
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      p++;
      continue;
    }
    if (c >= 0x80) {
      size_t n = utf8_len(p);
      if (n == 0)
        return 1;
      p += n;
      continue;
    }
    if (p > run && out_append((const char *)run, (size_t)(p - run), b) != 0)
      return -1;
    if (c == '\0')
      break;
    char esc[6] = {'\\', 0};
    size_t n = 2;
    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default:
      memcpy(esc + 1, "u00", 3);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      n = 6;
    }
    if (out_append(esc, n, b) != 0)
      return -1;
    run = ++p;
  }
  return out_append("\"", 1, b);
}

/* ,"key": (without the comma for the first key of an object). Keys here are plain ASCII. */
static int put_key(outbuf *b, const char *key, int first)
{
  char k[32] = ",\"";
  size_t n = strlen(key);
  if (n > sizeof k - 5)
    return -1;
  memcpy(k + 2, key, n);
  memcpy(k + 2 + n, "\":", 2);
  return out_append(k + first, n + 4 - (size_t)first, b);
}

/* ,"key":N for an unsigned integer, as jansson writes it. */
static int put_uint(outbuf *b, const char *key, uint64_t v)
{
  char d[24];
  size_t i = sizeof d;
  do
    d[--i] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  int rc = put_key(b, key, 0);
  return rc ? rc : out_append(d + i, sizeof d - i, b);
}

static int put_string_or_null(outbuf *b, const char *key, const char *s)
{
  int rc = put_key(b, key, 0);
  return rc ? rc : s ? put_json_string(b, s) : out_append("null", 4, b);
}

/* A real as jansson writes es_json_real(v): "%.6g" of the value (rounding it to 6 digits first
 * prints the same digits), -0 as 0, ".0" added when there is neither '.' nor 'e', and the
 * exponent without '+' or leading zeros. */
static int put_real(outbuf *b, double v)
{
  char buf[48];
  int n = snprintf(buf, sizeof buf - 3, "%.*g", ES_FLOAT_DIGITS, v == 0 ? 0.0 : v);
  if (n <= 0 || (size_t)n >= sizeof buf - 3)
    return -1;
  size_t len = (size_t)n;
  char *e = strchr(buf, 'e');
  if (!e && !strchr(buf, '.')) {
    memcpy(buf + len, ".0", 3);
    len += 2;
  }
  if (e) {
    char *start = e + 1, *end = e + 2;
    if (*start == '-')
      start++;
    while (*end == '0')
      end++;
    memmove(start, end, len - (size_t)(end - buf) + 1);
    len -= (size_t)(end - start);
  }
  return out_append(buf, len, b);
}

static int write_item(outbuf *b, const es_item *it)
{
  const es_stats *st = &it->stats;
  const double vals[6] = {st->mean,       st->std,      st->sharpness,
                          st->saturation, st->clip_low, st->clip_high};
  if (!is_id(it->id) || strnlen(it->format, sizeof it->format) == sizeof it->format ||
      it->bytes > INT64_MAX || (it->cluster[0] && !is_id(it->cluster)) ||
      (it->extra && !json_is_object(it->extra)))
    return 1;
  for (int i = 0; i < 6; i++)
    if (!isfinite(vals[i]))
      return 1;
  for (size_t i = 0; i < it->n_seen; i++)
    if (!it->seen[i].path || !it->seen[i].batch)
      return 1;
  const char *k;
  json_t *v;
  if (it->extra) {
    json_object_foreach(it->extra, k, v) {
      if (is_known_key(k))
        return 1;
    }
  }

  static const char hex[] = "0123456789abcdef";
  char ph[16];
  for (int i = 0; i < 16; i++)
    ph[i] = hex[it->phash >> (60 - 4 * i) & 15];
  int rc = out_append("{\"id\":\"", 7, b);
  if (!rc && !(rc = out_append(it->id, ES_ID_HEX, b)) && !(rc = out_append("\"", 1, b)) &&
      !(rc = put_key(b, "format", 0)) && !(rc = put_json_string(b, it->format)) &&
      !(rc = put_uint(b, "width", it->width)) && !(rc = put_uint(b, "height", it->height)) &&
      !(rc = put_uint(b, "channels", it->channels)) && !(rc = put_uint(b, "bytes", it->bytes)) &&
      !(rc = out_append(",\"phash\":\"", 10, b)) && !(rc = out_append(ph, 16, b)))
    rc = out_append("\",\"stats\":{", 11, b);
  static const char *const names[6] = {"mean",       "std",      "sharpness",
                                       "saturation", "clip_low", "clip_high"};
  for (int i = 0; i < 6 && !rc; i++)
    if (!(rc = put_key(b, names[i], i == 0)))
      rc = put_real(b, vals[i]);
  if (!rc)
    rc = out_append("}", 1, b);
  char *esc = NULL;
  for (size_t i = 0; i < it->n_seen && !rc; i++) {
    const es_occurrence *oc = &it->seen[i];
    if (!(esc = es_path_escape(oc->path, NULL)))
      return -1;
    if (i == 0 && !(rc = put_key(b, "src", 0)))
      rc = put_json_string(b, esc);
    if (!rc && i == 0)
      rc = put_key(b, "seen", 0);
    if (!rc)
      rc = out_append(i == 0 ? "[{" : ",{", 2, b);
    if (!rc && !(rc = put_key(b, "path", 1)))
      rc = put_json_string(b, esc);
    if (!rc && !(rc = put_string_or_null(b, "batch", oc->batch)) &&
        !(rc = put_string_or_null(b, "device", oc->device)) &&
        !(rc = put_string_or_null(b, "time", oc->time)))
      rc = out_append("}", 1, b);
    free(esc);
  }
  if (!rc && !it->n_seen && !(rc = put_key(b, "seen", 0)))
    rc = out_append("[]", 2, b);
  else if (!rc)
    rc = out_append("]", 1, b);
  if (!rc && !(rc = put_string_or_null(b, "cluster", it->cluster[0] ? it->cluster : NULL)) &&
      !(rc = put_string_or_null(b, "label", it->label)) &&
      !(rc = put_string_or_null(b, "split", it->split)) &&
      !(rc = put_string_or_null(b, "split_note", it->split_note)))
    rc = put_string_or_null(b, "group", it->group);
  if (!rc && it->extra && json_object_size(it->extra)) {
    size_t ne = json_object_size(it->extra), i = 0;
    const char **keys = malloc(ne * sizeof *keys);
    if (!keys)
      return -1;
    json_object_foreach(it->extra, k, v) keys[i++] = k;
    qsort(keys, ne, sizeof *keys, cmp_cstr);
    for (i = 0; i < ne && !rc; i++) {
      if ((rc = out_append(",", 1, b)) || (rc = put_json_string(b, keys[i])) ||
          (rc = out_append(":", 1, b)))
        break;
      v = json_object_get(it->extra, keys[i]);
      if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)) {
        rc = put_json_string(b, json_string_value(v));
        continue;
      }
      json_t *c = canonical_copy(v);
      rc = !c || json_dump_callback(c, out_append, b, DUMP_FLAGS | JSON_ENCODE_ANY) != 0 ? -1 : 0;
      json_decref(c);
    }
    free(keys);
  }
  return rc ? rc : out_append("}\n", 2, b);
}

char *es_manifest_serialize(const es_manifest *m, size_t *len, es_error *err)
{
  outbuf b = {0};
  const es_item **order = NULL;
  json_t *j = NULL;
  int rc = ES_OK;
  *len = 0;
  if (out_append("", 0, &b) != 0 ||
      !(order = malloc((m->n ? m->n : 1) * sizeof *order))) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  for (size_t i = 0; i < m->n; i++)
    order[i] = &m->items[i];
  qsort(order, m->n, sizeof *order, cmp_item_ptr);
  for (size_t i = 0; i < m->n; i++) {
    if (i > 0 && strcmp(order[i]->id, order[i - 1]->id) == 0) {
      rc = es_error_set(err, ES_EFORMAT, "item '%s' is in the manifest twice", order[i]->id);
      goto cleanup;
    }
    size_t mark = b.n;
    int w = write_item(&b, order[i]);
    if (w == 0)
      continue;
    b.n = mark; /* what write_item() left of this line */
    if (w < 0) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
    j = es_item_to_json(order[i], err);
    if (!j) {
      rc = err ? err->code : ES_EFORMAT;
      goto cleanup;
    }
    if (json_dump_callback(j, out_append, &b, DUMP_FLAGS) != 0 || out_append("\n", 1, &b) != 0) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
    json_decref(j);
    j = NULL;
  }
cleanup:
  json_decref(j);
  free(order);
  if (rc) {
    free(b.p);
    return NULL;
  }
  *len = b.n;
  return b.p;
}
