/* edgeset-label: parses options, reads the label source and vocabulary files, and runs the
 * label stage's library (apply, then balance) on the dataset. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/store.h"
#include "formats/index.h"
#include "label/label.h"

static const char *const prog = "edgeset-label";
static const char *const usage =
    "edgeset-label -d DIR [--from SRC] [--labels FILE] [--rename OLD=NEW]... [--balance]\n"
    "\n"
    "Sets item labels, fixes the class vocabulary and reports class balance. A bad input line\n"
    "(malformed, unknown path or id, invalid or unknown label) is exit 2 with every offending\n"
    "line listed, and nothing is changed.\n"
    "\n"
    "  -d, --dataset DIR      the dataset (default: $EDGESET_DATASET)\n"
    "      --from SRC         dir:N (the folder N levels above each occurrence's file, 1 = its\n"
    "                         parent), csv:FILE (path or id, label; RFC 4180), jsonl:FILE\n"
    "                         ({\"path\" or \"id\": ..., \"label\": ...} per line)\n"
    "      --labels FILE      labels.txt: the class vocabulary and its order (= model output\n"
    "                         index); copied into the dataset\n"
    "      --rename OLD=NEW   rename a class, or merge it into an existing one (repeatable)\n"
    "      --balance          class balance overall, per split, device and batch\n"
    "      --max-ratio R      balance gate: exit 1 when largest / smallest class > R\n"
    "      --min-count N      balance gate: exit 1 when a class has fewer than N items\n"
    "      --include-augmented  count augmented items in the balance\n"
    "      --report FILE      write the balance as a self-contained HTML page\n"
    "  -j, --jobs N           accepted for uniformity (labelling is not parallel)\n"
    "      --dry-run          decide and report everything, change nothing\n"
    "      --json             print the summary as JSON\n"
    "  -q, --quiet            print nothing on success\n"
    "  -h, --help             this help\n"
    "      --version          version\n"
    "\n"
    "Exit status: 0 done; 1 a balance gate failed; 2 bad usage or bad input (nothing changed);\n"
    "3 I/O failure.\n";

enum { OPT_FROM = 256, OPT_LABELS, OPT_RENAME, OPT_BALANCE, OPT_MAXRATIO, OPT_MINCOUNT,
       OPT_AUG, OPT_REPORT, OPT_DRY, OPT_JSON, OPT_VERSION };

static void print_conflicts(const json_t *conf)
{
  const json_t *cl = json_object_get(conf, "clusters"), *fo = json_object_get(conf, "folders");
  if (!json_array_size(cl) && !json_array_size(fo))
    return;
  printf("label noise: %zu near-duplicate clusters with several labels, %zu items under "
         "several class folders\n",
         json_array_size(cl), json_array_size(fo));
  for (size_t i = 0; i < json_array_size(cl) && i < 20; i++) {
    const json_t *c = json_array_get(cl, i);
    printf("  cluster %s:", es_show(json_string_value(json_object_get(c, "cluster"))));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(c, "labels"), k, v)
      printf(" %s %lld", es_show(k), (long long)json_integer_value(v));
    putchar('\n');
  }
  for (size_t i = 0; i < json_array_size(fo) && i < 20; i++) {
    const json_t *c = json_array_get(fo, i);
    printf("  item %s:", es_show(json_string_value(json_object_get(c, "id"))));
    const json_t *ls = json_object_get(c, "labels"), *ps = json_object_get(c, "paths");
    for (size_t k = 0; k < json_array_size(ls); k++)
      printf(" %s (%s)", es_show(json_string_value(json_array_get(ls, k))),
             es_show(json_string_value(json_array_get(ps, k))));
    putchar('\n');
  }
  if (json_array_size(cl) > 20 || json_array_size(fo) > 20)
    printf("  (more in --json)\n");
}

static void print_balance(const json_t *b)
{
  printf("balance: %lld items, %lld labelled, %lld unlabelled",
         (long long)json_integer_value(json_object_get(b, "items")),
         (long long)json_integer_value(json_object_get(b, "labelled")),
         (long long)json_integer_value(json_object_get(b, "unlabelled")));
  json_int_t aug = json_integer_value(json_object_get(b, "augmented_excluded"));
  if (aug)
    printf(", %lld augmented left out", (long long)aug);
  putchar('\n');
  const json_t *cl = json_object_get(b, "classes");
  for (size_t k = 0; k < json_array_size(cl); k++) {
    const json_t *c = json_array_get(cl, k);
    const json_t *w = json_object_get(c, "weight");
    printf("  %-20s %8lld  %6.2f%%  weight %s",
           es_show(json_string_value(json_object_get(c, "label"))),
           (long long)json_integer_value(json_object_get(c, "count")),
           100.0 * json_real_value(json_object_get(c, "share")), json_is_real(w) ? "" : "-");
    if (json_is_real(w))
      printf("%.6g", json_real_value(w));
    putchar('\n');
  }
  const json_t *r = json_object_get(b, "imbalance_ratio"), *e = json_object_get(b, "normalized_entropy");
  printf("imbalance ratio ");
  if (json_is_real(r))
    printf("%.6g", json_real_value(r));
  else
    printf("infinite or undefined");
  printf(", normalized entropy ");
  if (json_is_real(e))
    printf("%.6g\n", json_real_value(e));
  else
    printf("undefined\n");
  const json_t *f = json_object_get(json_object_get(b, "gates"), "failures");
  for (size_t k = 0; k < json_array_size(f); k++)
    es_show_line(stdout, "gate failed: %s", json_string_value(json_array_get(f, k)));
}

/* Reads the label source (--from) and the vocabulary (--labels FILE); prints why and returns
 * the exit status when one is unusable, else -1. */
