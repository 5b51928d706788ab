/* es_augment_run: one augment run over a locked dataset.
 *
 * 1. Load the manifest; the sources are the train items that are not themselves variants (or
 *    the items asked for, each of which must be such an item: anything else is ES_EUSAGE
 *    before anything is written). Variants already recorded for (source, seed, variant number,
 *    spec) are not made again, so a re-run with the same seed adds nothing.
 * 2. In chunks of sources: decode each source once (in parallel), then make every missing
 *    (source, variant) pair in parallel: draw its operations from (seed, source id, variant)
 *    alone, apply them, encode, hash (the id), compute the facts from the encoded bytes as
 *    collect would, and stage the object. Each pair writes only its own slot, so nothing
 *    depends on --jobs or on which thread ran what.
 * 3. In canonical order (source id, variant number) decide: a new item, or a variant whose
 *    bytes or pixels are already an item (its staged object is dropped).
 * 4. Commit like collect, one dataset transaction (formats/dataset.h): objects published,
 *    manifest replaced (the commit point), index.bin, ledger record appended. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "augment/augment_internal.h"
#include "core/image_ops.h"
#include "core/near_index.h"
#include "core/strmap.h"
#include "formats/dataset.h"
#include "formats/features.h"
#include "formats/decode.h"
#include "formats/index.h"
#include "formats/manifest.h"
#include "formats/signatures.h"
#include "core/hash.h"

enum { V_NONE, V_MADE, V_EXISTING, V_UNCHANGED, V_FAILED };

typedef struct variant {
  int status;
  es_aug_ops ops;
  char id[ES_ID_HEX + 1];
  const char *format;
  uint32_t width, height, channels;
  uint64_t bytes;
  uint64_t phash;
  es_stats stats;
  es_near_sig sig;
  char pixels[ES_ID_HEX + 1];
  size_t slot;
  char *object;
  es_image thumb; /* for the contact sheet, else empty */
} variant;

typedef struct source {
  size_t item;     /* index in the manifest as loaded (until es_manifest_sort at the end) */
  es_image img;    /* decoded while its chunk is worked on */
  es_image thumb;
  char *problem;   /* why it could not be read, or NULL */
} source;

typedef struct run {
  es_store *st;
  const es_augment_opts *o;
  es_manifest m;
  es_strmap ids, pixels, existing;
  es_decode_opts dopts;
  es_dataset *tx; /* staged objects, then the commit */
  es_sigs sigs;   /* signatures.bin, plus the variants' */
  source *src;
  size_t n_src;
  variant *var; /* n_src * per_image */
} run;

static void existing_key(char *buf, size_t len, const char *src, uint64_t seed, uint32_t k,
                         const char *spec)
{
  snprintf(buf, len, "%s/%llu/%u/%s", src, (unsigned long long)seed, k, spec);
}

static int load(run *R, es_error *err)
{
  int rc = es_manifest_load(R->st, &R->m, err);
  if (!rc)
    rc = es_sigs_load(R->st, &R->sigs, NULL, err);
  if (rc)
    return rc;
  char key[700];
  for (size_t i = 0; i < R->m.n; i++) {
    const es_item *it = &R->m.items[i];
    if ((rc = es_strmap_put(&R->ids, it->id, i, err)))
      return rc;
    const char *px = json_string_value(json_object_get(it->extra, "pixels"));
    if (px && !es_strmap_get(&R->pixels, px, NULL) && (rc = es_strmap_put(&R->pixels, px, i, err)))
      return rc;
    const char *from = json_string_value(json_object_get(it->extra, "derived_from"));
    const json_t *aug = json_object_get(it->extra, "aug");
    const char *spec = json_string_value(json_object_get(aug, "spec"));
    const json_t *seed = json_object_get(aug, "seed"), *var = json_object_get(aug, "variant");
    if (from && spec && json_is_integer(seed) && json_is_integer(var)) {
      existing_key(key, sizeof key, from, (uint64_t)json_integer_value(seed),
                   (uint32_t)json_integer_value(var), spec);
      if ((rc = es_strmap_put(&R->existing, key, i, err)))
        return rc;
    }
  }
  return ES_OK;
}

