/* es_collect_run: one collect run over a locked dataset.
 *
 * 1. Gather inputs (inputs.c) and load what the dataset already says: manifest, the batch
 *    sequence from the ledger, and which (batch, path) pairs earlier runs recorded, so that a
 *    re-run after a crash only completes the work.
 * 2. In parallel, per input: read the bytes once, hash them (the item id), read metadata
 *    (sidecar, EXIF time), and, for the first input with bytes the dataset does not have,
 *    decode, compute the pixel hash, phash and stats, and store the object.
 * 3. In the canonical order (paths sorted bytewise), decide what each input is: new item,
 *    occurrence, or quarantine line; then derive clusters (formats/clusters.c).
 * 4. Commit, one dataset transaction (formats/dataset.h): quarantine lines appended, objects
 *    published, the new manifest written, a new batch's ledger record appended, the manifest
 *    renamed (the commit point), index.bin rewritten, the collect record appended.
 * Objects are written before the manifest that refers to them; an object left behind by a
 * killed run is simply re-used by the next one. */
#include "collect/collect.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "formats/clusters.h"
#include "formats/signatures.h"
#include "formats/dataset.h"
#include "formats/tombstones.h"
#include "formats/batch_state.h"
#include "formats/features.h"
#include "collect/inputs_internal.h"
#include "core/strmap.h"
#include "formats/decode.h"
#include "formats/index.h"
#include "formats/manifest.h"
#include "core/hash.h"
#include "core/profile.h"
#include "formats/path_escape.h"

const char *const es_quarantine_codes[ES_Q_COUNT] = {
    "missing", "unreadable", "empty", "too-large", "unsupported", "corrupt", "changed", "bad-sidecar",
    "redacted",
};

/* What one input turned out to be. Facts (format onwards) are filled only in the record that
 * decoded the bytes (its `decoder` is itself); others with the same id point to it. */
typedef struct rec {
  const char *path;
  char id[ES_ID_HEX + 1];
  int q;          /* -1, or an ES_Q_* code */
  char *reason;   /* quarantine reason */
  char *device, *time;
  size_t decoder; /* index of the record that decoded these bytes, SIZE_MAX: nobody needed to */
  const char *format;
  uint32_t width, height, channels;
  uint64_t bytes;
  uint64_t phash;
  es_stats stats;
  es_near_sig sig;
  char pixels[ES_ID_HEX + 1];
  char *object; /* stored object, relative to the dataset root */
  size_t slot;  /* its place in the run's object batch, SIZE_MAX when not staged */
  char *sidecar_bad; /* why "<path>.json" could not be used, or NULL */
} rec;

typedef struct run {
  es_store *st;
  const es_collect_opts *o;
  es_batch_state k;    /* what the dataset says: manifest, batches, what this batch recorded,
                          tombstones */
  es_strmap claims;    /* id -> record that decodes it */
  size_t n_loaded;     /* items the manifest had before this run */
  es__inputs in;
  rec *recs;
  es_decode_opts dopts;
  es_dataset *tx; /* objects staged in parallel, quarantine lines, the commit */
  es_sigs sigs;   /* signatures.bin, plus the new items' signatures */
  json_t *nosig;  /* items whose signature could not be computed: {"id", "reason"} */
} run;