static int read_inputs(const char *from_spec, es_label_from *from, char **from_buf,
                       const char *labels_path, char **labels_buf, es_vocab *vocab,
                       int *have_vocab, es_label_problems *probs)
{
  es_error err = {0};
  int rc;
  if (from_spec) {
    if (es_label_from_parse(from_spec, from, &err))
      return es_cli_usage_error(prog, usage, "%s", err.msg);
    if (from->kind != ES_LABEL_FROM_DIR) {
      uint8_t *bytes;
      if (es_read_file(from->file, &bytes, &from->len, &err)) {
        es_cli_error(prog, "%s", err.msg);
        return ES_EXIT_USAGE;
      }
      *from_buf = (char *)bytes;
      from->buf = *from_buf;
    }
  }
  if (labels_path) {
    size_t len;
    uint8_t *bytes;
    if (es_read_file(labels_path, &bytes, &len, &err)) {
      es_cli_error(prog, "%s", err.msg);
      return ES_EXIT_USAGE;
    }
    *labels_buf = (char *)bytes;
    if ((rc = es_vocab_parse(labels_path, *labels_buf, len, vocab, probs, &err))) {
      for (size_t i = 0; i < probs->n; i++)
        es_cli_error(prog, "%s", probs->msg[i]);
      return es_cli_fail(prog, rc, &err);
    }
    *have_vocab = 1;
  }
  return -1;
}

/* Opens (and, for a change, locks) the dataset and reads its labels.txt unless --labels gave
 * one; prints why and returns the exit status on failure, else -1. */
static int open_dataset(es_store *st, const char *root, int lock, es_vocab *vocab,
                        int *have_vocab, es_label_problems *probs)
{
  es_error err = {0};
  int rc;
  if ((rc = es_store_open(st, root, 0, NULL, &err))) {
    /* a dataset that is not there is an unusable argument, not an I/O failure */
    int status = es_cli_fail(prog, rc, &err);
    return rc == ES_ENOTFOUND ? ES_EXIT_USAGE : status;
  }
  if (lock && (rc = es_store_lock(st, 1, &err)))
    return es_cli_fail(prog, rc, &err);
  if (!*have_vocab && (rc = es_label_dataset_vocab(st, vocab, have_vocab, probs, &err))) {
    for (size_t i = 0; i < probs->n; i++)
      es_cli_error(prog, "%s", probs->msg[i]);
    return rc == ES_EUSAGE ? ES_EXIT_FAIL : es_cli_fail(prog, rc, &err);
  }
  return -1;
}

