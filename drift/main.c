/* edgeset-drift: parses options, loads the two selections (manifest, binary index or saved
 * profile), runs the drift library's comparison and prints or writes its results. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/store.h"
#include "drift/drift.h"
#include "formats/index.h"
#include "formats/labels.h"
#include "formats/manifest.h"

static const char *const prog = "edgeset-drift";
static const char *const usage =
    "edgeset-drift -d DIR --reference batch:A|split:S|profile:FILE --current batch:B|split:S\n"
    "       edgeset-drift -d DIR --reference batch:A|split:S --save-profile FILE\n"
    "\n"
    "Tells whether the current selection still looks like the reference: per-image stats,\n"
    "sizes and labels, tested feature by feature (KS or chi-squared, Benjamini-Hochberg),\n"
    "a feature drifting only when significant and its effect reaches the threshold; and\n"
    "camera health, each device of the current selection against its own reference history.\n"
    "\n"
    "  -d, --dataset DIR          the dataset (default: $EDGESET_DATASET)\n"
    "      --reference SEL        batch:NAME (items first seen in that batch), split:NAME, or\n"
    "                             profile:FILE (a saved reference)\n"
    "      --current SEL          batch:NAME or split:NAME\n"
    "      --save-profile FILE    write the reference's summary to FILE for later runs\n"
    "      --profile-max N        values kept per feature in a profile (default 100000)\n"
    "      --stats-only           read the binary index (index.bin) instead of the manifest:\n"
    "                             no sizes, no frozen-output check; for very large datasets\n"
    "      --alpha A              false-discovery rate across features (default 0.05)\n"
    "      --min-effect E         numeric effect threshold, Wasserstein-1 / reference std\n"
    "                             (default 0.1)\n"
    "      --min-js D             label effect threshold, Jensen-Shannon distance (default 0.1)\n"
    "      --drift-share S        drift only when at least this share of tested features\n"
    "                             drifted (default: any one feature)\n"
    "      --frozen-run N         identical frames in a row that flag a camera (default 5)\n"
    "      --unit U               the unit of evidence: burst:SECONDS (default burst:3: a\n"
    "                             near-duplicate cluster joined with the captures of one\n"
    "                             device less than SECONDS apart, at most 16 of them),\n"
    "                             cluster, or frame (every frame independent)\n"
    "      --model M.tflite       also compare the model's predicted classes, confidence and\n"
    "                             penultimate-layer embeddings (MMD permutation test)\n"
    "      --preprocess SPEC      image -> input tensor (docs/nn.md; default: the model's)\n"
    "      --mmd-max N            embeddings per side, a seeded subset (default 1000)\n"
    "      --mmd-perms N          permutations of the MMD test (default 200)\n"
    "      --min-mmd M            embedding effect threshold, MMD (default 0.1)\n"
    "      --seed N               seed of the embedding subset and permutations (default 0)\n"
    "      --report FILE          write a self-contained HTML report\n"
    "      --json                 print every statistic, p-value, effect and verdict as JSON\n"
    "  -j, --jobs N               threads for sorting (default: all cores)\n"
    "  -q, --quiet                print nothing\n"
    "  -h, --help                 this help\n"
    "      --version              version\n"
    "\n"
    "Exit status: 0 no drift; 1 drift or a camera flag; 2 bad usage; 3 I/O failure.\n";

enum { OPT_REF = 256, OPT_CUR, OPT_SAVE, OPT_PMAX, OPT_STATS, OPT_ALPHA, OPT_EFFECT, OPT_JS,
       OPT_SHARE, OPT_FROZEN, OPT_MODEL, OPT_REPORT, OPT_JSON, OPT_VERSION, OPT_PRE, OPT_MMDMAX,
       OPT_PERMS, OPT_MINMMD, OPT_SEED, OPT_UNIT };

static int parse_double(const char *s, double lo, double hi, double *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= lo && v <= hi))
    return -1;
  *out = v;
  return 0;
}

static int write_file(const char *path, const char *buf, size_t len, es_error *err)
{
  FILE *f = fopen(path, "wb");
  if (!f)
    return es_error_errno(err, ES_EIO, errno, "cannot write '%s'", path);
  size_t k = fwrite(buf, 1, len, f);
  int bad = k != len || fflush(f) != 0;
  if (fclose(f) != 0 || bad)
    return es_error_errno(err, ES_EIO, errno, "cannot write '%s'", path);
  return ES_OK;
}

typedef struct source {
  es_manifest m;
  es_index ix;
  int have_m, have_ix;
  es_drift_model *dm; /* --model, or NULL */
  es_vocab labels;    /* labels.txt: class names in output order */
  size_t mmd_max;
  uint64_t seed;
  es_drift_unit_rule unit;
} source;

