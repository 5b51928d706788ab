/* edgeset-drift's library: a sample of items (the reference or the current side) reduced to
 * feature columns and per-device histories, the comparison of two samples feature by feature
 * (KS or chi-squared for significance, Benjamini-Hochberg across features, an effect-size gate:
 * Wasserstein-1 over the reference's standard deviation, or the Jensen-Shannon distance),
 * camera health per device, the reference profile file, and the result as JSON and as an HTML
 * report. Everything is deterministic whatever the thread count: columns are sorted in
 * parallel, and every number comes from sorted data. docs/drift.md explains the choices. */
#ifndef ES_DRIFT_H
#define ES_DRIFT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "formats/index.h"
#include "formats/manifest.h"

struct es_store;
struct es_model;
struct es_interp;

enum {
  ES_DRIFT_BRIGHTNESS = 0, /* stats.mean: mean luma */
  ES_DRIFT_CONTRAST,       /* stats.std */
  ES_DRIFT_SHARPNESS,
  ES_DRIFT_SATURATION,
  ES_DRIFT_CLIP_LOW,
  ES_DRIFT_CLIP_HIGH,
  ES_DRIFT_PIXELS, /* width x height (manifest only) */
  ES_DRIFT_ASPECT, /* width / height (manifest only) */
  ES_DRIFT_CONFIDENCE, /* the model's top class probability (--model only) */
  ES_DRIFT_N_NUMERIC
};

/* The feature names, in the order above ("brightness", "contrast", ...). */
extern const char *const es_drift_numeric_names[ES_DRIFT_N_NUMERIC];

/* A frame counts as clipped when more than this share of its pixels is at either end. */
#define ES_DRIFT_CLIPPED_FRAME 0.25

typedef struct es_drift_device {
  char *name;
  size_t n;                  /* items (values in each array) */
  size_t n_sample;           /* values kept (a profile may keep fewer than n) */
  double *sharpness;         /* ascending */
  double *brightness;        /* ascending */
  double clipped;            /* items whose frame is clipped */
  double deff_sharpness, deff_brightness; /* design effects of the two histories (docs) */
  size_t occurrences;        /* occurrences in the selection (frozen check) */
  size_t frozen_run;         /* longest run of the same item in capture order */
  char frozen_item[ES_ID_HEX + 1]; /* the item of that run */
  int frozen_checked;        /* 0 when the occurrences were not available (index, profile) */
} es_drift_device;

typedef struct es_drift_sample {
  char *spec;     /* "batch:A", "split:train", "profile:FILE" */
  size_t n_items; /* items selected (augmented ones left out) */
  size_t n_augmented_skipped;
  size_t n[ES_DRIFT_N_NUMERIC]; /* values per column (0 = feature unavailable) */
  double *col[ES_DRIFT_N_NUMERIC]; /* ascending after es_drift_sample_prepare() */
  char **labels; /* label names (bytewise ascending after prepare) */
  double *label_counts;
  size_t n_labels, cap_labels;
  double unlabelled;
  es_drift_device *dev; /* sorted by name after prepare */
  size_t n_dev, cap_dev;
  /* --model: predicted-class counts (class names in output order, n_classes of them) and the
   * penultimate-layer embeddings of a seeded subset of items, n_emb rows of emb_dim floats */
  char **classes;
  double *pred_counts;
  size_t n_classes;
  float *emb;
  size_t n_emb, emb_dim;
  /* Units of evidence (docs/drift.md): frames of one scene are not independent. unit[k] is the
   * unit of the k-th selected item (selection order; NULL in a profile), n_units how many;
   * deff per column, label_deff and pred_deff are Kish design effects (0 or 1: independent),
   * so a column of n values weighs as n / deff; emb_unit the unit of each embedding row (NULL:
   * each row its own). */
  uint32_t *unit;
  size_t n_units;
  double deff[ES_DRIFT_N_NUMERIC];
  double label_deff, pred_deff;
  uint32_t *emb_unit;
} es_drift_sample;

/* What makes one unit of evidence: the near-duplicate cluster; the cluster joined with bursts
 * (consecutive captures of one device less than burst_seconds apart; a longer run than
 * ES_DRIFT_BURST_MAX is not a burst; the default, burst:ES_DRIFT_BURST_SECONDS); or every frame on
 * its own (the tests then treat frames as independent, as before 2026-12-07). */
#define ES_DRIFT_BURST_SECONDS 3
#define ES_DRIFT_BURST_MAX 16
typedef enum { ES_DRIFT_UNIT_CLUSTER, ES_DRIFT_UNIT_BURST, ES_DRIFT_UNIT_FRAME } es_drift_unit_kind;