static int is_variant(const es_item *it)
{
  return json_object_get(it->extra, "derived_from") != NULL;
}

/* The sources of this run, in manifest (id) order. */
static int pick_sources(run *R, es_augment_summary *sum, es_error *err)
{
  const es_augment_opts *o = R->o;
  R->src = calloc(R->m.n ? R->m.n : 1, sizeof *R->src);
  if (!R->src)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  if (o->n_items) {
    uint8_t *want = calloc(R->m.n ? R->m.n : 1, 1);
    if (!want)
      return es_error_set(err, ES_ENOMEM, "out of memory");
    int rc = ES_OK;
    for (size_t i = 0; i < o->n_items && rc == ES_OK; i++) {
      size_t k;
      if (!es_strmap_get(&R->ids, o->items[i], &k)) {
        rc = es_error_set(err, ES_EUSAGE, "item '%s' is not in the dataset", o->items[i]);
        break;
      }
      const es_item *it = &R->m.items[k];
      if (is_variant(it))
        rc = es_error_set(err, ES_EUSAGE, "item '%s' is itself an augmented variant; augment "
                          "its source instead", it->id);
      else if (!it->split || strcmp(it->split, "train"))
        rc = es_error_set(err, ES_EUSAGE, "item '%s' is in %s%s%s: only the train split is "
                          "augmented (validation and held-out items never are)", it->id,
                          it->split ? "'" : "", it->split ? it->split : "no split",
                          it->split ? "'" : "");
      else
        want[k] = 1;
    }
    for (size_t i = 0; i < R->m.n && rc == ES_OK; i++)
      if (want[i])
        R->src[R->n_src++].item = i;
    free(want);
    return rc;
  }
  for (size_t i = 0; i < R->m.n; i++) {
    const es_item *it = &R->m.items[i];
    if (is_variant(it))
      continue;
    if (!it->split || strcmp(it->split, "train")) {
      sum->skipped_not_train++;
      continue;
    }
    R->src[R->n_src++].item = i;
  }
  if (!R->n_src)
    return es_error_set(err, ES_EUSAGE, "no item of '%s' is in the train split (assign splits "
                        "with edgeset-split first)", R->st->root);
  return ES_OK;
}

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...)
{
  char buf[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return strdup(buf);
}

/* Reads and decodes a source: its object, else (store mode ref) its first occurrence, whose
 * bytes must still hash to the id. */
static void decode_source(run *R, source *s)
{
  const es_item *it = &R->m.items[s->item];
  char rel[ES_OBJECT_REL_MAX];
  es_object_rel(it->id, it->format, rel);
  uint8_t *buf = NULL;
  size_t len = 0;
  es_error e = {0};
  int rc = es_store_read(R->st, rel, 1, &buf, &len, &e);
  if (rc == ES_OK && !buf && it->n_seen) {
    int fd = open(it->seen[0].path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      s->problem = dupf("no object and cannot open '%s': %s", it->seen[0].path, strerror(errno));
      return;
    }
    size_t cap = 1 << 20;
    buf = malloc(cap);
    ssize_t n;
    while (buf && (n = read(fd, buf + len, cap - len)) > 0) {
      len += (size_t)n;
      if (len == cap) {
        uint8_t *nb = cap <= R->st->settings.max_file_bytes ? realloc(buf, cap * 2) : NULL;
        if (!nb) {
          free(buf);
          buf = NULL;
        }
        buf = nb;
        cap *= 2;
      }
    }
    close(fd);
    if (!buf) {
      s->problem = dupf("cannot read '%s'", it->seen[0].path);
      return;
    }
    char id[ES_ID_HEX + 1];
    es_hash_hex(buf, len, id);
    if (strcmp(id, it->id)) {
      free(buf);
      s->problem = dupf("no object, and '%s' has changed since it was collected",
                        it->seen[0].path);
      return;
    }
  } else if (rc || !buf) {
    free(buf);
    s->problem = dupf("cannot read the object '%s': %s", rel, rc ? e.msg : "missing");
    return;
  }
  rc = es_image_decode(buf, len, &R->dopts, &s->img, NULL, &e);
  free(buf);
  if (rc)
    s->problem = dupf("cannot decode the object: %s", e.msg);
}

/* Fits img into a side x side box (area average); empty on failure. */
static void make_thumb(const es_image *img, uint32_t side, es_image *out)
{
  memset(out, 0, sizeof *out);
  uint32_t w = img->width, h = img->height;
  if (w > side || h > side) {
    if (w >= h) {
      h = (uint32_t)((uint64_t)h * side / w);
      w = side;
    } else {
      w = (uint32_t)((uint64_t)w * side / h);
      h = side;
    }
  }
  if (!w)
    w = 1;
  if (!h)
    h = 1;
  es_image_resize_area(img, w, h, out, NULL);
}

/* Makes variant k of source s into v. Returns a negative code only when the run must stop. */
static int make_variant(run *R, const source *s, uint32_t k, int want_thumb, variant *v,
                        es_error *err)
{
  const es_item *it = &R->m.items[s->item];
  const es_augment_opts *o = R->o;
  char key[700];
  existing_key(key, sizeof key, it->id, o->seed, k, o->spec->canon);
  v->slot = SIZE_MAX;
  if (es_strmap_get(&R->existing, key, NULL) && !want_thumb) {
    v->status = V_EXISTING;
    return ES_OK;
  }
  es_aug_draw(o->spec, es_aug_variant_key(o->seed, it->id, k), s->img.width, s->img.height,
              &v->ops);
  if (v->ops.n == 0) {
    v->status = V_UNCHANGED;
    return ES_OK;
  }
  uint8_t *bytes = NULL;
  size_t len = 0;
  es_image out = {0}, decoded = {0};
  const es_image *facts = &out;
  int rc = es_aug_make(&s->img, &v->ops, &bytes, &len, &v->format, &out, err);
  if (rc == ES_OK && !strcmp(v->format, "jpeg")) {
    /* facts are those of the bytes, as collect would compute them */
    rc = es_image_decode(bytes, len, &R->dopts, &decoded, NULL, err);
    facts = &decoded;
  }
  if (rc == ES_OK) {
    es_hash_hex(bytes, len, v->id);
    v->width = facts->width;
    v->height = facts->height;
    v->channels = facts->channels;
    v->bytes = len;
    rc = es_image_hash_hex(facts, v->pixels, err);
  }
  if (rc == ES_OK)
    rc = es_image_features(facts, &v->phash, &v->stats, &v->sig, err);
  if (rc == ES_OK && want_thumb)
    make_thumb(facts, 160, &v->thumb);
  if (rc == ES_OK && es_strmap_get(&R->existing, key, NULL)) {
    v->status = V_EXISTING;
  } else if (rc == ES_OK) {
    v->status = V_MADE;
    if (!o->dry_run) {
      rc = es_dataset_stage_object(R->tx, v->id, es_object_ext(v->format), bytes, len, NULL,
                                   "copy", &v->slot, &v->object, err);
      if (rc)
        es_error_prefix(err, "cannot store variant %u of '%s'", k, it->id);
    }
  } else {
    es_error_prefix(err, "variant %u of '%s'", k, it->id);
  }
  free(bytes);
  es_image_free(&out);
  es_image_free(&decoded);
  return rc;
}

static int add_item(run *R, const source *s, uint32_t k, const variant *v, es_error *err)
{
  const es_item *src = &R->m.items[s->item];
  es_item it;
  memset(&it, 0, sizeof it);
  memcpy(it.id, v->id, sizeof it.id);
  snprintf(it.format, sizeof it.format, "%s", v->format);
  it.width = v->width;
  it.height = v->height;
  it.channels = v->channels;
  it.bytes = v->bytes;
  it.phash = v->phash;
  it.stats = v->stats;
  memcpy(it.cluster, src->cluster[0] ? src->cluster : src->id, sizeof it.cluster);
  json_t *aug = json_pack("{s:I, s:I, s:s, s:o}", "seed", (json_int_t)R->o->seed, "variant",
                          (json_int_t)k, "spec", R->o->spec->canon, "ops",
                          es_aug_ops_to_json(&v->ops));
  it.extra = json_pack("{s:s, s:s, s:o}", "pixels", v->pixels, "derived_from", src->id, "aug",
                       aug);
  int rc = ES_OK;
  if (!aug || !it.extra ||
      (src->label && !(it.label = strdup(src->label))) ||
      (src->split && !(it.split = strdup(src->split))) ||
      (src->group && !(it.group = strdup(src->group)))) {
    if (!it.extra)
      json_decref(aug);
    es_item_free(&it);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  size_t at = R->m.n;
  if ((rc = es_sigs_put(&R->sigs, v->id, &v->sig, err)) ||
      (rc = es_manifest_add(&R->m, &it, err))) {
    es_item_free(&it);
    return rc;
  }
  if ((rc = es_strmap_put(&R->ids, v->id, at, err)) ||
      (rc = es_strmap_put(&R->pixels, v->pixels, at, err)))
    return rc;
  return ES_OK;
}

/* Held-out items, which no variant may be a near duplicate of (docs/augment.md): their phashes
 * in a near-duplicate index, their signatures beside it (held[k]: the k-th held-out item). */
typedef struct held_guard {
  es_near_index *idx; /* NULL when the dataset has no held-out item */
  es_near_rel rel;
  int two;            /* the relation has its second stage */
  es_near_sig *sig;   /* per held-out item; side 0 when signatures.bin lacks it */
} held_guard;

static int guard_build(const run *R, held_guard *g, es_error *err)
{
  memset(g, 0, sizeof *g);
  g->two = es_settings_relation(&R->st->settings, &g->rel);
  size_t n = 0;
  for (size_t i = 0; i < R->m.n; i++)
    n += es_held_out(R->m.items[i].split);
  if (!n)
    return ES_OK;
  if (!(g->idx = es_near_index_new(g->rel.radius, err)))
    return err ? err->code : ES_ENOMEM;
  if (!(g->sig = calloc(n, sizeof *g->sig)))
    return es_error_set(err, ES_ENOMEM, "out of memory");
  uint32_t k = 0;
  for (size_t i = 0; i < R->m.n; i++) {
    const es_item *it = &R->m.items[i];
    if (!es_held_out(it->split))
      continue;
    const es_near_sig *h = es_sigs_find(&R->sigs, it->id);
    if (h)
      g->sig[k] = *h;
    int rc = es_near_index_add(g->idx, it->phash, k++, err);
    if (rc)
      return rc;
  }
  return ES_OK;
}

static void guard_free(held_guard *g)
{
  es_near_index_free(g->idx);
  free(g->sig);
}

typedef struct guard_query {
  const held_guard *g;
  const es_near_sig *sig;
  int hit;
} guard_query;

/* A held-out item within the radius: with the second stage, one whose signature matches (or
 * that has none, to be safe). */
static void guard_candidate(void *ctx, uint32_t ref, unsigned dist)
{
  (void)dist;
  guard_query *q = ctx;
  const es_near_sig *h = &q->g->sig[ref];
  if (!q->hit && (!q->g->two || !h->side ||
                  es_near_sig_match(q->sig, h, es_near_threshold(&q->g->rel, q->sig->side,
                                                                 h->side))))
    q->hit = 1;
}

static int near_held_out(const held_guard *g, const variant *v)
{
  guard_query q = {g, &v->sig, 0};
  if (g->idx)
    es_near_index_within(g->idx, v->phash, guard_candidate, &q);
  return q.hit;
}

json_t *es_augment_summary_json(const es_augment_summary *s)
{
  return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "sources",
                   (json_int_t)s->sources,
                   "skipped_not_train", (json_int_t)s->skipped_not_train, "variants_new",
                   (json_int_t)s->variants_new, "variants_existing",
                   (json_int_t)s->variants_existing, "variants_unchanged",
                   (json_int_t)s->variants_unchanged, "variants_duplicate",
                   (json_int_t)s->variants_duplicate, "variants_near_held_out",
                   (json_int_t)s->variants_near_held_out, "sources_unreadable",
                   (json_int_t)s->sources_unreadable, "items", (json_int_t)s->items_total);
}

/* The commit (formats/dataset.h): objects, then the manifest that names them (the commit
 * point), index.bin, the augment record. */
static int commit(run *R, const es_augment_summary *sum, es_error *err)
{
  int rc = es_sigs_sort(&R->sigs, err);
  if (rc)
    return rc;
  es_dataset_set_manifest(R->tx, &R->m, NULL);
  es_dataset_set_signatures(R->tx, &R->sigs);
  rc = es_dataset_record(R->tx, "augment",
                             json_pack("{s:I, s:I, s:s, s:o}", "seed", (json_int_t)R->o->seed,
                                       "per_image", (json_int_t)R->o->per_image, "ops",
                                       R->o->spec->canon, "summary",
                                       es_augment_summary_json(sum)),
                             err);
  return rc ? rc : es_dataset_commit(R->tx, err);
}

/* Caption of a variant on the contact sheet: its resolved operations. */
static void ops_caption(const es_aug_ops *ops, char *buf, size_t len)
{
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < ops->n && off < len; i++) {
    const es_aug_op *op = &ops->v[i];
    const char *sep = i ? ", " : "";
    int w;
    switch (op->kind) {
    case ES_AUG_ROT90: w = snprintf(buf + off, len - off, "%srot90 x%d", sep, op->a); break;
    case ES_AUG_ROTATE:
      w = snprintf(buf + off, len - off, "%srotate %.2f°", sep, op->a / 100.0);
      break;
    case ES_AUG_SCALE: case ES_AUG_CONTRAST: case ES_AUG_SAT: case ES_AUG_GAMMA:
      w = snprintf(buf + off, len - off, "%s%s %.4f", sep, es_aug_kind_name(op->kind),
                   op->a / 10000.0);
      break;
    case ES_AUG_BRIGHT: w = snprintf(buf + off, len - off, "%sbright %+d", sep, op->a); break;
    case ES_AUG_NOISE: case ES_AUG_BLUR:
      w = snprintf(buf + off, len - off, "%s%s σ%.2f", sep, es_aug_kind_name(op->kind),
                   op->a / 100.0);
      break;
    case ES_AUG_JPEG: w = snprintf(buf + off, len - off, "%sjpeg q%d", sep, op->a); break;
    case ES_AUG_TRANSLATE:
      w = snprintf(buf + off, len - off, "%stranslate %+d,%+d", sep, op->a, op->b);
      break;
    case ES_AUG_CROP: case ES_AUG_CUTOUT:
      w = snprintf(buf + off, len - off, "%s%s %dx%d@%d,%d", sep, es_aug_kind_name(op->kind),
                   op->c, op->d, op->a, op->b);
      break;
    default: w = snprintf(buf + off, len - off, "%s%s", sep, es_aug_kind_name(op->kind));
    }
    if (w < 0)
      break;
    off += (size_t)w;
  }
}

