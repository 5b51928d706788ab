/* The augment stage (docs/augment.md): deterministic, provenance-recording augmentation of the
 * train split. This header is the stage's interface to its program and tests:
 *   - the operation spec ("hflip@0.5,rotate:15,bright:0.2,jpeg:60-95") and its parser;
 *   - the counter-based random generator and the drawing of one variant's resolved operations
 *     from (seed, source id, variant number) alone;
 *   - the pixel operations (integer or fixed-point arithmetic only, so every machine gets the
 *     same bytes) and their application;
 *   - encoding a variant (PNG, or JPEG at the drawn quality) and the run over a dataset;
 *   - the HTML contact sheet (--preview).
 * A variant's resolved operations are stored in its manifest item (`aug`), and
 * es_aug_from_json() + es_aug_make() re-make the same bytes from that record. */
#ifndef ES_AUGMENT_H
#define ES_AUGMENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/image.h"
#include "core/store.h"

/* ---- the spec ---- */

enum {
  ES_AUG_HFLIP,
  ES_AUG_VFLIP,
  ES_AUG_ROT90,
  ES_AUG_ROTATE,
  ES_AUG_CROP,
  ES_AUG_TRANSLATE,
  ES_AUG_SCALE,
  ES_AUG_BRIGHT,
  ES_AUG_CONTRAST,
  ES_AUG_GAMMA,
  ES_AUG_SAT,
  ES_AUG_NOISE,
  ES_AUG_BLUR,
  ES_AUG_JPEG,
  ES_AUG_CUTOUT,
  ES_AUG_KINDS
};

/* The operation's name in specs and records ("hflip", "rotate" ...). */
const char *es_aug_kind_name(int kind);

/* One operation of a spec: its kind, range (in the integer units of the resolved parameter, see
 * docs/augment.md) and probability in millionths. */
typedef struct es_aug_spec_op {
  int kind;
  int32_t lo, hi;  /* parameter range; unused by flips and rot90 */
  uint32_t p_e6;   /* probability 0..1000000 */
} es_aug_spec_op;

#define ES_AUG_MAX_OPS 32

typedef struct es_aug_spec {
  es_aug_spec_op ops[ES_AUG_MAX_OPS];
  size_t n;
  char canon[512]; /* the spec written back canonically (stored in each variant's `aug`) */
} es_aug_spec;

/* Parses a spec. An unknown operation, a parameter out of range or a malformed item is
 * ES_EUSAGE naming it. `jpeg` must be the last operation (it is the encoding). */
int es_aug_spec_parse(const char *text, es_aug_spec *spec, es_error *err);

/* ---- the generator ---- */

/* SplitMix64 used as a counter-based generator: draw i of stream `key` is mix(key + (i+1) *
 * golden ratio), so any draw can be computed without the ones before it. */
uint64_t es_aug_mix64(uint64_t x);

/* The stream key of one variant: a hash of the seed, the source id (32 hex digits) and the
 * variant number; nothing else (not the thread, the order or the machine) enters it. */
uint64_t es_aug_variant_key(uint64_t seed, const char *source_id, uint32_t variant);

/* ---- resolved operations ---- */

typedef struct es_aug_op {
  int kind;
  int32_t a, b, c, d; /* parameters, meaning per kind (docs/augment.md) */
  uint64_t seed;      /* noise: the stream key of the per-sample draws */
} es_aug_op;

typedef struct es_aug_ops {
  es_aug_op v[ES_AUG_MAX_OPS];
  size_t n;
} es_aug_ops;

/* Draws the operations of one variant for a w x h source: each spec op fires with its
 * probability and draws its parameters. Ops that did not fire are not listed. */
void es_aug_draw(const es_aug_spec *spec, uint64_t key, uint32_t w, uint32_t h, es_aug_ops *out);

/* The record's "ops" array and back. from_json checks every parameter (ES_EFORMAT naming it). */
json_t *es_aug_ops_to_json(const es_aug_ops *ops);
int es_aug_ops_from_json(const json_t *arr, es_aug_ops *ops, es_error *err);

/* ---- pixel operations (augment/pixel_ops.c, augment/warp.c) ---- */

/* Each takes src and writes a new image into *dst (caller frees with es_image_free()). */
int es_aug_hflip(const es_image *src, es_image *dst, es_error *err);
int es_aug_vflip(const es_image *src, es_image *dst, es_error *err);
/* quarter turns counter-clockwise, 1..3 */
int es_aug_rot90(const es_image *src, int quarters, es_image *dst, es_error *err);
/* rotation by angle_cdeg hundredths of a degree counter-clockwise and scaling by scale_e4 /
 * 10000 about the centre, bilinear (Q8 weights), reflected border (101); output same size */
int es_aug_affine(const es_image *src, int32_t angle_cdeg, int32_t scale_e4, es_image *dst,
                  es_error *err);
/* the rectangle (x, y, cw, ch) resized back to w x h, bilinear */
int es_aug_crop_resize(const es_image *src, uint32_t x, uint32_t y, uint32_t cw, uint32_t ch,
                       es_image *dst, es_error *err);
