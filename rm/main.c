/* edgeset-rm: removes items from a dataset for good, with their objects, occurrences, quarantine
 * records, augmented variants, signatures and the reports that show them; their content hashes
 * become tombstones, so the same bytes or pixels are refused when collected again. docs/rm.md. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/isotime.h"
#include "core/store.h"
#include "rm/rm.h"

static const char *const prog = "edgeset-rm";
static const char *const usage =
    "edgeset-rm -d DIR [ID|OBJECT-PATH...] [--device NAME [--from T] [--to T]] [--batch B]\n"
    "           [--label L] [--stdin] [--reason TEXT] [--dry-run] [--json]\n"
    "\n"
    "Removes the selected items for good: from the manifest and the index, their objects,\n"
    "occurrences, quarantine records, signatures, augmented variants, and the reports that show\n"
    "them. Their content hashes are kept as tombstones: collecting the same bytes or the same\n"
    "pixels again is refused into quarantine ('redacted'). Splits of other items do not move.\n"
    "Run without selectors, it completes what a killed rm left.\n"
    "\n"
    "  -d, --dataset DIR   the dataset (default: $EDGESET_DATASET)\n"
    "  ID, OBJECT-PATH     an item by its id, or by its object path (objects/ab/<id>.<ext>)\n"
    "      --device NAME   items with an occurrence from this device ...\n"
    "      --from T        ... captured at or after T (ISO 8601, e.g. 2026-11-20T08:00:00Z)\n"
    "      --to T          ... captured at or before T\n"
    "      --batch B       items with an occurrence in batch B\n"
    "      --label L       items labelled L\n"
    "      --stdin         ids or object paths on standard input, one per line\n"
    "      --reason TEXT   why, recorded in the ledger with the ids (never the content)\n"
    "      --dry-run       say what would be removed, change nothing\n"
    "      --json          print the summary as JSON\n"
    "  -j, --jobs N        accepted for uniformity\n"
    "  -q, --quiet         print nothing on success\n"
    "  -h, --help          this help\n"
    "      --version       version\n"
    "\n"
    "Exit status: 0 done; 2 bad usage (an id or path that matches no item included, nothing\n"
    "changed); 3 I/O failure (run it again to complete it).\n";

enum { OPT_DEVICE = 256, OPT_FROM, OPT_TO, OPT_BATCH, OPT_LABEL, OPT_STDIN, OPT_REASON, OPT_DRY,
       OPT_JSON, OPT_VERSION };

static int read_stdin(es_rm_select *sel, char ***own, size_t *n_own)
{
  char *line = NULL;
  size_t cap = 0;
  ssize_t got;
  while ((got = getline(&line, &cap, stdin)) >= 0) {
    while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
      line[--got] = 0;
    if (!got)
      continue;
    char **v = realloc(*own, (*n_own + 1) * sizeof *v);
    if (!v || !(v[*n_own] = strdup(line))) {
      free(line);
      if (v)
        *own = v;
      return -1;
    }
    *own = v;
    ++*n_own;
  }
  free(line);
  char **all = realloc(sel->names, (sel->n_names + *n_own) * sizeof *all);
  if (!all)
    return -1;
  memcpy(all + sel->n_names, *own, *n_own * sizeof *all);
  sel->names = all;
  sel->n_names += *n_own;
  return 0;
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"dataset", required_argument, NULL, 'd'},  {"jobs", required_argument, NULL, 'j'},
      {"device", required_argument, NULL, OPT_DEVICE}, {"from", required_argument, NULL, OPT_FROM},
      {"to", required_argument, NULL, OPT_TO},    {"batch", required_argument, NULL, OPT_BATCH},
      {"label", required_argument, NULL, OPT_LABEL}, {"stdin", no_argument, NULL, OPT_STDIN},
      {"reason", required_argument, NULL, OPT_REASON}, {"dry-run", no_argument, NULL, OPT_DRY},
      {"json", no_argument, NULL, OPT_JSON},      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},           {"version", no_argument, NULL, OPT_VERSION},
      {NULL, 0, NULL, 0}};
  const char *dataset_opt = NULL, *reason = NULL;
  int use_stdin = 0, dry = 0, json = 0, quiet = 0, jobs = 1, c;
  es_rm_select sel;
  memset(&sel, 0, sizeof sel);
  es_error err = {0};
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":d:j:qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'd': dataset_opt = optarg; break;
    case 'j':
      if (es_cli_parse_jobs(optarg, &jobs, &err))
        return es_cli_usage_error(prog, usage, "--jobs: %s", err.msg);
      break;
    case OPT_DEVICE: sel.device = optarg; break;
    case OPT_FROM:
    case OPT_TO: {
      int64_t t;
      if (es_time_seconds(optarg, &t))
        return es_cli_usage_error(prog, usage, "%s '%s': not an ISO 8601 time",
                                  c == OPT_FROM ? "--from" : "--to", es_show(optarg));
      if (c == OPT_FROM)
        sel.from = optarg;
      else
        sel.to = optarg;
      break;
    }
    case OPT_BATCH: sel.batch = optarg; break;
    case OPT_LABEL: sel.label = optarg; break;
    case OPT_STDIN: use_stdin = 1; break;
    case OPT_REASON: reason = optarg; break;
    case OPT_DRY: dry = 1; break;
    case OPT_JSON: json = 1; break;
    case 'q': quiet = 1; break;
    case 'h': return es_cli_help(prog, usage);
    case OPT_VERSION: es_cli_version(prog); return es_cli_finish(prog, ES_EXIT_OK);
    default: return es_cli_bad_option(prog, usage, c, argv);
    }
  }
  if ((sel.from || sel.to) && !sel.device)
    return es_cli_usage_error(prog, usage, "--from and --to go with --device");
  const char *root = es_cli_dataset(dataset_opt);
  if (!root)
    return es_cli_usage_error(prog, usage, "no dataset: give -d DIR or set EDGESET_DATASET");
  char **own = NULL;
  size_t n_own = 0;
  if (optind < argc) {
    sel.names = malloc((size_t)(argc - optind) * sizeof *sel.names);
    if (!sel.names)
      return es_cli_fail(prog, ES_ENOMEM, NULL);
    for (int a = optind; a < argc; a++)
      sel.names[sel.n_names++] = argv[a];
  }
  if (use_stdin && read_stdin(&sel, &own, &n_own))
    return es_cli_fail(prog, ES_ENOMEM, NULL);

  es_store st;
  memset(&st, 0, sizeof st);
  st.dirfd = st.lockfd = -1;
  es_rm_summary sum = {0};
  int status = ES_EXIT_FAIL, rc;
  if ((rc = es_store_open(&st, root, 0, NULL, &err))) {
    status = es_cli_fail_dataset(prog, rc, &err);
    goto done;
  }
  if ((rc = es_cli_lock(prog, &st, dry ? ES_LOCK_SHARED : 0, quiet || json, &err))) {
    status = es_cli_fail(prog, rc, &err);
    goto done;
  }
  if ((rc = es_rm_run(&st, &sel, reason, dry, &sum, &err))) {
    status = es_cli_fail(prog, rc, &err);
    goto done;
  }
  if (json_array_size(sum.unknown)) { /* nothing was changed */
    for (size_t i = 0; i < json_array_size(sum.unknown); i++)
      es_cli_error(prog, "'%s' is no item of the dataset (an id or objects/ab/<id>.<ext>)",
                   es_show(json_string_value(json_array_get(sum.unknown, i))));
    status = ES_EXIT_USAGE;
    goto done;
  }
  if (json) {
    json_t *j = json_pack("{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:b}}", "rm",
                          "selected", (json_int_t)sum.selected, "variants",
                          (json_int_t)sum.variants, "pending", (json_int_t)sum.pending,
                          "removed", (json_int_t)sum.removed, "objects_deleted",
                          (json_int_t)sum.objects_deleted, "bytes_deleted",
                          (json_int_t)sum.bytes_deleted, "quarantine_dropped",
                          (json_int_t)sum.quarantine_dropped, "reports_deleted",
                          (json_int_t)sum.reports_deleted, "ids", sum.ids, "dry_run", dry);
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(j);
  } else if (!quiet) {
    for (size_t i = 0; dry && i < json_array_size(sum.ids); i++)
      printf("would remove %s\n", json_string_value(json_array_get(sum.ids, i)));
    printf("%s%zu items %s (%zu selected, %zu augmented variants, %zu left by an earlier rm); "
           "%zu objects deleted (%llu bytes), %zu quarantine records and %zu reports dropped\n",
           dry ? "dry run: " : "", sum.removed, dry ? "would be removed" : "removed",
           sum.selected, sum.variants, sum.pending, sum.objects_deleted,
           (unsigned long long)sum.bytes_deleted, sum.quarantine_dropped, sum.reports_deleted);
  }
  status = es_cli_finish(prog, ES_EXIT_OK);
done:
  es_rm_summary_free(&sum);
  es_store_close(&st);
  for (size_t i = 0; i < n_own; i++)
    free(own[i]);
  free(own);
  free(sel.names);
  return status;
}