static int write_preview(run *R, size_t n_prev, es_error *err)
{
  uint32_t K = R->o->per_image;
  es_preview_row *rows = calloc(n_prev ? n_prev : 1, sizeof *rows);
  es_preview_cell *cells = calloc(n_prev * (K + 1) + 1, sizeof *cells);
  char *caps = calloc(n_prev * (K + 1) + 1, 256);
  char *titles = calloc(n_prev + 1, 200);
  int rc = ES_OK;
  if (!rows || !cells || !caps || !titles) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  size_t nc = 0, nr = 0;
  for (size_t i = 0; i < n_prev; i++) {
    const source *s = &R->src[i];
    if (s->problem || !s->thumb.data)
      continue;
    const es_item *it = &R->m.items[s->item];
    char *title = titles + nr * 200;
    snprintf(title, 200, "%s%s%s", it->id, it->label ? " · " : "", it->label ? it->label : "");
    rows[nr].title = title;
    rows[nr].cells = cells + nc;
    cells[nc].img = &s->thumb;
    cells[nc].caption = "original";
    nc++;
    for (uint32_t k = 0; k < K; k++) {
      const variant *v = &R->var[i * K + k];
      if (!v->thumb.data)
        continue;
      char *cap = caps + nc * 256;
      char ops[200];
      ops_caption(&v->ops, ops, sizeof ops);
      snprintf(cap, 256, "#%u%s: %s", k, v->status == V_EXISTING ? " (existing)" : "", ops);
      cells[nc].img = &v->thumb;
      cells[nc].caption = cap;
      nc++;
    }
    rows[nr].n = (size_t)(cells + nc - rows[nr].cells);
    nr++;
  }
  char heading[700];
  snprintf(heading, sizeof heading, "edgeset-augment: seed %llu, %u per image, ops %s",
           (unsigned long long)R->o->seed, K, R->o->spec->canon);
  rc = es_preview_write(R->o->preview, heading, rows, nr, err);
cleanup:
  free(rows);
  free(cells);
  free(caps);
  free(titles);
  return rc;
}

