/* edgeset-eval: measures a quantized model exactly as the microcontroller runs it. Modes:
 * -d DIR evaluates a split of a dataset (metrics, JSON, HTML report, gates, ledger),
 * --dump-outputs runs raw input tensors and prints the outputs (the conformance format),
 * --info describes the model, and --image classifies image files (JSONL). Option parsing and
 * file handling only; the work is in the eval library (eval/) and nn/. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/store.h"
#include "eval/classify.h"
#include "eval/dataset.h"
#include "eval/eval.h"
#include "formats/manifest.h" /* ES_FLOAT_DIGITS */

static const char *const PROG = "edgeset-eval";

static const char USAGE[] =
    "edgeset-eval --model M.tflite (-d DIR [--split test] [--report R.html] [--json] [gates] |\n"
    "             --raw-input FILE... --dump-outputs | --info [--json] |\n"
    "             --profile (--raw-input FILE... | --image FILE) [--json] |\n"
    "             --image FILE... [--preprocess SPEC] [--top K] [--labels labels.txt] [-j N])\n"
    "\n"
    "Runs an int8 TFLite model bit-exactly as TensorFlow Lite Micro's reference kernels do.\n"
    "\n"
    "  -m, --model FILE      the .tflite model\n"
    "  -d, --dataset DIR     evaluate the model on a split of the dataset (or EDGESET_DATASET)\n"
    "      --split NAME      the split to evaluate (default test); augmented items are left out\n"
    "      --labels FILE     labels.txt (default DIR/labels.txt): output index -> class\n"
    "      --report FILE     write a self-contained HTML report\n"
    "      --json            the metrics and per-item predictions as JSON on stdout\n"
    "      --positive LABEL  two-class models: ROC AUC, precision-recall curve, thresholds\n"
    "      --baseline FILE   compare with an earlier --json output (McNemar exact test)\n"
    "      --min-accuracy A, --min-balanced-accuracy A, --min-class-recall R, --max-ece E,\n"
    "      --max-drop D (accuracy below the baseline's), --no-regression (McNemar p < 0.05\n"
    "                        in the baseline's favour): gates; a failed gate is exit 1\n"
    "      --reuse-limit N   warn when a held-out split has compared more than N models\n"
    "                        (default 3)\n"
    "      --gallery N       misclassified thumbnails in the report (default 60)\n"
    "      --dry-run         do not record the evaluation in the ledger\n"
    "  -q, --quiet           no summary on stdout\n"
    "      --raw-input FILE  raw input tensors back to back, in the input's type; give it once\n"
    "                        per model input, in order; each file holds the same number N\n"
    "      --dump-outputs    run the N inferences; per run print one line per output tensor,\n"
    "                        its values in decimal separated by spaces (floats as %.9g)\n"
    "      --info            operators with shapes, parameters and MACs; totals with flash\n"
    "                        and planned arena bytes\n"
    "      --json            --info as JSON\n"
    "      --profile         time one inference operator by operator (the first tensors of the\n"
    "                        --raw-input files, or one --image): time, share, GMAC/s and share\n"
    "                        of the measured peak of one core for the kernel variant that runs\n"
    "                        (EDGESET_ISA); with --json as JSON\n"
    "      --image FILE...   classify image files (PNG, JPEG, PNM): one JSON object per file\n"
    "                        and line, {\"file\", \"top\": [{\"index\", \"label\", \"probability\"\n"
    "                        or \"score\"}]}, or {\"file\", \"error\"}; files may follow as\n"
    "                        further arguments\n"
    "      --preprocess SPEC resize=stretch|crop|pad, channels=auto|rgb|bgr|gray,\n"
    "                        map=auto|full|meta|range:LO,HI|mean:M[,M,M]/std:S[,S,S], pad=V\n"
    "                        (default resize=stretch,channels=auto,map=auto,pad=0)\n"
    "      --top K           classes per image (default 5)\n"
    "      --labels FILE     labels.txt: class names, line order = output index\n"
    "  -j, --jobs N          threads (default: all cores; 0 = all cores): across images with -d\n"
    "                        and --image, inside each inference with --raw-input, --profile\n"
    "                        and one --image; the output does not depend on it\n"
    "  -h, --help            this help\n"
    "      --version         version\n"
    "\n"
    "Exit status: 0 done, 1 a gate failed (-d), 2 bad usage or unusable model/input (with -d:\n"
    "items whose label is not in the vocabulary; with --image: some image could\n"
    "not be decoded; the others are still classified), 3 I/O or internal failure (with\n"
    "--image: some file could not be read).\n";