static void set_quarantine(rec *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_quarantine(rec *r, int code, const char *fmt, ...)
{
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  r->q = code;
  free(r->reason);
  r->reason = strdup(buf);
}

/* ---- loading what the dataset already says ---- */

static int load_dataset(run *R, es_error *err)
{
  int rc = es_batch_state_load(R->st, R->o->batch, &R->k, err);
  R->n_loaded = R->k.m.n;
  return rc;
}

/* ---- per-input work (parallel) ---- */

/* Reads a whole regular file into *buf. On failure sets the record's quarantine reason and
 * returns -1. */
static int read_input(rec *r, const run *R, uint8_t **buf, size_t *len, struct stat *st)
{
  *buf = NULL;
  int fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    set_quarantine(r, e == ENOENT ? ES_Q_MISSING : ES_Q_UNREADABLE, "cannot open: %s",
                   strerror(e));
    return -1;
  }
  if (fstat(fd, st) != 0) {
    set_quarantine(r, ES_Q_UNREADABLE, "cannot stat: %s", strerror(errno));
    close(fd);
    return -1;
  }
  if (!S_ISREG(st->st_mode)) {
    set_quarantine(r, ES_Q_UNREADABLE, "not a regular file");
    close(fd);
    return -1;
  }
  if (st->st_size == 0) {
    set_quarantine(r, ES_Q_EMPTY, "empty file");
    close(fd);
    return -1;
  }
  if ((uint64_t)st->st_size > R->st->settings.max_file_bytes) {
    set_quarantine(r, ES_Q_TOO_LARGE, "file is %lld bytes, above the limit of %llu bytes",
                   (long long)st->st_size, (unsigned long long)R->st->settings.max_file_bytes);
    close(fd);
    return -1;
  }
  size_t size = (size_t)st->st_size, got = 0;
  uint8_t *b = malloc(size);
  if (!b) {
    set_quarantine(r, ES_Q_TOO_LARGE, "out of memory reading %zu bytes", size);
    close(fd);
    return -1;
  }
  while (got < size) {
    ssize_t n = read(fd, b + got, size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n < 0)
        set_quarantine(r, ES_Q_UNREADABLE, "read failed: %s", strerror(errno));
      else
        set_quarantine(r, ES_Q_CHANGED, "file shrank while being read (%zu of %zu bytes)", got,
                       size);
      free(b);
      close(fd);
      return -1;
    }
    got += (size_t)n;
  }
  close(fd);
  *buf = b;
  *len = size;
  return 0;
}

/* "2026-11-21T20:06:37+01:00" for a time stamp in local time. */
static char *format_local_time(time_t t)
{
  struct tm tm;
  if (!localtime_r(&t, &tm))
    return NULL;
  char buf[64];
  long off = tm.tm_gmtoff;
  char sign = off < 0 ? '-' : '+';
  if (off < 0)
    off = -off;
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 3600,
           off / 60 % 60);
  return strdup(buf);
}

/* What is wrong with JSON that jansson refused, in words that quote nothing of it: jansson's own
 * text shows the token it stopped at ("invalid token near 'root:x:0'") or a byte's value, and a
 * quarantine record never copies the contents of a file (the "sidecar" may be a link to any
 * file). */
static const char *json_problem(const json_error_t *je)
{
  switch (json_error_code(je)) {
  case json_error_out_of_memory: return "out of memory";
  case json_error_stack_overflow: return "nested too deeply";
  case json_error_invalid_utf8: return "not valid UTF-8";
  case json_error_premature_end_of_input: return "ends before the JSON value does";
  case json_error_end_of_input_expected: return "more after the JSON value";
  case json_error_null_character: return "a NUL byte";
  case json_error_null_byte_in_key: return "a NUL byte in a key";
  case json_error_duplicate_key: return "a duplicate key";
  case json_error_numeric_overflow: return "a number out of range";
  default: return "not valid JSON";
  }
}

/* Reads "<path>.json" when present: device and time. A sidecar that exists but is not a JSON
 * object with string fields is reported in *bad (malloc'd reason). */
