/* edgeset-collect: parses options and runs es_collect_run() on the dataset. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collect/collect.h"
#include "core/cli.h"
#include "core/store.h"

#define STR(x) #x
#define XSTR(x) STR(x)

static const char *const prog = "edgeset-collect";
static const char *const usage =
    "edgeset-collect -d DIR [options] PATH...\n"
    "edgeset-collect -d DIR --recluster [--near N]\n"
    "\n"
    "Ingests device captures into the dataset DIR (created on first use). PATHs are files or\n"
    "folders (walked); '-' reads paths from standard input, one a line (NUL-separated with -0).\n"
    "Every input ends as a new item, an occurrence of an existing item (same bytes, or the same\n"
    "decoded pixels), or a line in quarantine.jsonl with the reason.\n"
    "\n"
    "  -d, --dataset DIR      the dataset (default: $EDGESET_DATASET)\n"
    "      --batch NAME       batch name (default: the UTC time, YYYYMMDDTHHMMSSZ)\n"
    "      --shard K/N        only the inputs of shard K of N (0 <= K < N), by a hash of\n"
    "                         each path; needs --batch. edgeset-merge folds the N part\n"
    "                         datasets into one, as one collect of all inputs would be\n"
    "      --device-from RULE dir:N (the folder N levels above the file, 1 = its parent),\n"
    "                         regex:RE (first group, else the whole match), fixed:NAME;\n"
    "                         a sidecar <image>.json {\"device\":..., \"time\":...} wins\n"
    "      --store MODE       copy (default), link (hard link when possible), ref (keep paths)\n"
    "      --near N           near-duplicate candidate radius in phash bits, fixed when the\n"
    "                         dataset is created (default " XSTR(ES_DEFAULT_NEAR) ")\n"
    "      --recluster        recompute every item's near-duplicate signature from its bytes\n"
    "                         and every cluster; upgrades a dataset of format version 1 to the\n"
    "                         two-stage relation (with --near N: that radius). Splits and\n"
    "                         groups are kept; edgeset-split --verify then reports new leaks\n"
    "      --max-pixels N     decoder limit, fixed at creation (default 100000000)\n"
    "      --strict           exit 1 when any input or sidecar was quarantined\n"
    "  -0, --null             paths on standard input are NUL-separated\n"
    "  -j, --jobs N           worker threads (default: all cores; 0 = all cores)\n"
    "      --dry-run          decide everything, change nothing\n"
    "      --refuse-near-redacted  quarantine new pictures within 10 bits of the phash of\n"
    "                         content edgeset rm removed (they are reported in any case)\n"
    "      --json             print the summary as JSON\n"
    "  -q, --quiet            print nothing on success\n"
    "  -h, --help             this help\n"
    "      --version          version\n"
    "\n"
    "Exit status: 0 done; 1 --strict and inputs were quarantined; 2 bad usage; 3 I/O failure.\n";

enum { OPT_BATCH = 256, OPT_DEVICE, OPT_STORE, OPT_NEAR, OPT_MAXPIX, OPT_STRICT, OPT_DRY,
       OPT_JSON, OPT_VERSION, OPT_RECLUSTER, OPT_REFUSE_NEAR, OPT_SHARD };

typedef struct paths {
  char **v;
  size_t n, cap;
} paths;

static int paths_push(paths *p, char *s)
{
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    char **v = realloc(p->v, cap * sizeof *v);
    if (!v)
      return -1;
    p->v = v;
    p->cap = cap;
  }
  p->v[p->n++] = s;
  return 0;
}

static int read_stdin_paths(paths *p, int delim)
{
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getdelim(&line, &cap, delim, stdin)) > 0) {
    if (line[n - 1] == delim)
      line[--n] = '\0';
    if (n == 0)
      continue;
    char *s = strdup(line);
    if (!s || paths_push(p, s)) {
      free(s);
      free(line);
      return -1;
    }
  }
  free(line);
  return ferror(stdin) ? -1 : 0;
}

typedef struct progress {
  struct timespec last;
} progress;

static void show_progress(void *ctx, size_t done, size_t total)
{
  progress *pr = ctx;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  double dt = (double)(now.tv_sec - pr->last.tv_sec) + (double)(now.tv_nsec - pr->last.tv_nsec) / 1e9;
  if (dt < 0.25 && done != total)
    return;
  pr->last = now;
  fprintf(stderr, "\r%s: %zu of %zu files%s", prog, done, total, done == total ? "\n" : "");
}

static void print_text(const es_collect_summary *s, const char *root)
{
  printf("batch %s into %s: %zu inputs", es_show(s->batch), es_show(root), s->inputs);
  if (s->shard_n)
    printf(" (shard %u of %u)", s->shard_k, s->shard_n);
  printf("\n");
  printf("  %zu new items, %zu exact duplicates, %zu pixel duplicates, %zu already collected\n",
         s->new_items, s->exact_duplicates, s->pixel_duplicates, s->already_collected);
  printf("  %zu near duplicates joined existing clusters\n", s->near_duplicates);
  if (s->near_redacted)
    printf("  %zu new items are near duplicates of content edgeset rm removed (collected; "
           "--refuse-near-redacted quarantines them)\n",
           s->near_redacted);
  printf("  %zu quarantined", s->quarantined);
  const char *sep = " (";
  for (int c = 0; c < ES_Q_COUNT; c++)
    if (s->quarantine_by_code[c]) {
      printf("%s%s %zu", sep, es_quarantine_codes[c], s->quarantine_by_code[c]);
      sep = ", ";
    }
  printf("%s\n", sep[0] == ',' ? ")" : "");
  if (s->sidecars)
    printf("  %zu sidecars read, %zu of them unusable (in quarantine.jsonl)\n", s->sidecars,
           s->sidecars_rejected);
  printf("dataset: %zu items in %zu clusters\n", s->items_total, s->clusters_total);
}

/* Items the relation could not get a signature for (their bytes are gone): named on stderr. */
static void warn_missing(const json_t *missing)
{
  size_t i;
  json_t *e;
  json_array_foreach(missing, i, e)
  {
    fprintf(stderr, "%s: warning: item %s has no near-duplicate signature (%s); it joins no "
            "cluster\n", prog, es_show(json_string_value(json_object_get(e, "id"))),
            es_show(json_string_value(json_object_get(e, "reason"))));
  }
}

