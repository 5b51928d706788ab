/* The binary manifest index (index.h). Layout, all integers little-endian:
 *
 *   "ESIDX\0\0\1"                  magic and version (8 bytes)
 *   u64 manifest size, 32 bytes manifest XXH3-128 hex
 *   u64 item count, u64 string count
 *   strings: u32 length + bytes each (no NUL)
 *   items: 16 id bytes, u64 phash, 6 x f64 stats (IEEE bits), i64 time,
 *          u32 cluster, derived_from, label, split, split_note, group, device, batch, format
 *   32 bytes: XXH3-128 hex of everything before it
 *
 * Every number read back is checked against its bound, so a damaged file is rejected and the
 * index rebuilt from the manifest. */
#include "formats/index.h"

#include "core/hash.h"
#include "core/isotime.h"
#include "formats/labels.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ITEM_BYTES (16 + 8 + 48 + 8 + 9 * 4)
static const uint8_t magic[8] = {'E', 'S', 'I', 'D', 'X', 0, 0, 1};

static int hexval(char c)
{
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

void es_index_id_hex(const es_index *ix, size_t i, char out[33])
{
  static const char hx[] = "0123456789abcdef";
  for (int k = 0; k < 16; k++) {
    out[2 * k] = hx[ix->items[i].id[k] >> 4];
    out[2 * k + 1] = hx[ix->items[i].id[k] & 15];
  }
  out[32] = '\0';
}

int es_index_intern(es_index *ix, const char *s, uint32_t *num, es_error *err)
{
  if (!s) {
    *num = ES_INDEX_NONE;
    return ES_OK;
  }
  size_t v;
  if (es_strmap_get(&ix->str_of, s, &v)) {
    *num = (uint32_t)v;
    return ES_OK;
  }
  if (ix->n_strs >= ES_INDEX_NONE - 1)
    return es_error_set(err, ES_ELIMIT, "too many distinct strings for the index");
  if (ix->n_strs == ix->cap_strs) {
    size_t cap = ix->cap_strs ? ix->cap_strs * 2 : 64;
    char **t = realloc(ix->strs, cap * sizeof *t);
    if (!t)
      return es_error_set(err, ES_ENOMEM, "out of memory");
    ix->strs = t;
    ix->cap_strs = cap;
  }
  char *c = strdup(s);
  if (!c)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  int rc = es_strmap_put(&ix->str_of, s, ix->n_strs, err);
  if (rc) {
    free(c);
    return rc;
  }
  ix->strs[ix->n_strs] = c;
  *num = (uint32_t)ix->n_strs++;
  return ES_OK;
}

void es_index_free(es_index *ix)
{
  if (!ix)
    return;
  for (size_t i = 0; i < ix->n_strs; i++)
    free(ix->strs[i]);
  free(ix->strs);
  free(ix->items);
  es_strmap_free(&ix->str_of);
  memset(ix, 0, sizeof *ix);
}

/* ---- building ---- */

int es_index_from_manifest(const es_manifest *m, uint64_t manifest_size,
                           const char manifest_hash[33], es_index *ix, es_error *err)
{
  memset(ix, 0, sizeof *ix);
  int rc = ES_OK;
  ix->manifest_size = manifest_size;
  memcpy(ix->manifest_hash, manifest_hash, 33);
  if (m->n >= ES_INDEX_NONE)
    return es_error_set(err, ES_ELIMIT, "too many items for the index (%zu)", m->n);
  ix->items = calloc(m->n ? m->n : 1, sizeof *ix->items);
  if (!ix->items)
    return es_error_set(err, ES_ENOMEM, "out of memory for the index of %zu items", m->n);
  ix->n = m->n;
  es_strmap ids = {0};
  for (size_t i = 0; i < m->n; i++)
    if ((rc = es_strmap_put(&ids, m->items[i].id, i, err)))
      goto fail;
  for (size_t i = 0; i < m->n; i++) {
    const es_item *it = &m->items[i];
    es_index_item *x = &ix->items[i];
    for (int k = 0; k < 16; k++)
      x->id[k] = (uint8_t)(hexval(it->id[2 * k]) << 4 | hexval(it->id[2 * k + 1]));
    x->phash = it->phash;
    const es_stats *s = &it->stats;
    double st[6] = {s->mean, s->std, s->sharpness, s->saturation, s->clip_low, s->clip_high};
    memcpy(x->stats, st, sizeof st);
    size_t v;
    x->cluster = it->cluster[0] && es_strmap_get(&ids, it->cluster, &v) ? (uint32_t)v
                                                                          : ES_INDEX_NONE;
    const char *df = json_string_value(json_object_get(it->extra, "derived_from"));
    x->derived_from = df && es_strmap_get(&ids, df, &v) ? (uint32_t)v : ES_INDEX_NONE;
    x->time = ES_INDEX_NO_TIME;
    const char *dev = NULL, *batch = NULL;
    if (it->n_seen) {
      dev = it->seen[0].device;
      batch = it->seen[0].batch;
      int64_t t;
      if (it->seen[0].time && es_time_seconds(it->seen[0].time, &t) == 0)
        x->time = t;
    }
    if ((rc = es_index_intern(ix, it->label, &x->label, err)) ||
        (rc = es_index_intern(ix, it->split, &x->split, err)) ||
        (rc = es_index_intern(ix, it->split_note, &x->split_note, err)) ||
        (rc = es_index_intern(ix, it->group, &x->group, err)) ||
        (rc = es_index_intern(ix, dev, &x->device, err)) ||
        (rc = es_index_intern(ix, batch, &x->batch, err)) ||
        (rc = es_index_intern(ix, it->format, &x->format, err)))
      goto fail;
  }
  es_strmap_free(&ids);
  return ES_OK;
fail:
  es_strmap_free(&ids);
  es_index_free(ix);
  return rc;
}

/* ---- bytes ---- */

typedef struct wbuf {
  uint8_t *p;
  size_t n, cap;
  int oom;
} wbuf;

static void w_bytes(wbuf *w, const void *src, size_t len)
{
  if (w->oom)
    return;
  if (len > SIZE_MAX - w->n) {
    w->oom = 1;
    return;
  }
  if (w->n + len > w->cap) {
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->n + len)
      cap = cap > SIZE_MAX / 2 ? w->n + len : cap * 2;
    uint8_t *p = realloc(w->p, cap);
    if (!p) {
      w->oom = 1;
      return;
    }
    w->p = p;
    w->cap = cap;
  }
  memcpy(w->p + w->n, src, len);
  w->n += len;
}

