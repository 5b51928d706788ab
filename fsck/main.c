/* edgeset-fsck: checks a dataset (objects against their ids, manifest against index against
 * objects, append-only files, leftovers of killed runs) and, with --repair, fixes what can be
 * fixed without losing anything. docs/fsck.md. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/store.h"
#include "fsck/fsck.h"

static const char *const prog = "edgeset-fsck";
static const char *const usage =
    "edgeset-fsck -d DIR [--quick] [--strict] [--repair] [--json]\n"
    "\n"
    "Checks a dataset: every object's bytes against its id, the manifest against the index and\n"
    "the objects, missing and unreferenced objects, the ledger's and quarantine's lines, and\n"
    "temporaries left by a killed run. Damage is exit 1; leftovers the commit protocol allows\n"
    "(unreferenced objects, stale temporaries, a torn last line, an index older than the\n"
    "manifest) are reported, and exit 1 only with --strict.\n"
    "\n"
    "  -d, --dataset DIR   the dataset (default: $EDGESET_DATASET)\n"
    "      --quick         check that every object is there (from the folder listing), do\n"
    "                      not read and hash every object\n"
    "      --strict        leftovers count as problems too (exit 1)\n"
    "      --repair        rebuild the index, move unreferenced objects to lost+found/ (with a\n"
    "                      record), delete stale temporaries, cut torn last lines; say what\n"
    "                      cannot be repaired\n"
    "  -j, --jobs N        threads reading objects (default: all cores)\n"
    "      --json          print the report as JSON\n"
    "  -q, --quiet         print nothing but problems\n"
    "  -h, --help          this help\n"
    "      --version       version\n"
    "\n"
    "Exit status: 0 clean; 1 damage (or, with --strict, leftovers) remains; 2 bad usage;\n"
    "3 I/O failure.\n";

enum { OPT_QUICK = 256, OPT_STRICT, OPT_REPAIR, OPT_JSON, OPT_VERSION };

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"dataset", required_argument, NULL, 'd'}, {"jobs", required_argument, NULL, 'j'},
      {"quick", no_argument, NULL, OPT_QUICK},   {"strict", no_argument, NULL, OPT_STRICT},
      {"repair", no_argument, NULL, OPT_REPAIR}, {"json", no_argument, NULL, OPT_JSON},
      {"quiet", no_argument, NULL, 'q'},         {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION}, {NULL, 0, NULL, 0}};
  const char *dataset_opt = NULL;
  int quick = 0, strict = 0, repair = 0, json = 0, quiet = 0, jobs = 0, c;
  es_error err = {0};
  if (es_cli_parse_jobs("0", &jobs, &err))
    jobs = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":d:j:qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'd': dataset_opt = optarg; break;
    case 'j':
      if (es_cli_parse_jobs(optarg, &jobs, &err))
        return es_cli_usage_error(prog, usage, "--jobs: %s", err.msg);
      break;
    case OPT_QUICK: quick = 1; break;
    case OPT_STRICT: strict = 1; break;
    case OPT_REPAIR: repair = 1; break;
    case OPT_JSON: json = 1; break;
    case 'q': quiet = 1; break;
    case 'h': return es_cli_help(prog, usage);
    case OPT_VERSION: es_cli_version(prog); return es_cli_finish(prog, ES_EXIT_OK);
    default: return es_cli_bad_option(prog, usage, c, argv);
    }
  }
  if (optind < argc)
    return es_cli_usage_error(prog, usage, "unexpected argument '%s'", es_show(argv[optind]));
  const char *root = es_cli_dataset(dataset_opt);
  if (!root)
    return es_cli_usage_error(prog, usage, "no dataset: give -d DIR or set EDGESET_DATASET");

  es_store st;
  memset(&st, 0, sizeof st);
  st.dirfd = st.lockfd = -1;
  es_fsck_report r = {0};
  int status = ES_EXIT_FAIL, rc;
  if ((rc = es_store_open(&st, root, 0, NULL, &err))) {
    status = es_cli_fail_dataset(prog, rc, &err);
    goto done;
  }
  /* a check takes a reader's lock: it waits for a writer, deletes nothing */
  if ((rc = es_cli_lock(prog, &st, repair ? 0 : ES_LOCK_SHARED, quiet || json, &err))) {
    status = es_cli_fail(prog, rc, &err);
    goto done;
  }
  es_fsck_opts o = {.hashes = !quick, .jobs = jobs};
  if ((rc = es_fsck_check(&st, &o, &r, &err)) || (repair && (rc = es_fsck_repair(&st, &r, &err)))) {
    status = es_cli_fail(prog, rc, &err);
    goto done;
  }
  size_t damage = 0, leftovers = 0, repaired = 0;
  for (size_t i = 0; i < r.n; i++) {
    const es_fsck_problem *q = &r.p[i];
    damage += q->damage && !q->repaired;
    leftovers += !q->damage && !q->repaired;
    repaired += q->repaired;
    if (!json) {
      char *full = malloc(strlen(root) + strlen(q->path) + 2);
      if (full)
        sprintf(full, "%s/%s", root, q->path);
      printf("%s %s: %s: ", q->repaired ? "repaired" : q->damage ? "damage" : "leftover",
             q->kind, es_show(full ? full : q->path));
      free(full);
      printf("%s%s\n", es_show(q->detail),
             repair && !q->repaired && q->damage
                 ? (strncmp(q->kind, "object", 6) ? " (cannot be repaired here)"
                                                  : " (cannot be repaired here: collect the "
                                                    "original file again to restore it)")
                 : "");
    }
  }
  if (json) {
    json_t *j = es_fsck_json(&r);
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(j);
  } else if (!quiet) {
    printf("fsck %s: %zu items, %zu objects %s (%llu bytes)%s; %zu damaged, %zu leftovers, "
           "%zu repaired\n",
           es_show(root), r.items, r.objects_checked, quick ? "present" : "hashed",
           (unsigned long long)r.bytes_checked,
           r.no_objects ? ", no objects/ (a --store ref dataset: objects not checked)" : "",
           damage, leftovers, repaired);
  }
  status = es_cli_finish(prog, damage || (strict && leftovers) ? ES_EXIT_FOUND : ES_EXIT_OK);
done:
  es_fsck_report_free(&r);
  es_store_close(&st);
  return status;
}