static int recluster(es_store *st, const char *root, unsigned near, int near_given, int jobs,
                     int json, int quiet)
{
  es_recluster_summary rs;
  es_error err = {0};
  int rc = es_collect_recluster(st, near, near_given, jobs, &rs, &err);
  if (rc)
    return es_cli_fail(prog, rc, &err);
  warn_missing(rs.signatures_missing);
  if (json) {
    json_t *j = es_recluster_summary_json(&rs);
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(j);
  } else if (!quiet) {
    if (rs.version_before < ES_DATASET_VERSION)
      printf("%s: upgraded from format version %u (phash within %u bits) to %u (phash within %u "
             "bits, then the signatures' correlation)\n", es_show(root), rs.version_before,
             rs.near_before, ES_DATASET_VERSION, rs.near);
    printf("%zu items: %zu signatures computed, %zu items without one\n", rs.items,
           rs.signatures, json_array_size(rs.signatures_missing));
    printf("clusters: %zu before, %zu now; %zu items changed cluster\n", rs.clusters_before,
           rs.clusters, rs.moved);
    printf("splits and groups are unchanged: run edgeset-split --verify for leaks\n");
  }
  es_recluster_summary_free(&rs);
  return ES_EXIT_OK;
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"dataset", required_argument, NULL, 'd'},     {"jobs", required_argument, NULL, 'j'},
      {"batch", required_argument, NULL, OPT_BATCH}, {"device-from", required_argument, NULL, OPT_DEVICE},
      {"store", required_argument, NULL, OPT_STORE}, {"near", required_argument, NULL, OPT_NEAR},
      {"max-pixels", required_argument, NULL, OPT_MAXPIX},
      {"strict", no_argument, NULL, OPT_STRICT},     {"null", no_argument, NULL, '0'},
      {"dry-run", no_argument, NULL, OPT_DRY},
      {"refuse-near-redacted", no_argument, NULL, OPT_REFUSE_NEAR},       {"json", no_argument, NULL, OPT_JSON},
      {"quiet", no_argument, NULL, 'q'},             {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},   {"recluster", no_argument, NULL, OPT_RECLUSTER},
      {"shard", required_argument, NULL, OPT_SHARD},
      {NULL, 0, NULL, 0}};
  const char *dataset_opt = NULL, *batch = NULL, *device_spec = NULL, *store_mode = "copy";
  int jobs = 0, strict = 0, nul = 0, dry = 0, json = 0, quiet = 0, near_given = 0, refuse_near = 0;
  int maxpix_given = 0, reclustering = 0;
  unsigned long long near = 0, maxpix = 0, shard_k = 0, shard_n = 0;
  es_error err = {0};
  es_device_rule rule;
  memset(&rule, 0, sizeof rule);
  char batch_buf[32];
  int status = ES_EXIT_FAIL, rc;
  paths p = {0};
  es_store st;
  memset(&st, 0, sizeof st);
  st.dirfd = st.lockfd = -1;

  if (es_cli_parse_jobs("0", &jobs, &err))
    jobs = 1;
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":d:j:0qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'd': dataset_opt = optarg; break;
    case 'j':
      if (es_cli_parse_jobs(optarg, &jobs, &err))
        return es_cli_usage_error(prog, usage, "--jobs: %s", err.msg);
      break;
    case OPT_BATCH: batch = optarg; break;
    case OPT_DEVICE: device_spec = optarg; break;
    case OPT_STORE: store_mode = optarg; break;
    case OPT_NEAR:
      if (es_cli_parse_uint(optarg, 0, 32, &near, &err))
        return es_cli_usage_error(prog, usage, "--near: %s", err.msg);
      near_given = 1;
      break;
    case OPT_MAXPIX:
      if (es_cli_parse_uint(optarg, 1, 1ULL << 40, &maxpix, &err))
        return es_cli_usage_error(prog, usage, "--max-pixels: %s", err.msg);
      maxpix_given = 1;
      break;
    case OPT_SHARD: {
      char k[32];
      const char *slash = strchr(optarg, '/');
      if (slash && (size_t)(slash - optarg) < sizeof k)
        snprintf(k, sizeof k, "%.*s", (int)(slash - optarg), optarg);
      if (!slash || (size_t)(slash - optarg) >= sizeof k ||
          es_cli_parse_uint(k, 0, 1u << 20, &shard_k, &err) ||
          es_cli_parse_uint(slash + 1, 1, 1u << 20, &shard_n, &err) || shard_k >= shard_n)
        return es_cli_usage_error(prog, usage, "--shard: expected K/N with 0 <= K < N <= %u",
                                  1u << 20);
      break;
    }
    case OPT_STRICT: strict = 1; break;
    case '0': nul = 1; break;
    case OPT_DRY: dry = 1; break;
    case OPT_REFUSE_NEAR: refuse_near = 1; break;
    case OPT_JSON: json = 1; break;
    case OPT_RECLUSTER: reclustering = 1; break;
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
  const char *root = es_cli_dataset(dataset_opt);
  if (!root)
    return es_cli_usage_error(prog, usage, "no dataset: give -d DIR or set EDGESET_DATASET");
  if (reclustering && (optind < argc || dry || batch || device_spec || maxpix_given || shard_n))
    return es_cli_usage_error(prog, usage, "--recluster takes no paths and no options but -d, "
                              "--near, -j, --json and -q");
  if (shard_n && !batch)
    return es_cli_usage_error(prog, usage, "--shard needs --batch NAME: every shard of a batch "
                              "must name it the same");
  if (!reclustering && optind >= argc)
    return es_cli_usage_error(prog, usage, "no input paths given ('-' reads them from stdin)");
  if (strcmp(store_mode, "copy") && strcmp(store_mode, "link") && strcmp(store_mode, "ref"))
    return es_cli_usage_error(prog, usage, "--store '%s': expected copy, link or ref", store_mode);
  if (batch && (!batch[0] || strlen(batch) >= 128 || strpbrk(batch, "/\n\r\t")))
    return es_cli_usage_error(prog, usage,
                              "--batch '%s': give 1 to 127 characters without '/' or control "
                              "characters", batch);
  if (device_spec && es_device_rule_parse(device_spec, &rule, &err))
    return es_cli_usage_error(prog, usage, "%s", err.msg);

  for (int i = optind; i < argc; i++) {
    if (!strcmp(argv[i], "-")) {
      if (read_stdin_paths(&p, nul ? '\0' : '\n')) {
        es_cli_error(prog, "cannot read paths from standard input");
        goto cleanup;
      }
    } else {
      char *s = strdup(argv[i]);
      if (!s || paths_push(&p, s)) {
        free(s);
        es_cli_error(prog, "out of memory");
        goto cleanup;
      }
    }
  }

  es_settings init;
  es_settings_default(&init);
  if (near_given)
    init.near = (unsigned)near;
  if (maxpix_given)
    init.max_pixels = maxpix;
  rc = es_store_open(&st, root, !dry && !reclustering, &init, &err);
  if (rc == ES_ENOTFOUND && dry) {
    /* A dry run on a dataset that does not exist yet: decide against an empty one in memory. */
    es_cli_error(prog, "dataset '%s' does not exist yet; nothing to compare against", root);
    status = ES_EXIT_USAGE;
    goto cleanup;
  }
  if (rc) {
    status = es_cli_fail(prog, rc, &err);
    goto cleanup;
  }
  if (reclustering) {
    if ((rc = es_cli_lock(prog, &st, 0, quiet, &err)))
      status = es_cli_fail(prog, rc, &err);
    else
      status = es_cli_finish(prog, recluster(&st, root, (unsigned)near, near_given, jobs, json,
                                             quiet));
    goto cleanup;
  }
  if (near_given && st.settings.near != near) {
    es_cli_error(prog,
                 "--near %llu: dataset '%s' was created with --near %u, and its clusters mean "
                 "that radius (edgeset-collect --recluster --near N changes it)",
                 near, root, st.settings.near);
    status = ES_EXIT_USAGE;
    goto cleanup;
  }
  /* A dry run writes nothing: a reader's lock, which works on a read-only dataset. We say we
   * are waiting only when another process holds the lock; any other failure (a read-only file
   * system, no permission) is the error itself. */
  if ((rc = es_cli_lock(prog, &st, dry ? ES_LOCK_SHARED : 0, quiet, &err))) {
    status = es_cli_fail(prog, rc, &err);
    goto cleanup;
  }
  if (!batch) {
    char now[32];
    es_store_now(now);
    /* "2026-11-21T20:06:37Z" -> "20261121T200637Z" */
    size_t k = 0;
    for (const char *s = now; *s && k + 1 < sizeof batch_buf; s++)
      if (*s != '-' && *s != ':')
        batch_buf[k++] = *s;
    batch_buf[k] = '\0';
    batch = batch_buf;
  }

  progress pr = {{0, 0}};
  es_collect_opts o = {
      .batch = batch,
      .device = device_spec ? &rule : NULL,
      .store_mode = store_mode,
      .jobs = jobs,
      .dry_run = dry,
      .refuse_near_redacted = refuse_near,
      .shard_k = (unsigned)shard_k,
      .shard_n = (unsigned)shard_n,
      .progress_fn = (!quiet && isatty(STDERR_FILENO)) ? show_progress : NULL,
      .progress_ctx = &pr,
  };
  es_collect_summary sum;
  rc = es_collect_run(&st, &o, p.v, p.n, &sum, &err);
  if (rc) {
    es_collect_summary_free(&sum);
    status = es_cli_fail(prog, rc, &err);
    goto cleanup;
  }
  if (json) {
    json_t *j = es_collect_summary_json(&sum);
    if (j) {
      json_object_set_new(j, "dry_run", json_boolean(dry));
      json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
      fputc('\n', stdout);
      json_decref(j);
    }
  } else if (!quiet) {
    print_text(&sum, root);
  }
  warn_missing(sum.signatures_missing);
  es_collect_summary_free(&sum);
  status = strict && (sum.quarantined || sum.sidecars_rejected) ? ES_EXIT_FOUND : ES_EXIT_OK;
  status = es_cli_finish(prog, status);

cleanup:
  es_store_close(&st);
  es_device_rule_free(&rule);
  for (size_t i = 0; i < p.n; i++)
    free(p.v[i]);
  free(p.v);
  return status;
}