enum { OPT_RAW = 256, OPT_DUMP, OPT_INFO, OPT_JSON, OPT_VERSION, OPT_IMAGE, OPT_PREPROCESS,
       OPT_TOP, OPT_LABELS, OPT_SPLIT, OPT_REPORT, OPT_POSITIVE, OPT_BASELINE, OPT_MINACC,
       OPT_MINBAL, OPT_MINREC, OPT_MAXECE, OPT_MAXDROP, OPT_NOREG, OPT_REUSE, OPT_GALLERY,
       OPT_DRY, OPT_PROFILE };

typedef struct eval_args {
  const char *model;
  const char **raw;
  size_t n_raw;
  bool dump, info, json, profile;
  const char **images;
  size_t n_images;
  const char *labels;
  es_preprocess pp;
  unsigned long long top;
  int jobs;
  const char *dataset, *split, *report, *positive, *baseline, *spec;
  es_eval_gates gates;
  unsigned long long reuse_limit, gallery;
  bool dry, quiet, dataset_mode;
} eval_args;

static void report_image_error(void *ctx, const char *path, int code, const char *msg)
{
  (void)ctx;
  (void)path;
  (void)code;
  es_cli_error(PROG, "%s", msg);
}

/* --image: unusable images are exit 2, unreadable files 3; the others are still printed. */
static int classify(const eval_args *a, const es_model *m, es_error *err)
{
  es_classifier *c = NULL;
  es_vocab labels = {0};
  es_classify_stats st = {0};
  int rc = es_classifier_new(m, &a->pp, &c, err);
  if (rc == ES_OK && a->labels)
    rc = es_eval_vocab_read(a->labels, &labels, err);
  if (rc == ES_OK && a->labels && labels.n != es_classifier_classes(c))
    rc = es_error_set(err, ES_EUSAGE, "'%s' has %zu label%s but the model's output has %zu classes",
                      a->labels, labels.n, labels.n == 1 ? "" : "s", es_classifier_classes(c));
  if (rc == ES_OK) {
    es_classify_opts o = {.top_k = (size_t)a->top,
                          .labels = a->labels ? &labels : NULL,
                          .jobs = a->jobs,
                          .on_error = report_image_error};
    rc = es_eval_classify_files(c, a->images, a->n_images, &o, stdout, &st, err);
  }
  es_vocab_free(&labels);
  es_classifier_free(c);
  if (rc)
    return rc;
  if (st.failed)
    return es_error_set(err, ES_EIO, "%zu of %zu files could not be read", st.failed,
                        a->n_images);
  if (st.unusable)
    return es_error_set(err, ES_EFORMAT, "%zu of %zu images could not be classified",
                        st.unusable, a->n_images);
  return ES_OK;
}

/* --profile: the inputs from the raw files' first tensors or from the image, then the timed
 * inferences. */
static int profile(const eval_args *a, const es_model *m, es_error *err)
{
  es_interp *ip = NULL;
  es_classifier *c = NULL;
  uint8_t *buf = NULL;
  double *values = NULL;
  size_t len = 0;
  const es_interp_opts o = {.threads = a->jobs};
  int rc = es_interp_new(m, &o, &ip, err);
  if (!rc && a->n_raw) {
    rc = es_eval_fill_raw(m, ip, a->raw, a->n_raw, err);
  } else if (!rc) {
    if (!(rc = es_classifier_new(m, &a->pp, &c, err)) &&
        !(rc = es_read_file(a->images[0], &buf, &len, err))) {
      values = calloc(es_classifier_classes(c) + 1, sizeof *values);
      rc = values ? es_classifier_run(c, ip, buf, len, values, err)
                  : es_error_set(err, ES_ENOMEM, "out of memory");
      if (rc && rc != ES_ENOMEM)
        es_error_prefix(err, "'%s'", a->images[0]);
    }
  }
  if (!rc)
    rc = es_eval_profile(m, ip, 1.0, a->json, stdout, err);
  free(values);
  free(buf);
  es_classifier_free(c);
  es_interp_free(ip);
  return rc;
}