static void read_sidecar(const char *path, char **bad, char **device, char **time_s)
{
  size_t n = strlen(path);
  char *sp = malloc(n + 6);
  if (!sp)
    return;
  memcpy(sp, path, n);
  memcpy(sp + n, ".json", 6);
  /* Not blocking on a FIFO or a device that happens to have the sidecar's name. */
  int fd = open(sp, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  free(sp);
  if (fd < 0)
    return;
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    *bad = strdup("bad sidecar: not a regular file");
    return;
  }
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    close(fd);
    return;
  }
  json_error_t je;
  json_t *j = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
  fclose(f);
  char why[300] = "";
  if (!j)
    snprintf(why, sizeof why, "bad sidecar: line %d, column %d: %s", je.line, je.column,
             json_problem(&je));
  else if (!json_is_object(j))
    snprintf(why, sizeof why, "bad sidecar: not a JSON object");
  else {
    json_t *d = json_object_get(j, "device"), *t = json_object_get(j, "time");
    if ((d && !json_is_string(d)) || (t && !json_is_string(t)))
      snprintf(why, sizeof why, "bad sidecar: \"device\" and \"time\" must be strings");
    else {
      if (d && json_string_length(d))
        *device = strdup(json_string_value(d));
      if (t && json_string_length(t))
        *time_s = strdup(json_string_value(t));
    }
  }
  json_decref(j);
  if (why[0])
    *bad = strdup(why);
}

/* Decodes the bytes of r, computes its facts and stores the object. Returns a negative code
 * only for failures that must stop the run (the dataset cannot be written). */
static int decode_input(rec *r, const run *R, const uint8_t *buf, size_t len,
                        es_image_info *info, es_error *err)
{
  es_image img = {0};
  es_error derr = {0};
  int rc = es_image_decode(buf, len, &R->dopts, &img, info, &derr);
  if (rc) {
    info->capture_time[0] = '\0';
    int code = rc == ES_EUNSUPPORTED ? ES_Q_UNSUPPORTED
               : rc == ES_ELIMIT     ? ES_Q_TOO_LARGE
               : rc == ES_ENOMEM     ? ES_Q_TOO_LARGE
                                     : ES_Q_CORRUPT;
    if (code == ES_Q_UNSUPPORTED && !es_format_sniff(buf, len))
      /* The decoder's message shows the first bytes, which a record must not keep: the input
       * may be a link to any file (/etc/passwd). Its hash is kept in the record (`id`). */
      set_quarantine(r, code, "unknown format (not an image)");
    else
      set_quarantine(r, code, "%s", derr.msg[0] ? derr.msg : es_code_name(rc));
    return ES_OK;
  }
  r->format = info->format;
  r->width = img.width;
  r->height = img.height;
  r->channels = img.channels;
  r->bytes = len;
  rc = es_image_hash_hex(&img, r->pixels, &derr);
  if (rc == ES_OK)
    rc = es_image_features(&img, &r->phash, &r->stats, &r->sig, &derr);
  es_image_free(&img);
  if (rc) {
    set_quarantine(r, ES_Q_TOO_LARGE, "%s", derr.msg[0] ? derr.msg : es_code_name(rc));
    return ES_OK;
  }
  if (R->o->dry_run || !strcmp(R->o->store_mode, "ref"))
    return ES_OK;
  rc = es_dataset_stage_object(R->tx, r->id, es_object_ext(info->format), buf, len, r->path,
                               R->o->store_mode, &r->slot, &r->object, err);
  if (rc)
    es_error_prefix(err, "cannot store '%s'", r->path);
  return rc;
}

