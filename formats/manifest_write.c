/* es_manifest_serialize: items' lines written directly, anything else through jansson
 * (formats/manifest.h). */
#include "formats/manifest.h"
#include "formats/manifest_internal.h"

#include "core/json.h"
#include "core/show.h"
#include "formats/labels.h"
#include "formats/path_escape.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
      size_t n = es__path_utf8_len(p);
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
  if (!es__manifest_is_id(it->id) || strnlen(it->format, sizeof it->format) == sizeof it->format ||
      it->bytes > INT64_MAX || (it->cluster[0] && !es__manifest_is_id(it->cluster)) ||
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
      if (es__manifest_is_known_key(k))
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
    qsort(keys, ne, sizeof *keys, es__manifest_cmp_cstr);
    for (i = 0; i < ne && !rc; i++) {
      if ((rc = out_append(",", 1, b)) || (rc = put_json_string(b, keys[i])) ||
          (rc = out_append(":", 1, b)))
        break;
      v = json_object_get(it->extra, keys[i]);
      if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)) {
        rc = put_json_string(b, json_string_value(v));
        continue;
      }
      json_t *c = es__manifest_canonical_copy(v);
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