/* Writes the report next to its final name and renames it into place. */
static int write_report(const char *path, const es_eval_outcome *out, es_error *err)
{
  char *tmp = NULL;
  if (asprintf(&tmp, "%s.%ld.tmp", path, (long)getpid()) < 0)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  FILE *f = fopen(tmp, "w");
  int rc;
  if (!f) {
    rc = es_error_errno(err, ES_EIO, errno, "cannot write '%s'", path);
    free(tmp);
    return rc;
  }
  rc = es_eval_report_html(f, out, err);
  if (fclose(f) && rc == ES_OK)
    rc = es_error_errno(err, ES_EIO, errno, "cannot write '%s'", path);
  if (rc == ES_OK && rename(tmp, path))
    rc = es_error_errno(err, ES_EIO, errno, "cannot rename the report to '%s'", path);
  if (rc)
    unlink(tmp);
  free(tmp);
  return rc;
}

static int exit_for(int rc)
{
  return rc == ES_EUSAGE || rc == ES_EFORMAT || rc == ES_ELIMIT || rc == ES_EUNSUPPORTED
             ? ES_EXIT_USAGE
             : ES_EXIT_FAIL;
}

/* -d DIR: evaluate a split. Labels and baseline are unusable arguments (2) when bad. */
static int evaluate(const eval_args *a, const es_model *m, const uint8_t *model_bytes,
                    size_t model_len)
{
  es_error err = {0};
  es_store st;
  memset(&st, 0, sizeof st);
  st.dirfd = st.lockfd = -1;
  es_classifier *c = NULL;
  es_vocab labels = {0};
  es_eval_outcome out = {0};
  json_t *base = NULL;
  char *labels_path = NULL;
  int status = ES_EXIT_FAIL, rc;
  if ((rc = es_store_open(&st, a->dataset, 0, NULL, &err))) {
    status = es_cli_fail(PROG, rc, &err);
    goto cleanup;
  }
  if (a->labels)
    labels_path = strdup(a->labels);
  else if (asprintf(&labels_path, "%s/labels.txt", a->dataset) < 0)
    labels_path = NULL;
  if (!labels_path) {
    es_cli_error(PROG, "out of memory");
    goto cleanup;
  }
  if (!a->labels && access(labels_path, F_OK) != 0) {
    es_cli_error(PROG, "no labels: '%s' does not exist; give --labels labels.txt",
                 es_show(labels_path));
    status = ES_EXIT_USAGE;
    goto cleanup;
  }
  if ((rc = es_eval_vocab_read(labels_path, &labels, &err)) ||
      (rc = es_classifier_new(m, &a->pp, &c, &err))) {
    es_cli_error(PROG, "%s", err.msg);
    status = rc == ES_EIO && a->labels ? ES_EXIT_USAGE : exit_for(rc);
    goto cleanup;
  }
  if (a->baseline) {
    json_error_t je;
    base = json_load_file(a->baseline, 0, &je);
    if (!base) {
      es_cli_error(PROG, "cannot read baseline '%s': %s (line %d)", es_show(a->baseline), je.text,
                   je.line);
      status = ES_EXIT_USAGE;
      goto cleanup;
    }
  }
  es_eval_run_opts o = {.dataset = a->dataset,
                        .split = a->split,
                        .model_path = a->model,
                        .model_bytes = model_bytes,
                        .model_len = model_len,
                        .labels = &labels,
                        .labels_path = labels_path,
                        .preprocess = a->spec,
                        .positive = a->positive,
                        .baseline = base,
                        .baseline_path = a->baseline,
                        .gates = a->gates,
                        .jobs = a->jobs,
                        .reuse_limit = (size_t)a->reuse_limit,
                        .record = !a->dry,
                        .gallery = (size_t)a->gallery,
                        .measure_latency = true};
  rc = es_eval_dataset(&st, m, c, &o, &out, &err);
  if (rc) {
    for (size_t i = 0; i < out.problems.n; i++)
      es_cli_error(PROG, "%s", out.problems.msg[i]);
    es_cli_error(PROG, "%s", err.msg);
    status = exit_for(rc);
    goto cleanup;
  }
  if (out.overfit_warning)
    es_cli_error(PROG, "warning: %s",
                 json_string_value(json_object_get(json_object_get(out.doc, "test_set"),
                                                   "warning")));
  if (a->report && (rc = write_report(a->report, &out, &err))) {
    status = es_cli_fail(PROG, rc, &err);
    goto cleanup;
  }
  if (a->json) {
    json_dumpf(out.doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                    JSON_REAL_PRECISION(ES_FLOAT_DIGITS));
    fputc('\n', stdout);
  } else if (!a->quiet) {
    es_eval_summary_text(stdout, out.doc);
  }
  if (out.gates_failed)
    es_cli_error(PROG, "a gate failed");
  status = es_cli_finish(PROG, out.gates_failed ? ES_EXIT_FOUND : ES_EXIT_OK);
cleanup:
  es_eval_outcome_free(&out);
  json_decref(base);
  es_classifier_free(c);
  es_vocab_free(&labels);
  free(labels_path);
  es_store_close(&st);
  return status;
}