static int ingest_one(run *R, size_t i, es_error *err)
{
  rec *r = &R->recs[i];
  uint8_t *buf = NULL;
  size_t len = 0;
  struct stat st;
  if (R->in.v[i].error) {
    set_quarantine(r, ES_Q_UNREADABLE, "%s", R->in.v[i].error);
    return ES_OK;
  }
  if (read_input(r, R, &buf, &len, &st))
    return ES_OK;
  es_hash_hex(buf, len, r->id);

  /* The first input with bytes the dataset lacks decodes them; the others only read the
   * metadata they need for their occurrence. */
  int mine = 0, rc = ES_OK;
  if (!es_strmap_get(&R->k.ids, r->id, NULL)) {
#pragma omp critical(es_collect_claims)
    {
      if (!es_strmap_get(&R->claims, r->id, NULL)) {
        rc = es_strmap_put(&R->claims, r->id, i, err);
        mine = rc == ES_OK;
      }
    }
  }
  es_image_info info;
  info.capture_time[0] = '\0';
  if (mine)
    rc = decode_input(r, R, buf, len, &info, err);
  else if (rc == ES_OK && es_image_probe(buf, len, &R->dopts, &info, NULL) != ES_OK)
    info.capture_time[0] = '\0';
  free(buf);
  if (rc)
    return rc;

  char *sc_device = NULL, *sc_time = NULL;
  /* A broken sidecar does not stop the image; it gets a quarantine line of its own. */
  read_sidecar(r->path, &r->sidecar_bad, &sc_device, &sc_time);
  if (info.capture_time[0])
    r->time = strdup(info.capture_time);
  else if (sc_time)
    r->time = strdup(sc_time);
  else
    r->time = format_local_time(st.st_mtime);
  if (sc_device) {
    r->device = strdup(sc_device);
  } else {
    /* A name cut from a path is bytes too: it gets the path escape (valid UTF-8 is kept). */
    char *raw = es_device_from_path(R->o->device, r->path);
    r->device = raw ? es_path_escape(raw, NULL) : NULL;
    free(raw);
  }
  free(sc_device);
  free(sc_time);
  return ES_OK;
}

/* ---- deciding, in canonical order ---- */

/* Adds an occurrence to item k at its place in canonical order. */
static int add_occurrence(run *R, size_t k, const rec *r, es_error *err)
{
  return es_item_add_seen_ordered(&R->k.m.items[k], r->path, R->o->batch, r->device, r->time,
                                  &R->k.batch_seq, err);
}