typedef struct es_drift_unit_rule {
  es_drift_unit_kind kind;
  int64_t burst_seconds;
} es_drift_unit_rule;

/* "cluster", "burst:SECONDS" (1 to 10^9) or "frame"; ES_EUSAGE otherwise. */
int es_drift_unit_parse(const char *s, es_drift_unit_rule *u, es_error *err);

/* Selections: "batch:NAME" (items whose first occurrence is in batch NAME: what the batch
 * brought), "split:NAME". Items with derived_from (augmented) are left out. The manifest form
 * also fills the size features and the frozen-output check from every occurrence; the index
 * form (million-item datasets, no JSON parsing) has stats, labels and first devices only.
 * The sample is prepared (sorted) on return; free with es_drift_sample_free() (NULL-safe). */
int es_drift_sample_from_manifest(const es_manifest *m, const char *spec,
                                  const es_drift_unit_rule *u, int jobs, es_drift_sample *s,
                                  es_error *err);
int es_drift_sample_from_index(const es_index *ix, const char *spec,
                               const es_drift_unit_rule *u, int jobs, es_drift_sample *s,
                               es_error *err);
/* Builds a sample from columns the caller filled (n, col, labels ...): sorts them. */
int es_drift_sample_prepare(es_drift_sample *s, int jobs, es_error *err);
void es_drift_sample_free(es_drift_sample *s);

/* Appends a value to column c / a label count / a device (helpers for the builders above and
 * for callers that assemble samples themselves, such as the benchmark). */
int es_drift_sample_push(es_drift_sample *s, int c, double v, es_error *err);
int es_drift_sample_add_label(es_drift_sample *s, const char *label, double count,
                              es_error *err);

/* The profile file: the sample's columns (ascending; above max_values per column an evenly
 * spaced subset of order statistics is kept), label counts and device histories.
 * es_drift_profile_json() returns a new reference; es_drift_profile_parse() checks every field
 * (ES_EFORMAT naming what is wrong) and fills a prepared sample. */
json_t *es_drift_profile_json(const es_drift_sample *s, size_t max_values, es_error *err);
int es_drift_profile_parse(const uint8_t *buf, size_t len, const char *spec,
                           es_drift_sample *s, es_error *err);

/* --model: an int8 classifier run on every selected item (decoded from its object, turned
 * into the input tensor by nn/preprocess.h), giving the predicted class, the top probability
 * and the embedding: the input of the classifier head (walking back from the output over
 * SOFTMAX, RESHAPE, SQUEEZE, QUANTIZE, DEQUANTIZE, LOGISTIC to the op that makes the logits,
 * and taking that op's input). */
typedef struct es_drift_model {
  struct es_model *model;
  struct es_interp *ip;  /* the prototype; threads clone it */
  int emb_tensor;        /* tensor index of the embedding */
  const char *emb_name;
  size_t emb_dim, n_classes;
  uint32_t in_h, in_w, in_c;
  char pp_spec[256];     /* the resolved preprocessing, canonical form */
  void *pp;              /* es_preprocess, resolved */
} es_drift_model;

/* Loads the model bytes with the preprocessing spec (NULL = defaults). Close with
 * es_drift_model_close() (NULL-safe). ES_EUSAGE when the model is not a single-image
 * classifier. */
int es_drift_model_open(const uint8_t *buf, size_t len, const char *pp_spec,
                        es_drift_model *dm, es_error *err);
void es_drift_model_close(es_drift_model *dm);

/* Runs dm over the items of the selection spec (the same items es_drift_sample_from_manifest()
 * took) on `jobs` threads, each with its own interpreter; class names from labels (NULL or
 * fewer lines than classes: "class0", "class1" ...). Fills the confidence column, the
 * predicted-class counts and up to max_emb embeddings (a subset chosen with seed), then
 * sorts the column. Results do not depend on jobs. */
int es_drift_sample_run_model(es_drift_sample *s, const es_drift_model *dm,
                              const struct es_store *st, const es_manifest *m,
                              const char *spec, char **labels, size_t n_labels,
                              size_t max_emb, uint64_t seed, int jobs, es_error *err);

/* Maximum mean discrepancy between two sets of rows (Gaussian kernel, bandwidth the median
 * pairwise distance of the pooled rows): the unbiased MMD^2 and a permutation p-value
 * (1 + #{permuted >= observed}) / (1 + perms) with a seeded shuffle. With block (nx + ny
 * entries: x's rows then y's, equal numbers for rows of one unit of evidence) whole blocks
 * are shuffled between the sides; NULL: every row its own block. */
