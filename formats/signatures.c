/* DATASET/signatures.bin (formats/signatures.h). Layout, little-endian:
 *   "ESSIGS" 0x00 0x01      magic and format version (8 bytes)
 *   u32 count, u32 side     records, and the signature's side (ES_SIG_SIDE)
 *   count records           id (16 bytes, the id's hex digits as bytes), u16 picture side,
 *                           ES_SIG_PIXELS luma bytes
 *   32 bytes                XXH3-128 (hex digits) of everything before */
#include "formats/signatures.h"

#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "formats/decode.h"
#include "formats/features.h"

static const uint8_t MAGIC[8] = {'E', 'S', 'S', 'I', 'G', 'S', 0, 1};
#define HEAD 16
#define REC (16 + 2 + ES_SIG_PIXELS)
#define TAIL 32

static int hexval(int c)
{
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The 32 hex digits of an id as 16 bytes; -1 when it is not 32 lowercase hex digits. */
static int id_bytes(const char *hex, uint8_t out[16])
{
  for (int i = 0; i < 16; i++) {
    int hi = hexval(hex[2 * i]), lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return hex[32] ? -1 : 0;
}

static uint32_t get32(const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static int grow(es_sigs *s, es_error *err)
{
  if (s->n < s->cap)
    return ES_OK;
  size_t cap = s->cap ? 2 * s->cap : 256;
  uint8_t(*id)[16] = realloc(s->id, cap * sizeof *id);
  if (id)
    s->id = id;
  es_near_sig *sig = id ? realloc(s->sig, cap * sizeof *sig) : NULL;
  if (!sig)
    return es_error_set(err, ES_ENOMEM, "out of memory for %zu signatures", cap);
  s->sig = sig;
  s->cap = cap;
  return ES_OK;
}

int es_sigs_put(es_sigs *s, const char *id_hex, const es_near_sig *sig, es_error *err)
{
  uint8_t id[16];
  if (id_bytes(id_hex, id))
    return es_error_set(err, ES_EINTERNAL, "signature of a malformed id");
  int rc = grow(s, err);
  if (rc)
    return rc;
  memcpy(s->id[s->n], id, 16);
  s->sig[s->n++] = *sig;
  return ES_OK;
}

typedef struct ord {
  const uint8_t *id;
  size_t at;
} ord;

static int cmp_ord(const void *a, const void *b)
{
  const ord *x = a, *y = b;
  int c = memcmp(x->id, y->id, 16);
  return c ? c : (x->at > y->at) - (x->at < y->at);
}

static int full_sort(es_sigs *s, es_error *err);

/* The length of the strictly increasing prefix. */
static size_t sorted_prefix(const es_sigs *s)
{
  size_t p = s->n ? 1 : 0;
  while (p < s->n && memcmp(s->id[p - 1], s->id[p], 16) < 0)
    p++;
  return p;
}

/* A sorted file's signatures plus a run's few new ones put after them (what every collect and
 * merge has): the tail is sorted on its own, its ids the prefix already has replace the
 * prefix's signatures in place (a later put wins), and the rest are merged in from the back,
 * without copying the prefix to new arrays (a gigabyte at 1M items). */
int es_sigs_sort(es_sigs *s, es_error *err)
{
  size_t p = sorted_prefix(s);
  if (p == s->n)
    return ES_OK;
  if (s->n - p > s->n / 8)
    return full_sort(s, err);
  es_sigs tail = {0};
  int rc = ES_OK;
  for (size_t i = p; i < s->n && !rc; i++) {
    rc = grow(&tail, err);
    if (!rc) {
      memcpy(tail.id[tail.n], s->id[i], 16);
      tail.sig[tail.n++] = s->sig[i];
    }
  }
  if (!rc)
    rc = full_sort(&tail, err);
  if (rc) {
    es_sigs_free(&tail);
    return rc;
  }
  s->n = p;
  size_t keep = 0;
  for (size_t j = 0; j < tail.n; j++) {
    es_near_sig *old = (es_near_sig *)es_sigs_find_bin(s, tail.id[j]);
    if (old) {
      *old = tail.sig[j];
    } else {
      if (keep != j) {
        memcpy(tail.id[keep], tail.id[j], 16);
        tail.sig[keep] = tail.sig[j];
      }
      keep++;
    }
  }
  size_t i = p, j = keep, w = p + keep;
  while (j > 0) {
    if (i > 0 && memcmp(s->id[i - 1], tail.id[j - 1], 16) > 0) {
      i--;
      w--;
      memcpy(s->id[w], s->id[i], 16);
      s->sig[w] = s->sig[i];
    } else {
      j--;
      w--;
      memcpy(s->id[w], tail.id[j], 16);
      s->sig[w] = tail.sig[j];
    }
  }
  s->n = p + keep;
  es_sigs_free(&tail);
  return ES_OK;
}

static int full_sort(es_sigs *s, es_error *err)
{
  if (s->n < 2)
    return ES_OK;
  ord *o = malloc(s->n * sizeof *o);
  uint8_t(*id)[16] = malloc(s->n * sizeof *id);
  es_near_sig *sig = malloc(s->n * sizeof *sig);
  if (!o || !id || !sig) {
    free(o);
    free(id);
    free(sig);
    return es_error_set(err, ES_ENOMEM, "out of memory sorting %zu signatures", s->n);
  }
  for (size_t i = 0; i < s->n; i++)
    o[i] = (ord){s->id[i], i};
  qsort(o, s->n, sizeof *o, cmp_ord);
  size_t k = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (i + 1 < s->n && !memcmp(o[i].id, o[i + 1].id, 16))
      continue; /* a later put of the same id follows: it wins */
    memcpy(id[k], o[i].id, 16);
    sig[k++] = s->sig[o[i].at];
  }
  free(o);
  free(s->id);
  free(s->sig);
  s->id = id;
  s->sig = sig;
  s->n = k;
  s->cap = s->n;
  return ES_OK;
}

const es_near_sig *es_sigs_find_bin(const es_sigs *s, const uint8_t id[16])
{
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = memcmp(s->id[mid], id, 16);
    if (c == 0)
      return &s->sig[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

const es_near_sig *es_sigs_find(const es_sigs *s, const char *id_hex)
{
  uint8_t id[16];
  return id_bytes(id_hex, id) ? NULL : es_sigs_find_bin(s, id);
}

void es_sigs_free(es_sigs *s)
{
  if (!s)
    return;
  free(s->id);
  free(s->sig);
  memset(s, 0, sizeof *s);
}

es_near_sig *es_sigs_for_index(const es_sigs *s, const es_index *ix, size_t *missing,
                               es_error *err)
{
  es_near_sig *out = malloc((ix->n ? ix->n : 1) * sizeof *out);
  if (!out) {
    es_error_set(err, ES_ENOMEM, "out of memory for %zu signatures", ix->n);
    return NULL;
  }
  size_t miss = 0;
  for (size_t i = 0; i < ix->n; i++) {
    const es_near_sig *g = es_sigs_find_bin(s, ix->items[i].id);
    if (g) {
      out[i] = *g;
    } else {
      out[i].side = 0;
      miss++;
    }
  }
  if (missing)
    *missing = miss;
  return out;
}

uint8_t *es_sigs_serialize(const es_sigs *s, const es_manifest *m, size_t *len, size_t *written,
                           es_error *err)
{
  size_t n = 0;
  for (size_t i = 0; i < m->n; i++)
    n += es_sigs_find(s, m->items[i].id) != NULL;
  if (n > UINT32_MAX) {
    es_error_set(err, ES_ELIMIT, "%zu signatures: more than the file holds", n);
    return NULL;
  }
  size_t total = HEAD + n * REC + TAIL;
  uint8_t *buf = malloc(total);
  if (!buf) {
    es_error_set(err, ES_ENOMEM, "out of memory for %zu signatures", n);
    return NULL;
  }
  memcpy(buf, MAGIC, 8);
  put32(buf + 8, (uint32_t)n);
  put32(buf + 12, ES_SIG_SIDE);
  uint8_t *p = buf + HEAD;
  for (size_t i = 0; i < m->n; i++) {
    const es_near_sig *g = es_sigs_find(s, m->items[i].id);
    if (!g)
      continue;
    id_bytes(m->items[i].id, p);
    p[16] = (uint8_t)g->side;
    p[17] = (uint8_t)(g->side >> 8);
    memcpy(p + 18, g->px, ES_SIG_PIXELS);
    p += REC;
  }
  char h[33];
  es_hash_hex(buf, HEAD + n * REC, h);
  memcpy(p, h, TAIL);
  *len = total;
  if (written)
    *written = n;
  return buf;
}

int es_sigs_parse(const uint8_t *buf, size_t len, es_sigs *s, es_error *err)
{
  memset(s, 0, sizeof *s);
  if (len < HEAD + TAIL || memcmp(buf, MAGIC, 8))
    return es_error_set(err, ES_EFORMAT, "not a signatures file of this version");
  uint32_t n = get32(buf + 8);
  if (get32(buf + 12) != ES_SIG_SIDE || (len - HEAD - TAIL) / REC != n ||
      (len - HEAD - TAIL) % REC)
    return es_error_set(err, ES_EFORMAT, "size does not match its %u records", n);
  char h[33];
  es_hash_hex(buf, len - TAIL, h);
  if (memcmp(h, buf + len - TAIL, TAIL))
    return es_error_set(err, ES_EFORMAT, "checksum mismatch");
  s->id = malloc((n ? n : 1) * sizeof *s->id);
  s->sig = malloc((n ? n : 1) * sizeof *s->sig);
  if (!s->id || !s->sig) {
    es_sigs_free(s);
    return es_error_set(err, ES_ENOMEM, "out of memory for %u signatures", n);
  }
  s->cap = n;
  const uint8_t *p = buf + HEAD;
  for (uint32_t i = 0; i < n; i++, p += REC) {
    if (i && memcmp(p - REC, p, 16) >= 0) {
      es_sigs_free(s);
      return es_error_set(err, ES_EFORMAT, "records not in increasing id order");
    }
    memcpy(s->id[i], p, 16);
    s->sig[i].side = (uint16_t)(p[16] | p[17] << 8);
    memcpy(s->sig[i].px, p + 18, ES_SIG_PIXELS);
  }
  s->n = n;
  return ES_OK;
}

int es_sigs_load(const es_store *st, es_sigs *s, int *damaged, es_error *err)
{
  memset(s, 0, sizeof *s);
  if (damaged)
    *damaged = 0;
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = es_store_read(st, ES_SIGS_FILE, 1, &buf, &len, err);
  if (rc || !buf)
    return rc;
  es_error perr = {0};
  rc = es_sigs_parse(buf, len, s, &perr);
  free(buf);
  if (rc == ES_ENOMEM)
    return es_error_set(err, rc, "%s", perr.msg);
  if (rc) {
    if (damaged)
      *damaged = 1;
    memset(s, 0, sizeof *s);
  }
  return ES_OK;
}

int es_sigs_complete(const es_store *st, es_sigs *s, const es_manifest *m, int threads,
                     void (*warn)(void *ctx, const char *id, const char *why), void *ctx,
                     size_t *computed, size_t *missing, es_error *err)
{
  int rc = es_sigs_sort(s, err);
  if (rc)
    return rc;
  size_t *todo = malloc((m->n ? m->n : 1) * sizeof *todo), nt = 0;
  if (!todo)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  for (size_t i = 0; i < m->n; i++)
    if (!es_sigs_find(s, m->items[i].id))
      todo[nt++] = i;
  es_near_sig *got = calloc(nt ? nt : 1, sizeof *got);
  char(*why)[sizeof((es_error *)0)->msg] = calloc(nt ? nt : 1, sizeof *why);
  if (!got || !why) {
    free(todo);
    free(got);
    free(why);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  es_decode_opts dopts = {.max_pixels = st->settings.max_pixels,
                          .jpeg_no_fancy_upsampling = !st->settings.jpeg_fancy_upsampling,
                          .jpeg_dct_float = st->settings.jpeg_dct_float};
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads > 0 ? threads : 1)
  for (size_t k = 0; k < nt; k++) {
    const es_item *it = &m->items[todo[k]];
    uint8_t *buf = NULL;
    size_t len = 0;
    es_error e = {0};
    es_image img = {0};
    int r = es_item_read_bytes(st, it, &buf, &len, &e);
    if (!r)
      r = es_image_decode(buf, len, &dopts, &img, NULL, &e);
    if (!r)
      r = es_image_features(&img, NULL, NULL, &got[k], &e);
    es_image_free(&img);
    free(buf);
    if (r) {
      got[k].side = 0;
      snprintf(why[k], sizeof why[k], "%s", e.msg[0] ? e.msg : es_code_name(r));
    }
  }
  size_t ok = 0, bad = 0;
  for (size_t k = 0; k < nt && !rc; k++) {
    if (!got[k].side) {
      bad++;
      if (warn)
        warn(ctx, m->items[todo[k]].id, why[k]);
      continue;
    }
    rc = es_sigs_put(s, m->items[todo[k]].id, &got[k], err);
    ok++;
  }
  if (!rc)
    rc = es_sigs_sort(s, err);
  free(todo);
  free(got);
  free(why);
  if (computed)
    *computed = ok;
  if (missing)
    *missing = bad;
  return rc;
}