/* The dataset's labels.txt (class names in model output order); a missing file is no names, a
 * bad one is reported line by line like edgeset-label does (ES_EUSAGE). */
static int read_labels(es_store *st, source *src, const char *root, es_error *err)
{
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = es_store_read(st, "labels.txt", 1, &buf, &len, err);
  if (rc || !buf)
    return rc;
  char name[4096];
  snprintf(name, sizeof name, "%s/labels.txt", root);
  es_label_problems probs = {0};
  rc = es_vocab_parse(name, (const char *)buf, len, &src->labels, &probs, err);
  free(buf);
  for (size_t i = 0; i < probs.n; i++)
    es_cli_error(prog, "%s", probs.msg[i]);
  es_label_problems_free(&probs);
  return rc;
}

static int load_sample(es_store *st, source *src, int stats_only, const char *spec, int jobs,
                       es_drift_sample *s, es_error *err)
{
  int rc;
  if (!strncmp(spec, "profile:", 8)) {
    uint8_t *buf = NULL;
    size_t len = 0;
    if ((rc = es_read_file(spec + 8, &buf, &len, err)) == ES_OK) {
      rc = es_drift_profile_parse(buf, len, spec, s, err);
      if (rc)
        es_error_prefix(err, "profile '%s'", spec + 8);
    }
    free(buf);
    /* a profile that cannot be read or used is an unusable argument (docs/cli.md) */
    return rc && rc != ES_ENOMEM ? ES_EUSAGE : rc;
  }
  if (strncmp(spec, "batch:", 6) && strncmp(spec, "split:", 6))
    return es_error_set(err, ES_EUSAGE,
                        "bad selection '%s': expected batch:NAME, split:NAME or profile:FILE",
                        spec);
  if (stats_only) {
    if (!src->have_ix) {
      if ((rc = es_index_load(st, NULL, &src->ix, NULL, err)))
        return rc;
      src->have_ix = 1;
    }
    return es_drift_sample_from_index(&src->ix, spec, &src->unit, jobs, s, err);
  }
  if (!src->have_m) {
    if ((rc = es_manifest_load(st, &src->m, err)))
      return rc;
    src->have_m = 1;
  }
  if ((rc = es_drift_sample_from_manifest(&src->m, spec, &src->unit, jobs, s, err)))
    return rc;
  if (src->dm && (rc = es_drift_sample_run_model(s, src->dm, st, &src->m, spec,
                                                 src->labels.names, src->labels.n,
                                                 src->mmd_max, src->seed, jobs, err))) {
    es_drift_sample_free(s);
    return rc;
  }
  return ES_OK;
}