/* shift by (dx, dy) pixels, reflected border */
int es_aug_translate(const es_image *src, int32_t dx, int32_t dy, es_image *dst, es_error *err);
/* v + delta, saturated; alpha untouched */
int es_aug_brightness(const es_image *src, int32_t delta, es_image *dst, es_error *err);
/* (v - mean luma) * factor_e4 / 10000 + mean luma, rounded, saturated; alpha untouched */
int es_aug_contrast(const es_image *src, int32_t factor_e4, es_image *dst, es_error *err);
/* 255 * (v / 255) ^ (gamma_e4 / 10000), rounded, from an integer-only LUT; alpha untouched */
int es_aug_gamma(const es_image *src, int32_t gamma_e4, es_image *dst, es_error *err);
/* luma + (v - luma) * factor_e4 / 10000 per colour sample; gray images are copied */
int es_aug_saturation(const es_image *src, int32_t factor_e4, es_image *dst, es_error *err);
/* v + sigma_e2 / 100 * n, n an Irwin-Hall approximation of N(0,1) from stream `seed` */
int es_aug_noise(const es_image *src, int32_t sigma_e2, uint64_t seed, es_image *dst,
                 es_error *err);
/* separable Gaussian, integer Q14 kernel of the given radius, reflected border (101) */
int es_aug_blur(const es_image *src, int32_t sigma_e2, int32_t radius, es_image *dst,
                es_error *err);
/* the rectangle filled with 128 (colour samples; alpha untouched) */
int es_aug_cutout(const es_image *src, uint32_t x, uint32_t y, uint32_t cw, uint32_t ch,
                  es_image *dst, es_error *err);

/* The integer Q14 Gaussian kernel (2 * radius + 1 taps, summing to exactly 16384). */
void es_aug_gauss_kernel(int32_t sigma_e2, int32_t radius, int32_t *taps);
/* The gamma LUT: lut[v] = round(255 * (v/255)^(gamma_e4/10000)) by integer log2/exp2. */
void es_aug_gamma_lut(int32_t gamma_e4, uint8_t lut[256]);
/* sin and cos of angle_cdeg hundredths of a degree in Q30, by integer series. */
void es_aug_sincos(int32_t angle_cdeg, int64_t *sin_q30, int64_t *cos_q30);

/* ---- making a variant ---- */

/* Applies ops to src and encodes the result: JPEG at the quality of a `jpeg` op (which comes
 * last), else PNG. *bytes is malloc'd (caller frees); *format is "png" or "jpeg". When out is
 * not NULL it receives the pixels before encoding (caller frees). ES_EUSAGE when ops is empty. */
int es_aug_make(const es_image *src, const es_aug_ops *ops, uint8_t **bytes, size_t *len,
                const char **format, es_image *out, es_error *err);

/* Encoders with fixed settings (deterministic): PNG level 6 with libpng's adaptive filters;
 * JPEG with JDCT_ISLOW, 4:2:0 for colour, optimised Huffman tables. Alpha is dropped for JPEG.
 * *out is malloc'd (caller frees). */
int es_png_encode(const es_image *img, uint8_t **out, size_t *len, es_error *err);
int es_jpeg_encode(const es_image *img, int quality, uint8_t **out, size_t *len, es_error *err);

/* ---- the run ---- */

typedef struct es_augment_opts {
  uint32_t per_image;   /* K variants per source */
  const es_aug_spec *spec;
  uint64_t seed;
  int jobs;
  int dry_run;
  char *const *items;   /* NULL, or only these source ids (each must be in train) */
  size_t n_items;
  const char *preview;  /* NULL, or the contact sheet to write */
  size_t preview_max;   /* sources on the contact sheet (0 = 50) */
} es_augment_opts;

typedef struct es_augment_summary {
  size_t sources;        /* train items augmented (not themselves augmented) */
  size_t skipped_not_train; /* items outside train (or unassigned) */
  size_t variants_new;   /* items added */
  size_t variants_existing; /* (source, seed, variant, spec) already in the dataset */
  size_t variants_unchanged; /* no operation fired: the variant would be its source */
  size_t variants_duplicate; /* bytes or pixels already an item */
  size_t variants_near_held_out; /* near duplicates of a held-out item: dropped */
  size_t sources_unreadable; /* source object missing or undecodable (listed in `problems`) */
  size_t items_total;
} es_augment_summary;

/* One run on a locked dataset. Bad requests (a non-train item asked for, no train item at all)
 * are ES_EUSAGE with nothing changed. *problems (when not NULL) receives a JSON array of
 * sources that could not be read, each {"id","reason"} (caller decrefs). */
int es_augment_run(es_store *st, const es_augment_opts *o, es_augment_summary *sum,
                   json_t **problems, es_error *err);

json_t *es_augment_summary_json(const es_augment_summary *s);

/* The contact sheet: rows of (original, variants...), each picture a data: URI. */
typedef struct es_preview_cell {
  const es_image *img;
  const char *caption; /* escaped by the writer */
} es_preview_cell;

typedef struct es_preview_row {
  const char *title; /* escaped by the writer */
  es_preview_cell *cells;
  size_t n;
} es_preview_row;

int es_preview_write(const char *path, const char *heading, const es_preview_row *rows,
                     size_t n, es_error *err);

#endif