static int new_item(run *R, const rec *f, const rec *r, es_error *err)
{
  es_item it;
  memset(&it, 0, sizeof it);
  memcpy(it.id, f->id, sizeof it.id);
  snprintf(it.format, sizeof it.format, "%s", f->format);
  it.width = f->width;
  it.height = f->height;
  it.channels = f->channels;
  it.bytes = f->bytes;
  it.phash = f->phash;
  it.stats = f->stats;
  it.extra = json_object();
  int rc = es_sigs_put(&R->sigs, f->id, &f->sig, err);
  if (rc) {
    es_item_free(&it);
    return rc;
  }
  if (!it.extra || json_object_set_new(it.extra, "pixels", json_string(f->pixels))) {
    es_item_free(&it);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  if ((rc = es_item_add_seen(&it, r->path, R->o->batch, r->device, r->time, err))) {
    es_item_free(&it);
    return rc;
  }
  size_t k = R->k.m.n;
  if ((rc = es_manifest_add(&R->k.m, &it, err))) {
    es_item_free(&it);
    return rc;
  }
  if ((rc = es_strmap_put(&R->k.ids, f->id, k, err)) ||
      (rc = es_strmap_put(&R->k.pixels, f->pixels, k, err)))
    return rc;
  return ES_OK;
}

static int append_quarantine(const run *R, const char *path, int code, const char *reason,
                             const char *id, es_error *err)
{
  if (R->o->dry_run)
    return ES_OK;
  json_t *q = es_quarantine_record(path, R->o->batch, es_quarantine_codes[code], reason, id, err);
  return q ? es_dataset_quarantine(R->tx, q, err) : (err ? err->code : ES_ENOMEM);
}

static int decide(run *R, es_collect_summary *sum, es_error *err)
{
  int rc = ES_OK;
  for (size_t i = 0; i < R->in.n; i++) {
    rec *r = &R->recs[i];
    if (R->in.v[i].sidecar) {
      sum->sidecars++;
      continue;
    }
    sum->inputs++;
    if (es_strmap_get(&R->k.done, r->path, NULL)) {
      sum->already_collected++;
      continue;
    }
    const rec *f = r->decoder == SIZE_MAX ? NULL : &R->recs[r->decoder];
    if (r->q < 0 && f && f->q >= 0) {
      set_quarantine(r, f->q, "%s", f->reason);
    }
    if (r->sidecar_bad) {
      char *sp = malloc(strlen(r->path) + 6);
      if (!sp)
        return es_error_set(err, ES_ENOMEM, "out of memory");
      sprintf(sp, "%s.json", r->path);
      /* A killed run may have written this line already. */
      if (!es_strmap_get(&R->k.done, sp, NULL)) {
        sum->sidecars_rejected++;
        sum->quarantine_by_code[ES_Q_SIDECAR]++;
        rc = append_quarantine(R, sp, ES_Q_SIDECAR, r->sidecar_bad, NULL, err);
      }
      free(sp);
      if (rc)
        return rc;
    }
    if (r->q >= 0) {
      sum->quarantined++;
      sum->quarantine_by_code[r->q]++;
      if ((rc = append_quarantine(R, r->path, r->q, r->reason, r->id, err)))
        return rc;
      continue;
    }
    size_t k;
    if (es_strmap_get(&R->k.tomb.ids, r->id, NULL) ||
        (f && es_strmap_get(&R->k.tomb.pixels, f->pixels, NULL))) {
      /* removed by edgeset rm: these bytes or pixels never come back */
      sum->quarantined++;
      sum->quarantine_by_code[ES_Q_REDACTED]++;
      if (f && f->slot != SIZE_MAX)
        es_dataset_drop_object(R->tx, f->slot);
      else if (f && f->object && !R->o->dry_run && unlinkat(R->st->dirfd, f->object, 0) != 0 &&
               errno != ENOENT)
        return es_error_errno(err, ES_EIO, errno, "cannot remove '%s/%s'", R->st->root,
                              f->object);
      if ((rc = append_quarantine(R, r->path, ES_Q_REDACTED,
                                  ES_REDACTED_REASON, NULL,
                                  err)))
        return rc;
      continue;
    }
    if (es_strmap_get(&R->k.ids, r->id, &k)) {
      sum->exact_duplicates++;
      rc = add_occurrence(R, k, r, err);
    } else if (f && es_strmap_get(&R->k.pixels, f->pixels, &k)) {
      sum->pixel_duplicates++;
      rc = add_occurrence(R, k, r, err);
      /* These bytes are not an item: their object is not kept (one left by a killed run
       * included). */
      if (f->slot != SIZE_MAX)
        es_dataset_drop_object(R->tx, f->slot);
      else if (f->object && !R->o->dry_run && unlinkat(R->st->dirfd, f->object, 0) != 0 &&
               errno != ENOENT)
        rc = es_error_errno(err, ES_EIO, errno, "cannot remove '%s/%s'", R->st->root,
                            f->object);
    } else if (f && es_tombstones_nearest(&R->k.tomb, f->phash) <= ES_REDACTED_NEAR &&
               R->o->refuse_near_redacted) {
      char why[96];
      snprintf(why, sizeof why, ES_REDACTED_NEAR_REASON,
               es_tombstones_nearest(&R->k.tomb, f->phash));
      sum->quarantined++;
      sum->quarantine_by_code[ES_Q_REDACTED]++;
      if (f->slot != SIZE_MAX)
        es_dataset_drop_object(R->tx, f->slot);
      rc = append_quarantine(R, r->path, ES_Q_REDACTED, why, NULL, err);
    } else if (f) {
      sum->new_items++;
      sum->near_redacted += es_tombstones_nearest(&R->k.tomb, f->phash) <= ES_REDACTED_NEAR;
      rc = new_item(R, f, r, err);
    } else {
      rc = es_error_set(err, ES_EINTERNAL, "'%s' was neither decoded nor known", r->path);
    }
    if (rc)
      return rc;
  }
  return ES_OK;
}

static json_t *summary_json(const es_collect_summary *s)
{
  json_t *q = json_object();
  for (int c = 0; c < ES_Q_COUNT; c++)
    json_object_set_new(q, es_quarantine_codes[c], json_integer((json_int_t)s->quarantine_by_code[c]));
  json_t *j = json_pack(
      "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I}", "batch", s->batch,
      "inputs", (json_int_t)s->inputs, "sidecars", (json_int_t)s->sidecars, "sidecars_rejected",
      (json_int_t)s->sidecars_rejected, "new_items", (json_int_t)s->new_items, "exact_duplicates",
      (json_int_t)s->exact_duplicates, "pixel_duplicates", (json_int_t)s->pixel_duplicates,
      "already_collected", (json_int_t)s->already_collected, "near_duplicates",
      (json_int_t)s->near_duplicates, "quarantined", (json_int_t)s->quarantined, "quarantine", q,
      "near_redacted", (json_int_t)s->near_redacted,
      "items", (json_int_t)s->items_total, "clusters", (json_int_t)s->clusters_total);
  if (j && s->shard_n) {
    char shard[32];
    snprintf(shard, sizeof shard, "%u/%u", s->shard_k, s->shard_n);
    if (json_object_set_new(j, "shard", json_string(shard))) {
      json_decref(j);
      return NULL;
    }
  }
  /* with the second stage: signatures computed from the items' bytes, and items left without */
  if (j && s->signatures_missing &&
      (json_object_set_new(j, "signatures_computed",
                           json_integer((json_int_t)s->signatures_computed)) ||
       json_object_set(j, "signatures_missing", s->signatures_missing))) {
    json_decref(j);
    return NULL;
  }
  return j;
}

void es_collect_summary_free(es_collect_summary *s)
{
  json_decref(s->signatures_missing);
  s->signatures_missing = NULL;
}

json_t *es_collect_summary_json(const es_collect_summary *s)
{
  return summary_json(s);
}

/* The commit (formats/dataset.h): quarantine lines, objects, the manifest that names them with
 * a new batch's ledger record just before its rename (the commit point), index.bin, then the
 * run's collect record. */
static int commit(run *R, const es_collect_summary *sum, es_error *err)
{
  int rc = ES_OK;
  es_dataset_set_manifest(R->tx, &R->k.m, NULL);
  es_dataset_set_signatures(R->tx, &R->sigs);
  if (!R->k.batch_known) {
    size_t seq = 0;
    es_strmap_get(&R->k.batch_seq, R->o->batch, &seq);
    rc = es_dataset_new_batch(R->tx, R->o->batch, seq, err);
  }
  if (!rc)
    rc = es_dataset_record(R->tx, "collect",
                           json_pack("{s:s, s:o}", "batch", R->o->batch, "summary",
                                     summary_json(sum)),
                           err);
  return rc ? rc : es_dataset_commit(R->tx, err);
}

static void free_run(run *R)
{
  if (R->recs)
    for (size_t i = 0; i < R->in.n; i++) {
      free(R->recs[i].reason);
      free(R->recs[i].device);
      free(R->recs[i].time);
      free(R->recs[i].object);
      free(R->recs[i].sidecar_bad);
    }
  free(R->recs);
  es_dataset_abort(R->tx);
  es_batch_state_free(&R->k);
  es__inputs_free(&R->in);
  es_strmap_free(&R->claims);
  es_sigs_free(&R->sigs);
  json_decref(R->nosig);
}

static void no_signature(void *ctx, const char *id, const char *why)
{
  run *R = ctx;
  if (R->nosig)
    json_array_append_new(R->nosig, json_pack("{s:s, s:s}", "id", id, "reason", why));
}

/* Every item's cluster under the dataset's relation (formats/clusters.h). With the second stage,
 * items of earlier runs whose signature signatures.bin lacks get it from their bytes. */
static int derive_clusters(run *R, int incremental, size_t *n_clusters, size_t *computed,
                           es_error *err)
{
  es_near_rel rel;
  if (es_settings_relation(&R->st->settings, &rel) && !R->nosig && !(R->nosig = json_array()))
    return es_error_set(err, ES_ENOMEM, "out of memory");
  return es_clusters_update(R->st, &R->k.m, &R->sigs, &R->k.batch_seq, incremental, R->o->jobs,
                            no_signature, R, n_clusters, computed, err);
}

int es_collect_run(es_store *st, const es_collect_opts *o, char *const *paths, size_t n_paths,
                   es_collect_summary *sum, es_error *err)
{
  run R;
  memset(&R, 0, sizeof R);
  memset(sum, 0, sizeof *sum);
  R.st = st;
  R.o = o;
  R.dopts.max_pixels = st->settings.max_pixels;
  R.dopts.jpeg_no_fancy_upsampling = !st->settings.jpeg_fancy_upsampling;
  R.dopts.jpeg_dct_float = st->settings.jpeg_dct_float;
  snprintf(sum->batch, sizeof sum->batch, "%s", o->batch);

  es_profile("start");
  struct stat dst;
  int rc = fstat(st->dirfd, &dst) ? es_error_errno(err, ES_EIO, errno, "cannot stat '%s'", st->root)
                                  : ES_OK;
  if (!rc)
    rc = load_dataset(&R, err);
  if (!rc)
    rc = es_sigs_load(st, &R.sigs, NULL, err);
  if (!rc)
    rc = es__inputs_gather(paths, n_paths, dst.st_dev, dst.st_ino, &R.in, err);
  if (rc)
    goto cleanup;
  es_profile("load (manifest, ledger, quarantine, signatures, inputs)");
  if (o->shard_n) {
    es__inputs_keep_shard(&R.in, o->shard_k, o->shard_n);
    sum->shard_k = o->shard_k;
    sum->shard_n = o->shard_n;
  }

  R.recs = calloc(R.in.n ? R.in.n : 1, sizeof *R.recs);
  if (!R.recs) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory for %zu inputs", R.in.n);
    goto cleanup;
  }
  for (size_t i = 0; i < R.in.n; i++) {
    R.recs[i].path = R.in.v[i].path;
    R.recs[i].q = -1;
    R.recs[i].decoder = SIZE_MAX;
    R.recs[i].slot = SIZE_MAX;
  }
  if (!(R.tx = es_dataset_begin(st, o->jobs, err))) {
    rc = ES_ENOMEM;
    goto cleanup;
  }

  volatile int failed = 0;
  size_t done_count = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(o->jobs > 0 ? o->jobs : 1)
  for (size_t i = 0; i < R.in.n; i++) {
    es_error e = {0};
    int r1 = ES_OK;
    if (!failed && !R.in.v[i].sidecar && !es_strmap_get(&R.k.done, R.in.v[i].path, NULL))
      r1 = ingest_one(&R, i, &e);
    if (r1)
      es_error_keep_first(&failed, &rc, err, r1, &e);
    if (o->progress_fn) {
#pragma omp critical(es_collect_progress)
      o->progress_fn(o->progress_ctx, ++done_count, R.in.n);
    }
  }
  if (rc)
    goto cleanup;

  es_profile("ingest (read, hash, decode, stage objects)");
  for (size_t i = 0; i < R.in.n; i++) {
    size_t k;
    if (R.recs[i].id[0] && es_strmap_get(&R.claims, R.recs[i].id, &k))
      R.recs[i].decoder = k;
  }
  if ((rc = decide(&R, sum, err)))
    goto cleanup;

  /* New items were appended after the n_loaded the manifest had: remember them across the
   * sort, to count those that joined an existing cluster. */
  es_strmap created = {0};
  for (size_t i = R.n_loaded; i < R.k.m.n && !rc; i++)
    rc = es_strmap_put(&created, R.k.m.items[i].id, 0, err);
  es_manifest_sort(&R.k.m);
  es_profile("decide");
  if (!rc)
    rc = derive_clusters(&R, 1, &sum->clusters_total, &sum->signatures_computed, err);
  for (size_t i = 0; i < R.k.m.n && !rc; i++)
    sum->near_duplicates += strcmp(R.k.m.items[i].cluster, R.k.m.items[i].id) != 0 &&
                            es_strmap_get(&created, R.k.m.items[i].id, NULL);
  es_strmap_free(&created);
  if (rc)
    goto cleanup;
  sum->items_total = R.k.m.n;
  sum->signatures_missing = R.nosig ? json_incref(R.nosig) : NULL;

  es_profile("clusters (signatures of the dataset, the new items placed)");
  if (!o->dry_run)
    rc = commit(&R, sum, err);

cleanup:
  free_run(&R);
  return rc;
}