static void print_text(const es_drift_result *r, const es_drift_sample *ref,
                       const es_drift_sample *cur)
{
  printf("%s: %s (%zu items, %zu units) against %s (%zu items, %zu units): %zu of %zu "
         "features drifted, %zu camera%s flagged\n",
         r->found ? "drift" : "no drift", es_show(cur->spec), cur->n_items, cur->n_units,
         es_show(ref->spec), ref->n_items, ref->n_units,
         r->n_drifted, r->n_tested, r->n_flags, r->n_flags == 1 ? "" : "s");
  for (size_t i = 0; i < r->nf; i++) {
    const es_drift_feature *f = &r->f[i];
    if (!f->tested)
      printf("  %-11s not tested: %s\n", f->name, f->note ? f->note : "");
    else
      printf("  %-11s %-6s effect %-9.4g p %-9.3g adjusted %-9.3g %s\n", f->name,
             f->drifted ? "DRIFT" : "ok", f->effect, f->p, f->p_adj,
             f->mmd ? "(MMD permutation, sqrt MMD^2)"
             : f->categorical ? "(chi-squared, JS distance)" : "(KS, Wasserstein/std)");
  }
  for (size_t i = 0; i < r->nh; i++) {
    const es_drift_health *h = &r->h[i];
    if (!h->flags)
      continue;
    printf("  camera '%s':%s%s%s%s\n", es_show(h->device),
           h->flags & ES_DRIFT_FLAG_SHARPNESS ? " sharpness falling" : "",
           h->flags & ES_DRIFT_FLAG_BRIGHTNESS ? " brightness shift" : "",
           h->flags & ES_DRIFT_FLAG_CLIPPED ? " clipped frames" : "",
           h->flags & ES_DRIFT_FLAG_FROZEN ? " frozen output" : "");
  }
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"dataset", required_argument, NULL, 'd'},  {"reference", required_argument, NULL, OPT_REF},
      {"current", required_argument, NULL, OPT_CUR}, {"save-profile", required_argument, NULL, OPT_SAVE},
      {"profile-max", required_argument, NULL, OPT_PMAX}, {"stats-only", no_argument, NULL, OPT_STATS},
      {"alpha", required_argument, NULL, OPT_ALPHA}, {"min-effect", required_argument, NULL, OPT_EFFECT},
      {"min-js", required_argument, NULL, OPT_JS},   {"drift-share", required_argument, NULL, OPT_SHARE},
      {"frozen-run", required_argument, NULL, OPT_FROZEN}, {"model", required_argument, NULL, OPT_MODEL},
      {"report", required_argument, NULL, OPT_REPORT}, {"json", no_argument, NULL, OPT_JSON},
      {"jobs", required_argument, NULL, 'j'},      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},            {"version", no_argument, NULL, OPT_VERSION},
      {"preprocess", required_argument, NULL, OPT_PRE}, {"mmd-max", required_argument, NULL, OPT_MMDMAX},
      {"mmd-perms", required_argument, NULL, OPT_PERMS}, {"min-mmd", required_argument, NULL, OPT_MINMMD},
      {"seed", required_argument, NULL, OPT_SEED},  {"unit", required_argument, NULL, OPT_UNIT},
      {NULL, 0, NULL, 0}};
  const char *dir_opt = NULL, *ref_spec = NULL, *cur_spec = NULL, *save = NULL, *report = NULL;
  const char *model = NULL, *pre = NULL;
  unsigned long long mmd_max = 1000, perms = 200, seed = 0;
  int json_out = 0, quiet = 0, stats_only = 0, jobs = 0;
  es_drift_unit_rule unit = {ES_DRIFT_UNIT_BURST, ES_DRIFT_BURST_SECONDS};
  unsigned long long pmax = 100000, frozen = 5;
  es_drift_opts o;
  es_drift_opts_default(&o);
  es_error err = {0};
  int c;
  opterr = 0; /* getopt would echo a bad option raw; es_cli_bad_option() shows it escaped */
  while ((c = getopt_long(argc, argv, ":d:j:qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'd': dir_opt = optarg; break;
    case OPT_REF: ref_spec = optarg; break;
    case OPT_CUR: cur_spec = optarg; break;
    case OPT_SAVE: save = optarg; break;
    case OPT_STATS: stats_only = 1; break;
    case OPT_MODEL: model = optarg; break;
    case OPT_REPORT: report = optarg; break;
    case OPT_JSON: json_out = 1; break;
    case 'q': quiet = 1; break;
    case 'h': return es_cli_help(prog, usage);
    case OPT_VERSION: es_cli_version(prog); return es_cli_finish(prog, 0);
    case 'j':
      if (es_cli_parse_jobs(optarg, &jobs, &err))
        return es_cli_usage_error(prog, usage, "--jobs: %s", err.msg);
      break;
    case OPT_PMAX:
      if (es_cli_parse_uint(optarg, 100, 100000000, &pmax, &err))
        return es_cli_usage_error(prog, usage, "--profile-max: %s", err.msg);
      break;
    case OPT_FROZEN:
      if (es_cli_parse_uint(optarg, 2, 1000000, &frozen, &err))
        return es_cli_usage_error(prog, usage, "--frozen-run: %s", err.msg);
      break;
    case OPT_PRE: pre = optarg; break;
    case OPT_MMDMAX:
      if (es_cli_parse_uint(optarg, 2, 20000, &mmd_max, &err))
        return es_cli_usage_error(prog, usage, "--mmd-max: %s", err.msg);
      break;
    case OPT_PERMS:
      if (es_cli_parse_uint(optarg, 1, 100000, &perms, &err))
        return es_cli_usage_error(prog, usage, "--mmd-perms: %s", err.msg);
      break;
    case OPT_SEED:
      if (es_cli_parse_uint(optarg, 0, UINT64_MAX, &seed, &err))
        return es_cli_usage_error(prog, usage, "--seed: %s", err.msg);
      break;
    case OPT_MINMMD:
      if (parse_double(optarg, 0, 2, &o.min_effect_mmd))
        return es_cli_usage_error(prog, usage, "--min-mmd: '%s' is not in [0, 2]",
                                  es_show(optarg));
      break;
    case OPT_ALPHA:
      if (parse_double(optarg, 1e-12, 0.5, &o.alpha))
        return es_cli_usage_error(prog, usage, "--alpha: '%s' is not in (0, 0.5]",
                                  es_show(optarg));
      break;
    case OPT_EFFECT:
      if (parse_double(optarg, 0, 1e6, &o.min_effect_numeric))
        return es_cli_usage_error(prog, usage, "--min-effect: '%s' is not a number >= 0",
                                  es_show(optarg));
      break;
    case OPT_JS:
      if (parse_double(optarg, 0, 1, &o.min_effect_categorical))
        return es_cli_usage_error(prog, usage, "--min-js: '%s' is not in [0, 1]",
                                  es_show(optarg));
      break;
    case OPT_UNIT:
      if (es_drift_unit_parse(optarg, &unit, &err))
        return es_cli_usage_error(prog, usage, "%s", err.msg);
      break;
    case OPT_SHARE:
      if (parse_double(optarg, 1e-9, 1, &o.drift_share))
        return es_cli_usage_error(prog, usage, "--drift-share: '%s' is not in (0, 1]",
                                  es_show(optarg));
      break;
    default: return es_cli_bad_option(prog, usage, c, argv);
    }
  }
  o.frozen_run = (size_t)frozen;
  if (optind < argc)
    return es_cli_usage_error(prog, usage, "unexpected argument '%s'", es_show(argv[optind]));
  if (model && stats_only)
    return es_cli_usage_error(prog, usage, "--model needs the manifest: drop --stats-only");
  o.mmd_perms = (unsigned)perms;
  o.seed = seed;
  if (!ref_spec)
    return es_cli_usage_error(prog, usage, "--reference is required");
  if (!cur_spec && !save)
    return es_cli_usage_error(prog, usage, "--current is required (or --save-profile)");
  if (cur_spec && !strncmp(cur_spec, "profile:", 8))
    return es_cli_usage_error(prog, usage, "--current: a profile can only be the reference");
  if (save && !strncmp(ref_spec, "profile:", 8))
    return es_cli_usage_error(prog, usage, "--save-profile: the reference is a profile already");
  int need_store = strncmp(ref_spec, "profile:", 8) != 0 || cur_spec;
  const char *root = es_cli_dataset(dir_opt);
  if (need_store && !root)
    return es_cli_usage_error(prog, usage, "no dataset: give -d DIR or set EDGESET_DATASET");
  if (jobs == 0)
    es_cli_parse_jobs("0", &jobs, &err);
  o.jobs = jobs;

  es_store st = {0};
  st.dirfd = st.lockfd = -1;
  int store_open = 0, rc, status = ES_EXIT_FAIL;
  source src = {0};
  src.unit = unit;
  es_drift_sample ref = {0}, cur = {0};
  es_drift_result r = {0};
  int have_r = 0, have_dm = 0;
  es_drift_model dm = {0};
  json_t *j = NULL;
  char *html = NULL;
  if (need_store) {
    if ((rc = es_store_open(&st, root, 0, NULL, &err))) {
      status = es_cli_fail(prog, rc, &err);
      goto cleanup;
    }
    store_open = 1;
  }
  if (model) {
    uint8_t *mb = NULL;
    size_t ml = 0;
    if (!(rc = es_read_file(model, &mb, &ml, &err)))
      rc = es_drift_model_open(mb, ml, pre, &dm, &err);
    free(mb);
    if (rc) {
      es_error_prefix(&err, "--model");
      status = es_cli_fail_option_file(prog, rc, &err);
      goto cleanup;
    }
    have_dm = 1;
    src.dm = &dm;
    src.mmd_max = (size_t)mmd_max;
    src.seed = seed;
    if (store_open && (rc = read_labels(&st, &src, root, &err))) {
      status = es_cli_fail(prog, rc, &err);
      goto cleanup;
    }
  }
  if ((rc = load_sample(&st, &src, stats_only, ref_spec, jobs, &ref, &err))) {
    es_error_prefix(&err, "--reference");
    status = es_cli_fail(prog, rc, &err);
    goto cleanup;
  }
  if (!ref.n_items) {
    status = es_cli_usage_error(prog, usage, "--reference '%s' selects no items",
                                es_show(ref_spec));
    goto cleanup;
  }
  if (save) {
    json_t *pj = es_drift_profile_json(&ref, (size_t)pmax, &err);
    char *text = pj ? json_dumps(pj, JSON_COMPACT) : NULL;
    json_decref(pj);
    if (!text) {
      status = es_cli_fail(prog, ES_ENOMEM, &err);
      goto cleanup;
    }
    size_t tl = strlen(text);
    text[tl] = '\n'; /* the NUL's byte becomes the final newline */
    rc = write_file(save, text, tl + 1, &err);
    free(text);
    if (rc) {
      status = es_cli_fail(prog, rc, &err);
      goto cleanup;
    }
    if (!cur_spec) {
      if (json_out) {
        j = json_pack("{s:s, s:s, s:I}", "profile", save, "reference", ref.spec, "items",
                      (json_int_t)ref.n_items);
        if (!j || json_dumpf(j, stdout, JSON_INDENT(2)) != 0) {
          es_cli_error(prog, "cannot write the JSON summary (is the file name valid UTF-8?)");
          goto cleanup;
        }
        putchar('\n');
      } else if (!quiet)
        printf("profile of %s (%zu items) written to %s\n", es_show(ref.spec), ref.n_items,
               es_show(save));
      status = es_cli_finish(prog, 0);
      goto cleanup;
    }
  }
  if ((rc = load_sample(&st, &src, stats_only, cur_spec, jobs, &cur, &err))) {
    es_error_prefix(&err, "--current");
    status = es_cli_fail(prog, rc, &err);
    goto cleanup;
  }
  if (!cur.n_items) {
    status = es_cli_usage_error(prog, usage, "--current '%s' selects no items",
                                es_show(cur_spec));
    goto cleanup;
  }
  if ((rc = es_drift_compare(&ref, &cur, &o, &r, &err))) {
    status = es_cli_fail(prog, rc, &err);
    goto cleanup;
  }
  have_r = 1;
  if (report) {
    char when[32];
    size_t hl;
    es_store_now(when);
    if (!(html = es_drift_report_html(&r, &ref, &cur, &o, root, when, &hl, &err)) ||
        (rc = write_file(report, html, hl, &err))) {
      status = es_cli_fail(prog, html ? rc : ES_ENOMEM, &err);
      goto cleanup;
    }
  }
  if (json_out) {
    if (!(j = es_drift_result_json(&r, &ref, &cur, &o)) ||
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(ES_FLOAT_DIGITS)) != 0) {
      es_cli_error(prog, "cannot write the JSON summary");
      goto cleanup;
    }
    putchar('\n');
  } else if (!quiet) {
    print_text(&r, &ref, &cur);
  }
  status = es_cli_finish(prog, r.found ? ES_EXIT_FOUND : ES_EXIT_OK);
cleanup:
  json_decref(j);
  free(html);
  if (have_r)
    es_drift_result_free(&r);
  es_drift_sample_free(&ref);
  es_drift_sample_free(&cur);
  if (src.have_m)
    es_manifest_free(&src.m);
  if (src.have_ix)
    es_index_free(&src.ix);
  if (have_dm)
    es_drift_model_close(&dm);
  es_vocab_free(&src.labels);
  if (store_open)
    es_store_close(&st);
  return status;
}