/* The balance, and its HTML page with --report; returns the exit status on failure, else -1. */
static int balance_of(const es_index *ix, const es_balance_opts *bo, const char *report,
                      const char *root, json_t **bal, int *failed)
{
  es_error err = {0};
  *bal = es_balance_compute(ix, bo, failed, &err);
  if (!*bal)
    return es_cli_fail(prog, err.code ? err.code : ES_ENOMEM, &err);
  if (!report)
    return -1;
  FILE *f = fopen(report, "w");
  if (!f) {
    es_cli_error(prog, "cannot write '%s': %m", es_show(report));
    return ES_EXIT_FAIL;
  }
  char now[32];
  es_store_now(now);
  int rc = es_balance_report(f, *bal, root, now, &err);
  if (fclose(f) != 0 && !rc)
    rc = es_error_set(&err, ES_EIO, "cannot write '%s'", es_show(report));
  return rc ? es_cli_fail(prog, rc, &err) : -1;
}

static void print_result(const json_t *out, const json_t *bal, const es_label_result *res,
                         const es_label_from *from, int dry, int json, int quiet, int failed)
{
  if (json) {
    json_t *j = json_object();
    if (out)
      json_object_set(j, "label", (json_t *)out);
    if (bal)
      json_object_set(j, "balance", (json_t *)bal);
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(j);
  } else if (!quiet) {
    if (out) {
      printf("%s%zu labels set by the source, %zu items changed", dry ? "dry run: " : "",
             res->set, res->changed);
      if (from->kind == ES_LABEL_FROM_DIR)
        printf(", %zu items without a folder %u level(s) up", res->unmatched, from->levels);
      putchar('\n');
      print_conflicts(res->conflicts);
    }
    if (bal)
      print_balance(bal);
  } else if (failed && bal) {
    const json_t *f = json_object_get(json_object_get(bal, "gates"), "failures");
    for (size_t k = 0; k < json_array_size(f); k++)
      es_cli_error(prog, "gate failed: %s", json_string_value(json_array_get(f, k)));
  }
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"dataset", required_argument, NULL, 'd'},    {"jobs", required_argument, NULL, 'j'},
      {"from", required_argument, NULL, OPT_FROM},  {"labels", required_argument, NULL, OPT_LABELS},
      {"rename", required_argument, NULL, OPT_RENAME},
      {"balance", no_argument, NULL, OPT_BALANCE},
      {"max-ratio", required_argument, NULL, OPT_MAXRATIO},
      {"min-count", required_argument, NULL, OPT_MINCOUNT},
      {"include-augmented", no_argument, NULL, OPT_AUG},
      {"report", required_argument, NULL, OPT_REPORT},
      {"dry-run", no_argument, NULL, OPT_DRY},      {"json", no_argument, NULL, OPT_JSON},
      {"quiet", no_argument, NULL, 'q'},            {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},  {NULL, 0, NULL, 0}};
  const char *dataset_opt = NULL, *from_spec = NULL, *labels_path = NULL, *report = NULL;
  int balance = 0, aug = 0, dry = 0, json = 0, quiet = 0, jobs = 1;
  unsigned long long min_count = 0;
  double max_ratio = 0;
  es_label_rename renames[64];
  size_t n_renames = 0;
  es_error err = {0};
  int status = ES_EXIT_FAIL, rc, c;
  es_store st;
  memset(&st, 0, sizeof st);
  st.dirfd = st.lockfd = -1;
  es_manifest m = {0};
  es_index ix = {0};
  es_vocab vocab = {0};
  int have_vocab = 0;
  es_label_problems probs = {0};
  es_label_result res = {0};
  es_label_from from = {0};
  char *from_buf = NULL, *labels_buf = NULL;
  json_t *bal = NULL, *out = NULL;

  opterr = 0;
  while ((c = getopt_long(argc, argv, ":d:j:qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'd': dataset_opt = optarg; break;
    case 'j':
      if (es_cli_parse_jobs(optarg, &jobs, &err))
        return es_cli_usage_error(prog, usage, "--jobs: %s", err.msg);
      break;
    case OPT_FROM: from_spec = optarg; break;
    case OPT_LABELS: labels_path = optarg; break;
    case OPT_RENAME: {
      char *eq = strchr(optarg, '=');
      if (!eq || eq == optarg || !eq[1])
        return es_cli_usage_error(prog, usage, "--rename '%s': expected OLD=NEW",
                                  es_show(optarg));
      if (n_renames == sizeof renames / sizeof renames[0])
        return es_cli_usage_error(prog, usage, "--rename: at most 64");
      *eq = '\0';
      renames[n_renames++] = (es_label_rename){optarg, eq + 1};
      break;
    }
    case OPT_BALANCE: balance = 1; break;
    case OPT_MAXRATIO: {
      char *end = NULL;
      max_ratio = strtod(optarg, &end);
      if (!*optarg || *end || !(max_ratio >= 1.0) || max_ratio > 1e12)
        return es_cli_usage_error(prog, usage, "--max-ratio '%s': give a number >= 1",
                                  es_show(optarg));
      balance = 1;
      break;
    }
    case OPT_MINCOUNT:
      if (es_cli_parse_uint(optarg, 1, 1ULL << 40, &min_count, &err))
        return es_cli_usage_error(prog, usage, "--min-count: %s", err.msg);
      balance = 1;
      break;
    case OPT_AUG: aug = 1; break;
    case OPT_REPORT: report = optarg; balance = 1; break;
    case OPT_DRY: dry = 1; break;
    case OPT_JSON: json = 1; break;
    case 'q': quiet = 1; break;
    case 'h':
      return es_cli_help(prog, usage);
    case OPT_VERSION:
      es_cli_version(prog);
      return es_cli_finish(prog, ES_EXIT_OK);
    default:
      return es_cli_bad_option(prog, usage, c, argv);
    }
  }
  (void)jobs;
  if (optind < argc)
    return es_cli_usage_error(prog, usage, "unexpected argument '%s'", es_show(argv[optind]));
  const char *root = es_cli_dataset(dataset_opt);
  if (!root)
    return es_cli_usage_error(prog, usage, "no dataset: give -d DIR or set EDGESET_DATASET");
  int change = from_spec || labels_path || n_renames;
  if (!change && !balance)
    return es_cli_usage_error(prog, usage, "nothing to do: give --from, --labels, --rename or "
                                           "--balance");
  if ((status = read_inputs(from_spec, &from, &from_buf, labels_path, &labels_buf, &vocab,
                            &have_vocab, &probs)) >= 0 ||
      (status = open_dataset(&st, root, change && !dry, &vocab, &have_vocab, &probs)) >= 0)
    goto cleanup;
  status = ES_EXIT_FAIL;

  if (change) {
    es_label_run_opts o = {.apply = {.from = from, .vocab = have_vocab ? &vocab : NULL,
                                     .renames = renames, .n_renames = n_renames},
                           .from_spec = from_spec, .labels_file = labels_path != NULL,
                           .dry_run = dry};
    if ((rc = es_label_run(&st, &o, &m, &ix, &res, &out, &probs, &err))) {
      for (size_t i = 0; i < probs.n; i++)
        es_cli_error(prog, "%s", probs.msg[i]);
      status = es_cli_fail(prog, rc, &err);
      goto cleanup;
    }
    if (have_vocab) {
      es_vocab_free(&vocab);
      vocab = res.vocab_out;
      memset(&res.vocab_out, 0, sizeof res.vocab_out);
    }
  } else if ((rc = es_index_load(&st, NULL, &ix, NULL, &err))) {
    status = es_cli_fail(prog, rc, &err);
    goto cleanup;
  }

  int failed = 0;
  es_balance_opts bo = {.vocab = have_vocab ? &vocab : NULL, .include_augmented = aug,
                        .min_count = min_count, .max_ratio = max_ratio};
  if (balance && (status = balance_of(&ix, &bo, report, root, &bal, &failed)) >= 0)
    goto cleanup;
  print_result(out, bal, &res, &from, dry, json, quiet, failed);
  status = es_cli_finish(prog, failed ? ES_EXIT_FOUND : ES_EXIT_OK);

cleanup:
  json_decref(bal);
  json_decref(out);
  es_label_result_free(&res);
  es_label_problems_free(&probs);
  es_vocab_free(&vocab);
  es_index_free(&ix);
  es_manifest_free(&m);
  es_store_close(&st);
  free(from_buf);
  free(labels_buf);
  return status;
}