static void free_run(run *R)
{
  for (size_t i = 0; i < R->n_src; i++) {
    es_image_free(&R->src[i].img);
    es_image_free(&R->src[i].thumb);
    free(R->src[i].problem);
  }
  if (R->var)
    for (size_t i = 0; i < R->n_src * R->o->per_image; i++) {
      free(R->var[i].object);
      es_image_free(&R->var[i].thumb);
    }
  free(R->var);
  free(R->src);
  es_dataset_abort(R->tx);
  es_manifest_free(&R->m);
  es_strmap_free(&R->ids);
  es_strmap_free(&R->pixels);
  es_strmap_free(&R->existing);
  es_sigs_free(&R->sigs);
}

int es_augment_run(es_store *st, const es_augment_opts *o, es_augment_summary *sum,
                   json_t **problems, es_error *err)
{
  run R;
  memset(&R, 0, sizeof R);
  memset(sum, 0, sizeof *sum);
  if (problems)
    *problems = NULL;
  R.st = st;
  R.o = o;
  R.dopts.max_pixels = st->settings.max_pixels;
  R.dopts.jpeg_no_fancy_upsampling = !st->settings.jpeg_fancy_upsampling;
  R.dopts.jpeg_dct_float = st->settings.jpeg_dct_float;
  const uint32_t K = o->per_image;
  int rc = ES_OK;
  if (!K || !o->spec || !o->spec->n) {
    rc = es_error_set(err, ES_EUSAGE, "nothing to do: no variants or no operations asked for");
    goto cleanup;
  }
  if ((rc = load(&R, err)) || (rc = pick_sources(&R, sum, err)))
    goto cleanup;
  if (R.n_src > SIZE_MAX / sizeof *R.var / K) {
    rc = es_error_set(err, ES_ELIMIT, "too many variants");
    goto cleanup;
  }
  R.var = calloc(R.n_src * K, sizeof *R.var);
  if (!R.var || !(R.tx = es_dataset_begin(st, o->jobs, err))) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory for %zu variants", R.n_src * K);
    goto cleanup;
  }
  size_t n_prev = o->preview ? (o->preview_max ? o->preview_max : 50) : 0;
  if (n_prev > R.n_src)
    n_prev = R.n_src;
  int jobs = o->jobs > 0 ? o->jobs : 1;
  size_t chunk = (size_t)jobs * 4 < 16 ? 16 : (size_t)jobs * 4;
  for (size_t c0 = 0; c0 < R.n_src && rc == ES_OK; c0 += chunk) {
    size_t c1 = c0 + chunk < R.n_src ? c0 + chunk : R.n_src;
    long long nsrc = (long long)(c1 - c0);
#pragma omp parallel for schedule(dynamic, 1) num_threads(jobs)
    for (long long i = 0; i < nsrc; i++) {
      source *s = &R.src[c0 + (size_t)i];
      /* a source whose variants all exist is not decoded (unless shown on the sheet) */
      int need = c0 + (size_t)i < n_prev;
      char key[700];
      for (uint32_t k = 0; k < K && !need; k++) {
        existing_key(key, sizeof key, R.m.items[s->item].id, o->seed, k, o->spec->canon);
        need = !es_strmap_get(&R.existing, key, NULL);
      }
      if (need)
        decode_source(&R, s);
      if (!s->problem && s->img.data && c0 + (size_t)i < n_prev)
        make_thumb(&s->img, 160, &s->thumb);
    }
    volatile int failed = 0;
    long long npairs = nsrc * (long long)K;
#pragma omp parallel for schedule(dynamic, 1) num_threads(jobs)
    for (long long p = 0; p < npairs; p++) {
      size_t si = c0 + (size_t)(p / K);
      uint32_t k = (uint32_t)(p % K);
      source *s = &R.src[si];
      variant *v = &R.var[si * K + k];
      if (failed)
        continue;
      if (s->problem || !s->img.data) {
        char key[700];
        existing_key(key, sizeof key, R.m.items[s->item].id, o->seed, k, o->spec->canon);
        v->status = es_strmap_get(&R.existing, key, NULL) ? V_EXISTING : V_FAILED;
        v->slot = SIZE_MAX;
        continue;
      }
      es_error e = {0};
      int r1 = make_variant(&R, s, k, si < n_prev, v, &e);
      if (r1)
        es_error_keep_first(&failed, &rc, err, r1, &e);
    }
    for (size_t i = c0; i < c1; i++)
      if (i >= n_prev)
        es_image_free(&R.src[i].img);
  }
  if (rc)
    goto cleanup;

  /* decide, in canonical order */
  held_guard guard;
  if ((rc = guard_build(&R, &guard, err))) {
    guard_free(&guard);
    goto cleanup;
  }
  json_t *probs = json_array();
  for (size_t i = 0; i < R.n_src && rc == ES_OK; i++) {
    source *s = &R.src[i];
    sum->sources++;
    if (s->problem) {
      sum->sources_unreadable++;
      json_array_append_new(probs, json_pack("{s:s, s:s}", "id", R.m.items[s->item].id,
                                             "reason", s->problem));
    }
    for (uint32_t k = 0; k < K && rc == ES_OK; k++) {
      variant *v = &R.var[i * K + k];
      switch (v->status) {
      case V_EXISTING: sum->variants_existing++; break;
      case V_UNCHANGED: sum->variants_unchanged++; break;
      case V_MADE:
        if (es_strmap_get(&R.ids, v->id, NULL) || es_strmap_get(&R.pixels, v->pixels, NULL)) {
          sum->variants_duplicate++;
          if (v->slot != SIZE_MAX)
            es_dataset_drop_object(R.tx, v->slot);
        } else if (near_held_out(&guard, v)) {
          /* a leak into a held-out set: dropped, never added */
          sum->variants_near_held_out++;
          if (v->slot != SIZE_MAX)
            es_dataset_drop_object(R.tx, v->slot);
        } else {
          sum->variants_new++;
          rc = add_item(&R, s, k, v, err);
        }
        break;
      default: break;
      }
    }
  }
  guard_free(&guard);
  if (problems)
    *problems = probs;
  else
    json_decref(probs);
  if (rc)
    goto cleanup;
  /* the sheet first: its sources are items by their position in the manifest, which the sort
   * (variants join in id order) changes */
  if (o->preview && (rc = write_preview(&R, n_prev, err)))
    goto cleanup;
  es_manifest_sort(&R.m);
  sum->items_total = R.m.n;
  if (!o->dry_run && sum->variants_new)
    rc = commit(&R, sum, err);

cleanup:
  free_run(&R);
  return rc;
}