/* ---- edgeset-collect --recluster ---- */

int es_collect_recluster(es_store *st, unsigned near, int near_given, int jobs,
                         es_recluster_summary *sum, es_error *err)
{
  run R;
  memset(&R, 0, sizeof R);
  memset(sum, 0, sizeof *sum);
  es_collect_opts o = {.batch = "", .jobs = jobs, .store_mode = "copy"};
  R.st = st;
  R.o = &o;
  sum->version_before = st->settings.near_score ? ES_DATASET_VERSION : 1;
  sum->near_before = st->settings.near;
  char(*before)[ES_ID_HEX + 1] = NULL;
  int rc = load_dataset(&R, err);
  if (rc)
    goto cleanup;
  sum->items = R.k.m.n;
  before = malloc((R.k.m.n ? R.k.m.n : 1) * sizeof *before);
  if (!before) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  for (size_t i = 0; i < R.k.m.n; i++) {
    memcpy(before[i], R.k.m.items[i].cluster, sizeof before[i]);
    sum->clusters_before += !strcmp(R.k.m.items[i].cluster, R.k.m.items[i].id);
  }
  /* the relation first: a crash after this leaves a dataset whose next run (or a second
   * --recluster) derives the clusters under it */
  es_settings s = st->settings;
  if (!s.near_score || near_given) {
    if (!s.near_score) {
      s.near = ES_DEFAULT_NEAR;
      s.near_score = ES_DEFAULT_NEAR_SCORE;
      s.near_score_small = ES_DEFAULT_NEAR_SCORE_SMALL;
    }
    if (near_given)
      s.near = near;
    if ((rc = es_store_rewrite_settings(st, &s, err)))
      goto cleanup;
  }
  sum->near = st->settings.near;
  /* every signature from the bytes: none of signatures.bin is kept */
  if ((rc = derive_clusters(&R, 0, &sum->clusters, &sum->signatures, err)))
    goto cleanup;
  for (size_t i = 0; i < R.k.m.n; i++)
    sum->moved += strcmp(before[i], R.k.m.items[i].cluster) != 0;
  sum->signatures_missing = json_incref(R.nosig);
  if (!(R.tx = es_dataset_begin(st, jobs, err))) {
    rc = ES_ENOMEM;
    goto cleanup;
  }
  es_dataset_set_manifest(R.tx, &R.k.m, NULL);
  es_dataset_set_signatures(R.tx, &R.sigs);
  rc = es_dataset_record(R.tx, "recluster",
                         json_pack("{s:o}", "summary", es_recluster_summary_json(sum)), err);
  if (!rc)
    rc = es_dataset_commit(R.tx, err);
cleanup:
  free(before);
  free_run(&R);
  return rc;
}

json_t *es_recluster_summary_json(const es_recluster_summary *s)
{
  return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "version_before",
                   (json_int_t)s->version_before, "near_before", (json_int_t)s->near_before,
                   "near", (json_int_t)s->near, "items", (json_int_t)s->items,
                   "clusters_before", (json_int_t)s->clusters_before, "clusters",
                   (json_int_t)s->clusters, "moved", (json_int_t)s->moved, "signatures",
                   (json_int_t)s->signatures, "signatures_missing",
                   s->signatures_missing ? json_incref(s->signatures_missing) : json_array());
}

void es_recluster_summary_free(es_recluster_summary *s)
{
  json_decref(s->signatures_missing);
  s->signatures_missing = NULL;
}
