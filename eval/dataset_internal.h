/* Helpers shared by the files of the dataset evaluation only. */
#ifndef ES_EVAL_DATASET_INTERNAL_H
#define ES_EVAL_DATASET_INTERNAL_H

#include "eval/dataset.h"
#include "formats/manifest.h"

/* One evaluated item. */
typedef struct es__eval_pred {
  const es_item *it;
  size_t truth, pred;
  size_t truth_rank; /* classes ranked above the true one (ties by index) */
  double confidence; /* probability of pred */
} es__eval_pred;

typedef struct es__eval_run {
  const es_eval_run_opts *o;
  size_t C, n;
  es__eval_pred *preds;   /* n, in manifest (id) order */
  double *probs;          /* n x C */
  bool softmax;
  size_t augmented;       /* left out */
  char version[33];       /* hash of the split's item ids */
  char model_hash[33];
  double latency_ms;      /* median host latency, NaN when not measured */
} es__eval_run;

/* The metrics object of the document (new reference). */
json_t *es__eval_metrics_json(const es__eval_run *r, es_error *err);
/* The baseline comparison object (new reference), given the new predictions. */
json_t *es__eval_baseline_json(const es__eval_run *r, const json_t *metrics, es_error *err);
/* Thumbnail PNG (fits in max x max) of image bytes. Caller frees *png. */
int es__eval_thumbnail(const uint8_t *buf, size_t len, uint32_t max, uint8_t **png,
                       size_t *png_len, es_error *err);

#endif