static void w_u64(wbuf *w, uint64_t v)
{
  uint8_t b[8];
  for (int k = 0; k < 8; k++)
    b[k] = (uint8_t)(v >> (8 * k));
  w_bytes(w, b, 8);
}

static void w_u32(wbuf *w, uint32_t v)
{
  uint8_t b[4];
  for (int k = 0; k < 4; k++)
    b[k] = (uint8_t)(v >> (8 * k));
  w_bytes(w, b, 4);
}

static uint64_t r_u64(const uint8_t *p)
{
  uint64_t v = 0;
  for (int k = 7; k >= 0; k--)
    v = v << 8 | p[k];
  return v;
}

static uint32_t r_u32(const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint8_t *es_index_serialize(const es_index *ix, size_t *len, es_error *err)
{
  wbuf w = {0};
  w_bytes(&w, magic, 8);
  w_u64(&w, ix->manifest_size);
  w_bytes(&w, ix->manifest_hash, 32);
  w_u64(&w, ix->n);
  w_u64(&w, ix->n_strs);
  for (size_t i = 0; i < ix->n_strs; i++) {
    size_t l = strlen(ix->strs[i]);
    w_u32(&w, (uint32_t)l);
    w_bytes(&w, ix->strs[i], l);
  }
  for (size_t i = 0; i < ix->n; i++) {
    const es_index_item *x = &ix->items[i];
    w_bytes(&w, x->id, 16);
    w_u64(&w, x->phash);
    for (int k = 0; k < 6; k++) {
      uint64_t bits;
      memcpy(&bits, &x->stats[k], 8);
      w_u64(&w, bits);
    }
    w_u64(&w, (uint64_t)x->time);
    const uint32_t f[9] = {x->cluster, x->derived_from, x->label, x->split, x->split_note,
                           x->group, x->device, x->batch, x->format};
    for (int k = 0; k < 9; k++)
      w_u32(&w, f[k]);
  }
  if (!w.oom) {
    char h[33];
    es_hash_hex(w.p, w.n, h);
    w_bytes(&w, h, 32);
  }
  if (w.oom) {
    free(w.p);
    es_error_set(err, ES_ENOMEM, "out of memory writing the index");
    return NULL;
  }
  *len = w.n;
  return w.p;
}

int es_index_parse(const uint8_t *buf, size_t len, es_index *ix, es_error *err)
{
  memset(ix, 0, sizeof *ix);
  int rc;
  if (len < 8 + 8 + 32 + 16 + 32 || memcmp(buf, magic, 8))
    return es_error_set(err, ES_EFORMAT, "index: not an edgeset index of this version");
  char h[33];
  es_hash_hex(buf, len - 32, h);
  if (memcmp(h, buf + len - 32, 32))
    return es_error_set(err, ES_EFORMAT, "index: checksum mismatch");
  const uint8_t *p = buf + 8, *end = buf + len - 32;
  ix->manifest_size = r_u64(p);
  memcpy(ix->manifest_hash, p + 8, 32);
  ix->manifest_hash[32] = '\0';
  uint64_t n = r_u64(p + 40), ns = r_u64(p + 48);
  p += 56;
  if (n >= ES_INDEX_NONE || ns >= ES_INDEX_NONE || ns > (uint64_t)(end - p) / 4)
    return es_error_set(err, ES_EFORMAT, "index: bad counts");
  for (uint64_t i = 0; i < ns; i++) {
    if (end - p < 4)
      goto bad;
    uint32_t l = r_u32(p);
    p += 4;
    if ((uint64_t)(end - p) < l || memchr(p, 0, l))
      goto bad;
    char *s = malloc((size_t)l + 1);
    if (!s) {
      es_index_free(ix);
      return es_error_set(err, ES_ENOMEM, "out of memory reading the index");
    }
    memcpy(s, p, l);
    s[l] = '\0';
    p += l;
    uint32_t num;
    rc = es_index_intern(ix, s, &num, err);
    free(s);
    if (rc) {
      es_index_free(ix);
      return rc;
    }
    if (num != i)
      goto bad; /* duplicate string */
  }
  if ((uint64_t)(end - p) != n * ITEM_BYTES)
    goto bad;
  ix->items = calloc(n ? (size_t)n : 1, sizeof *ix->items);
  if (!ix->items) {
    es_index_free(ix);
    return es_error_set(err, ES_ENOMEM, "out of memory reading the index");
  }
  ix->n = (size_t)n;
  for (size_t i = 0; i < ix->n; i++, p += ITEM_BYTES) {
    es_index_item *x = &ix->items[i];
    memcpy(x->id, p, 16);
    x->phash = r_u64(p + 16);
    for (int k = 0; k < 6; k++) {
      uint64_t bits = r_u64(p + 24 + 8 * k);
      memcpy(&x->stats[k], &bits, 8);
    }
    x->time = (int64_t)r_u64(p + 72);
    uint32_t f[9];
    for (int k = 0; k < 9; k++)
      f[k] = r_u32(p + 80 + 4 * k);
    if ((f[0] != ES_INDEX_NONE && f[0] >= n) || (f[1] != ES_INDEX_NONE && f[1] >= n))
      goto bad;
    for (int k = 2; k < 9; k++)
      if (f[k] != ES_INDEX_NONE && f[k] >= ns)
        goto bad;
    x->cluster = f[0];
    x->derived_from = f[1];
    x->label = f[2];
    x->split = f[3];
    x->split_note = f[4];
    x->group = f[5];
    x->device = f[6];
    x->batch = f[7];
    x->format = f[8];
  }
  /* The one label rule (formats/labels.h) holds here as in the manifest reader: an index that
   * breaks it counts as damaged, so es_index_load() reads the manifest, which names the line. */
  for (size_t i = 0; i < ix->n; i++)
    if (ix->items[i].label != ES_INDEX_NONE && es_label_invalid(ix->strs[ix->items[i].label]))
      goto bad;
  return ES_OK;
bad:
  es_index_free(ix);
  return es_error_set(err, ES_EFORMAT, "index: damaged");
}

/* ---- dataset ---- */

static void save_index(const es_store *st, const es_index *ix)
{
  size_t len;
  uint8_t *b = es_index_serialize(ix, &len, NULL);
  if (b)
    es_store_replace(st, "index.bin", b, len, NULL);
  free(b);
}

/* Reads and parses manifest.jsonl into m (zeroed first; freed on failure), with its size and
 * hash when asked for. */
static int read_manifest(const es_store *st, es_manifest *m, size_t *len, char hash[33],
                         es_error *err)
{
  uint8_t *buf = NULL;
  size_t n = 0;
  memset(m, 0, sizeof *m);
  int rc = es_store_read(st, "manifest.jsonl", 1, &buf, &n, err);
  if (rc)
    return rc;
  const uint8_t *bytes = buf ? buf : (const uint8_t *)"";
  if (hash)
    es_hash_hex(bytes, n, hash);
  if (len)
    *len = n;
  rc = es_manifest_parse(bytes, n, m, err);
  free(buf);
  if (rc) {
    es_error_prefix(err, "cannot read '%s/manifest.jsonl'", st->root);
    es_manifest_free(m);
  }
  return rc;
}

int es_index_load(const es_store *st, es_manifest *m, es_index *ix, int *parsed, es_error *err)
{
  int rc;
  uint8_t *buf = NULL;
  size_t len = 0;
  char hash[33];
  memset(ix, 0, sizeof *ix);
  if (parsed)
    *parsed = 0;
  if (!m) {
    int fd = openat(st->dirfd, "manifest.jsonl", O_RDONLY | O_CLOEXEC);
    uint64_t size = 0;
    uint8_t last = '\n';
    if (fd < 0 && errno != ENOENT)
      return es_error_errno(err, ES_EIO, errno, "cannot open '%s/manifest.jsonl'", st->root);
    if (fd < 0) {
      es_hash_hex("", 0, hash);
    } else {
      rc = es_hash_fd_hex(fd, &size, hash, err);
      if (!rc && size > 0 && pread(fd, &last, 1, (off_t)(size - 1)) != 1)
        rc = es_error_errno(err, ES_EIO, errno, "cannot read '%s/manifest.jsonl'", st->root);
      close(fd);
      if (rc)
        return rc;
    }
    /* A manifest that does not end in a newline may have been cut short after its index was
     * written (an index made by an edgeset that skipped a torn last line would even match its
     * bytes): only the parser can tell, and it refuses a torn line. */
    if (last == '\n' && es_store_read(st, "index.bin", 1, &buf, &len, NULL) == ES_OK && buf) {
      es_index tmp;
      if (es_index_parse(buf, len, &tmp, NULL) == ES_OK) {
        if (tmp.manifest_size == size && !memcmp(tmp.manifest_hash, hash, 32)) {
          free(buf);
          *ix = tmp;
          return ES_OK;
        }
        es_index_free(&tmp);
      }
    }
    free(buf);
    buf = NULL;
  }
  es_manifest local = {0};
  es_manifest *mm = m ? m : &local;
  if ((rc = read_manifest(st, mm, &len, hash, err)))
    return rc;
  if (parsed)
    *parsed = 1;
  rc = es_index_from_manifest(mm, len, hash, ix, err);
  if (rc == ES_OK) {
    /* Refresh index.bin unless it already describes these bytes. */
    uint8_t *old = NULL;
    size_t olen = 0;
    int fresh = 0;
    if (es_store_read(st, "index.bin", 1, &old, &olen, NULL) == ES_OK && old &&
        olen >= 48 && !memcmp(old, magic, 8) && r_u64(old + 8) == len &&
        !memcmp(old + 16, hash, 32))
      fresh = 1;
    free(old);
    if (!fresh)
      save_index(st, ix);
  }
  es_manifest_free(&local);
  if (rc && m)
    es_manifest_free(m);
  return rc;
}

int es_manifest_load(const es_store *st, es_manifest *m, es_error *err)
{
  return read_manifest(st, m, NULL, NULL, err);
}

const char *es_object_ext(const char *format)
{
  return !format[0] ? "bin" : !strcmp(format, "jpeg") ? "jpg" : format;
}

void es_object_rel(const char *id, const char *format, char out[ES_OBJECT_REL_MAX])
{
  snprintf(out, ES_OBJECT_REL_MAX, "objects/%.2s/%s.%.15s", id, id, es_object_ext(format));
}

int es_item_read_bytes(const es_store *st, const es_item *it, uint8_t **buf, size_t *len,
                       es_error *err)
{
  char rel[ES_OBJECT_REL_MAX];
  es_object_rel(it->id, it->format, rel);
  *buf = NULL;
  int rc = es_store_read(st, rel, 1, buf, len, err);
  if (rc || *buf)
    return rc;
  if (!it->n_seen) /* no object and nowhere else to look */
    return es_error_set(err, ES_ENOTFOUND, "item %s: no object '%s'", it->id, rel);
  rc = es_read_file(it->seen[0].path, buf, len, err);
  if (rc)
    es_error_prefix(err, "item %s has no object", it->id);
  return rc;
}

int es_index_commit_manifest(const es_store *st, const es_manifest *m, es_index *ix,
                             es_error *err)
{
  size_t len = 0;
  char *bytes = es_manifest_serialize(m, &len, err);
  if (!bytes)
    return err ? err->code : ES_ENOMEM;
  return es_index_commit_serialized(st, m, bytes, len, ix, NULL, NULL, err);
}

int es_index_commit_serialized(const es_store *st, const es_manifest *m, char *bytes, size_t len,
                               es_index *ix, int (*before)(void *ctx, es_error *err), void *ctx,
                               es_error *err)
{
  char hash[33];
  es_hash_hex(bytes, len, hash);
  int rc = es_store_replace_hook(st, "manifest.jsonl", bytes, len, before, ctx, err);
  free(bytes);
  if (rc)
    return rc;
  es_index_save_committed(st, m, len, hash, ix);
  return ES_OK;
}

void es_index_save_committed(const es_store *st, const es_manifest *m, uint64_t manifest_size,
                             const char manifest_hash[33], es_index *ix)
{
  es_index nix;
  if (es_index_from_manifest(m, manifest_size, manifest_hash, &nix, NULL) == ES_OK) {
    save_index(st, &nix);
    if (ix) {
      es_index_free(ix);
      *ix = nix;
    } else {
      es_index_free(&nix);
    }
  }
}
