/* es_manifest_parse: canonical lines read directly, anything else through jansson
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
    if (*p >= 0x80) { /* es__path_utf8_len() reads up to 4 bytes, or to a NUL */
      uint8_t t[5] = {0};
      memcpy(t, p, end - p < 4 ? (size_t)(end - p) : 4);
      k = es__path_utf8_len(t);
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
  if (!es__manifest_is_id(it->id) || LIT(&r, ",\"format\":"))
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
      !es__manifest_is_lower_hex_n(r.p, 16) || r.p[16] != '"')
    return 1;
  it->width = (uint32_t)w;
  it->height = (uint32_t)h;
  it->channels = (uint32_t)c;
  for (int i = 0; i < 16; i++)
    it->phash = it->phash << 4 | (uint64_t)es__path_hex_value(r.p[i]);
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
  if (s && (strlen(s) != ES_ID_HEX || !es__manifest_is_id(s)))
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
        (es__manifest_is_known_key(key) || (it->extra && json_object_get(it->extra, key)) ||
         LIT(&r, ":")))
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