static int run(const eval_args *a)
{
  es_error err = {0};
  es_model *m = NULL;
  uint8_t *bytes = NULL;
  size_t len = 0;
  int rc = es_read_file(a->model, &bytes, &len, &err);
  if (rc == ES_OK)
    rc = es_model_load(bytes, len, NULL, &m, &err);
  if (rc)
    es_error_prefix(&err, "cannot load model '%s'", a->model);
  if (rc) {
    free(bytes);
    return es_cli_fail_option_file(PROG, rc, &err);
  }
  if (a->dataset_mode) {
    int status = evaluate(a, m, bytes, len);
    es_model_free(m);
    free(bytes);
    return status;
  }
  free(bytes);
  if (a->profile)
    rc = profile(a, m, &err);
  else if (a->info)
    rc = es_eval_info(m, a->model, a->json, stdout, &err);
  else if (a->n_images)
    rc = classify(a, m, &err);
  else
    rc = es_eval_dump_outputs(m, a->raw, a->n_raw, a->jobs, stdout, &err);
  es_model_free(m);
  if (rc) {
    es_cli_error(PROG, "%s", err.msg);
    return rc == ES_EUSAGE || rc == ES_EFORMAT || rc == ES_ELIMIT || rc == ES_EUNSUPPORTED
               ? ES_EXIT_USAGE
               : ES_EXIT_FAIL;
  }
  return es_cli_finish(PROG, ES_EXIT_OK);
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"model", required_argument, NULL, 'm'},  {"raw-input", required_argument, NULL, OPT_RAW},
      {"dump-outputs", no_argument, NULL, OPT_DUMP}, {"info", no_argument, NULL, OPT_INFO},
      {"json", no_argument, NULL, OPT_JSON},   {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION}, {"image", required_argument, NULL, OPT_IMAGE},
      {"preprocess", required_argument, NULL, OPT_PREPROCESS},
      {"top", required_argument, NULL, OPT_TOP}, {"labels", required_argument, NULL, OPT_LABELS},
      {"jobs", required_argument, NULL, 'j'},  {"dataset", required_argument, NULL, 'd'},
      {"split", required_argument, NULL, OPT_SPLIT}, {"report", required_argument, NULL, OPT_REPORT},
      {"positive", required_argument, NULL, OPT_POSITIVE},
      {"baseline", required_argument, NULL, OPT_BASELINE},
      {"min-accuracy", required_argument, NULL, OPT_MINACC},
      {"min-balanced-accuracy", required_argument, NULL, OPT_MINBAL},
      {"min-class-recall", required_argument, NULL, OPT_MINREC},
      {"max-ece", required_argument, NULL, OPT_MAXECE},
      {"max-drop", required_argument, NULL, OPT_MAXDROP},
      {"no-regression", no_argument, NULL, OPT_NOREG},
      {"reuse-limit", required_argument, NULL, OPT_REUSE},
      {"gallery", required_argument, NULL, OPT_GALLERY}, {"dry-run", no_argument, NULL, OPT_DRY},
      {"profile", no_argument, NULL, OPT_PROFILE},
      {"quiet", no_argument, NULL, 'q'}, {NULL, 0, NULL, 0},
  };
  eval_args a = {0};
  es_error err = {0};
  const char *spec = NULL;
  a.top = 5;
  a.split = "test";
  a.reuse_limit = ES_EVAL_REUSE_LIMIT;
  a.gallery = 60;
  es_eval_gates_none(&a.gates);
  const char *dataset_opt = NULL;
  bool dataset_only = false; /* an option that only -d uses was given */
  if (es_cli_parse_jobs("0", &a.jobs, &err))
    a.jobs = 1;
  a.raw = calloc((size_t)argc + 1, sizeof *a.raw);
  a.images = calloc((size_t)argc + 1, sizeof *a.images);
  if (!a.raw || !a.images) {
    free(a.raw);
    free(a.images);
    es_cli_error(PROG, "out of memory");
    return ES_EXIT_FAIL;
  }
  int c, status;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":m:hj:d:q", longopts, NULL)) != -1) {
    double *share = NULL;
    switch (c) {
    case 'd':
      dataset_opt = optarg;
      break;
    case 'q':
      a.quiet = true;
      break;
    case OPT_SPLIT:
      a.split = optarg;
      dataset_only = true;
      break;
    case OPT_REPORT:
      a.report = optarg;
      dataset_only = true;
      break;
    case OPT_POSITIVE:
      a.positive = optarg;
      dataset_only = true;
      break;
    case OPT_BASELINE:
      a.baseline = optarg;
      dataset_only = true;
      break;
    case OPT_MINACC: share = &a.gates.min_accuracy; break;
    case OPT_MINBAL: share = &a.gates.min_balanced_accuracy; break;
    case OPT_MINREC: share = &a.gates.min_class_recall; break;
    case OPT_MAXECE: share = &a.gates.max_ece; break;
    case OPT_MAXDROP: share = &a.gates.max_drop; break;
    case OPT_NOREG:
      a.gates.no_significant_regression = true;
      dataset_only = true;
      break;
    case OPT_REUSE:
      if (es_cli_parse_uint(optarg, 0, 1000000, &a.reuse_limit, &err)) {
        status = es_cli_usage_error(PROG, USAGE, "--reuse-limit: %s", err.msg);
        goto done;
      }
      dataset_only = true;
      break;
    case OPT_GALLERY:
      if (es_cli_parse_uint(optarg, 0, 100000, &a.gallery, &err)) {
        status = es_cli_usage_error(PROG, USAGE, "--gallery: %s", err.msg);
        goto done;
      }
      dataset_only = true;
      break;
    case OPT_DRY:
      a.dry = true;
      dataset_only = true;
      break;
    case 'm':
      a.model = optarg;
      break;
    case OPT_RAW:
      a.raw[a.n_raw++] = optarg;
      break;
    case OPT_DUMP:
      a.dump = true;
      break;
    case OPT_INFO:
      a.info = true;
      break;
    case OPT_PROFILE:
      a.profile = true;
      break;
    case OPT_JSON:
      a.json = true;
      break;
    case OPT_IMAGE:
      a.images[a.n_images++] = optarg;
      break;
    case OPT_PREPROCESS:
      spec = a.spec = optarg;
      break;
    case OPT_TOP:
      if (es_cli_parse_uint(optarg, 1, 1000000, &a.top, &err)) {
        status = es_cli_usage_error(PROG, USAGE, "--top: %s", err.msg);
        goto done;
      }
      break;
    case OPT_LABELS:
      a.labels = optarg;
      break;
    case 'j':
      if (es_cli_parse_jobs(optarg, &a.jobs, &err)) {
        status = es_cli_usage_error(PROG, USAGE, "--jobs: %s", err.msg);
        goto done;
      }
      break;
    case 'h':
      status = es_cli_help(PROG, USAGE);
      goto done;
    case OPT_VERSION:
      es_cli_version(PROG);
      status = es_cli_finish(PROG, ES_EXIT_OK);
      goto done;
    default:
      status = es_cli_bad_option(PROG, USAGE, c, argv);
      goto done;
    }
    if (share) { /* a gate's value: a share in [0, 1] */
      char *end = NULL;
      errno = 0;
      double v = strtod(optarg, &end);
      if (!*optarg || *end || errno || !(v >= 0 && v <= 1)) {
        const char *name = "gate";
        for (size_t k = 0; longopts[k].name; k++)
          if (longopts[k].val == c)
            name = longopts[k].name;
        status = es_cli_usage_error(PROG, USAGE, "--%s '%s': give a number from 0 to 1", name,
                                    es_show(optarg));
        goto done;
      }
      *share = v;
      dataset_only = true;
    }
  }
  if (a.n_images) /* --image a.png b.png ...: the rest are images too */
    while (optind < argc)
      a.images[a.n_images++] = argv[optind++];
  if (optind < argc) {
    status = es_cli_usage_error(PROG, USAGE, "unexpected argument '%s'", es_show(argv[optind]));
    goto done;
  }
  if (!a.model) {
    status = es_cli_usage_error(PROG, USAGE, "--model is required");
    goto done;
  }
  if (a.profile) { /* --profile: one inference, of raw tensors or of one image */
    if (a.dump || a.info || dataset_opt || dataset_only || (a.n_raw > 0) == (a.n_images > 0) ||
        a.n_images > 1) {
      status = es_cli_usage_error(PROG, USAGE, "--profile goes with --raw-input FILE... or one "
                                               "--image FILE (and --json, --preprocess)");
      goto done;
    }
    if (es_preprocess_parse(spec, &a.pp, &err)) {
      status = es_cli_usage_error(PROG, USAGE, "--preprocess: %s", err.msg);
      goto done;
    }
    status = run(&a);
    goto done;
  }
  if (!a.dump && !a.info && !a.n_images) { /* dataset mode: -d or EDGESET_DATASET */
    a.dataset = es_cli_dataset(dataset_opt);
    a.dataset_mode = a.dataset != NULL;
  } else if (dataset_opt || dataset_only) {
    status = es_cli_usage_error(PROG, USAGE, "-d and its options do not go with --dump-outputs, "
                                             "--info or --image");
    goto done;
  }
  if ((int)a.dump + (int)a.info + (a.n_images > 0) + (int)a.dataset_mode != 1) {
    status = es_cli_usage_error(PROG, USAGE,
                                "give exactly one of -d DIR, --dump-outputs, --info and --image");
    goto done;
  }
  if (!a.dataset_mode && dataset_only) {
    status = es_cli_usage_error(PROG, USAGE, "--split, --report, gates and --baseline go with -d");
    goto done;
  }
  if (a.dataset_mode && a.top != 5) {
    status = es_cli_usage_error(PROG, USAGE, "--top goes with --image");
    goto done;
  }
  if (a.dataset_mode && !isnan(a.gates.max_drop) && !a.baseline) {
    status = es_cli_usage_error(PROG, USAGE, "--max-drop needs --baseline");
    goto done;
  }
  if (a.dataset_mode && a.gates.no_significant_regression && !a.baseline) {
    status = es_cli_usage_error(PROG, USAGE, "--no-regression needs --baseline");
    goto done;
  }
  if (!a.n_images && !a.dataset_mode && (spec || a.labels || a.top != 5)) {
    status = es_cli_usage_error(PROG, USAGE, "--preprocess, --top and --labels go with --image");
    goto done;
  }
  if (a.n_images && a.n_raw) {
    status = es_cli_usage_error(PROG, USAGE, "--raw-input goes with --dump-outputs, not --image");
    goto done;
  }
  if (es_preprocess_parse(spec, &a.pp, &err)) {
    status = es_cli_usage_error(PROG, USAGE, "--preprocess: %s", err.msg);
    goto done;
  }
  if (a.dump && a.n_raw == 0) {
    status = es_cli_usage_error(PROG, USAGE, "--dump-outputs needs --raw-input");
    goto done;
  }
  if (a.info && a.n_raw) {
    status = es_cli_usage_error(PROG, USAGE, "--raw-input goes with --dump-outputs, not --info");
    goto done;
  }
  if (a.json && !a.info && !a.dataset_mode) {
    status = es_cli_usage_error(PROG, USAGE, "--json goes with --info or -d");
    goto done;
  }
  status = run(&a);
done:
  free(a.raw);
  free(a.images);
  return status;
}