int es_drift_mmd(const float *x, size_t nx, const float *y, size_t ny, size_t dim,
                 const uint32_t *block, unsigned perms, uint64_t seed, int jobs, double *mmd2,
                 double *p, es_error *err);

typedef struct es_drift_opts {
  double alpha;              /* BH false-discovery rate (0.05) */
  double min_effect_numeric; /* Wasserstein / reference std (0.1) */
  double min_effect_categorical; /* Jensen-Shannon distance (0.1) */
  double drift_share;        /* < 0: any drifted feature; else share of tested features */
  double sharpness_drop;     /* device flag when the median falls by this share (0.35) */
  double brightness_shift;   /* device flag at this many reference std of the median (0.5) */
  double clipped_rise;       /* device flag when the clipped-frame share rises by this (0.2) */
  size_t frozen_run;         /* device flag at this many identical frames in a row (5) */
  size_t min_device_items;   /* fewer items on either side: no sharpness/brightness flag (10) */
  unsigned psi_bins;         /* 10 */
  double min_effect_mmd;     /* MMD (square root of MMD^2) of the embeddings (0.1) */
  unsigned mmd_perms;        /* permutations of the MMD test (200) */
  uint64_t seed;             /* of the MMD permutations (0) */
  int jobs;                  /* threads for the MMD kernel matrix (1) */
} es_drift_opts;

void es_drift_opts_default(es_drift_opts *o);

#define ES_DRIFT_HIST_BINS 24

typedef struct es_drift_feature {
  const char *name;
  int categorical;
  int tested;          /* 0 when a side has no values; note says why */
  const char *note;
  size_t n_ref, n_cur;
  double neff_ref, neff_cur; /* the independent values they are worth (n / design effect) */
  double statistic;    /* KS D, or chi-squared (over the effective counts) */
  double p, p_adj;
  int exact;           /* KS: exact p-value */
  unsigned dof;        /* chi-squared */
  double wasserstein;  /* numeric */
  double ref_std, ref_mean, cur_mean;
  double effect;       /* Wasserstein/std (inf when the reference is constant), or JS */
  double psi;
  int significant, drifted;
  /* numeric: histograms over [lo, hi] in shares; categorical: shares per category */
  double lo, hi;
  size_t n_bins;
  double *ref_hist, *cur_hist;
  char **cats; /* categorical: names (borrowed from the samples) */
  int mmd;      /* the embedding feature: statistic = MMD^2, effect = MMD */
} es_drift_feature;

enum {
  ES_DRIFT_FLAG_SHARPNESS = 1,
  ES_DRIFT_FLAG_BRIGHTNESS = 2,
  ES_DRIFT_FLAG_CLIPPED = 4,
  ES_DRIFT_FLAG_FROZEN = 8,
};

typedef struct es_drift_health {
  const char *device; /* borrowed from the current sample */
  size_t n_ref, n_cur;
  double neff_ref, neff_cur; /* of the sharpness history (the brightness one may differ) */
  int has_history;
  double sharp_ref, sharp_cur, sharp_ratio, sharp_p; /* medians, cur/ref, KS p */
  double bright_ref, bright_cur, bright_shift, bright_p; /* medians, shift in ref std */
  double clipped_ref, clipped_cur;                   /* shares of clipped frames */
  size_t frozen_run;
  const char *frozen_item;
  int frozen_checked;
  unsigned flags;
} es_drift_health;

typedef struct es_drift_result {
  es_drift_feature *f; /* sorted by effect, largest first (untested last) */
  size_t nf;
  es_drift_health *h;  /* by device name */
  size_t nh;
  size_t n_tested, n_drifted, n_flags;
  double share;        /* n_drifted / n_tested */
  int drift;           /* the feature verdict (any drifted, or share >= drift_share) */
  int found;           /* drift or any flag: exit 1 */
} es_drift_result;

/* Compares cur against ref. Both must be prepared. Free r with es_drift_result_free(). */
int es_drift_compare(const es_drift_sample *ref, const es_drift_sample *cur,
                     const es_drift_opts *o, es_drift_result *r, es_error *err);
void es_drift_result_free(es_drift_result *r);

/* The JSON form of everything the comparison computed (new reference, NULL on no memory). */
json_t *es_drift_result_json(const es_drift_result *r, const es_drift_sample *ref,
                             const es_drift_sample *cur, const es_drift_opts *o);

/* The self-contained HTML report of the same numbers (verdict, features by effect with
 * histogram overlays in inline SVG, camera health). Caller frees the returned string. */
char *es_drift_report_html(const es_drift_result *r, const es_drift_sample *ref,
                           const es_drift_sample *cur, const es_drift_opts *o,
                           const char *dataset, const char *when, size_t *len,
                           es_error *err);

#endif
