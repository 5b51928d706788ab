/* edgeset-gc: deletes the objects no item of the manifest refers to (left by runs killed before
 * their commit, or by hand), never a referenced one. docs/gc.md. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/store.h"
#include "formats/index.h"
#include "formats/objects_list.h"

static const char *const prog = "edgeset-gc";
static const char *const usage =
    "edgeset-gc -d DIR [--dry-run] [--json]\n"
    "\n"
    "Deletes every object under DIR/objects/ that no item of the manifest refers to, and says\n"
    "how many and how much space that gave back. A referenced object is never touched.\n"
    "\n"
    "  -d, --dataset DIR   the dataset (default: $EDGESET_DATASET)\n"
    "      --dry-run       list what would be deleted, delete nothing\n"
    "      --json          print the summary as JSON\n"
    "  -j, --jobs N        accepted for uniformity (gc runs on one thread)\n"
    "  -q, --quiet         print nothing on success\n"
    "  -h, --help          this help\n"
    "      --version       version\n"
    "\n"
    "Exit status: 0 done; 2 bad usage; 3 I/O failure.\n";

enum { OPT_DRY = 256, OPT_JSON, OPT_VERSION };

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"dataset", required_argument, NULL, 'd'}, {"jobs", required_argument, NULL, 'j'},
      {"dry-run", no_argument, NULL, OPT_DRY},   {"json", no_argument, NULL, OPT_JSON},
      {"quiet", no_argument, NULL, 'q'},         {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION}, {NULL, 0, NULL, 0}};
  const char *dataset_opt = NULL;
  int dry = 0, json = 0, quiet = 0, jobs = 1, c;
  es_error err = {0};
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":d:j:qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'd': dataset_opt = optarg; break;
    case 'j':
      if (es_cli_parse_jobs(optarg, &jobs, &err))
        return es_cli_usage_error(prog, usage, "--jobs: %s", err.msg);
      break;
    case OPT_DRY: dry = 1; break;
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
  es_manifest m = {0};
  char **paths = NULL;
  uint64_t *sizes = NULL;
  size_t n = 0, deleted = 0;
  uint64_t bytes = 0;
  int status = ES_EXIT_FAIL, rc;
  if ((rc = es_store_open(&st, root, 0, NULL, &err))) {
    status = es_cli_fail_dataset(prog, rc, &err);
    goto done;
  }
  /* the exclusive lock: no writer can be between publishing an object and its commit */
  if ((rc = es_cli_lock(prog, &st, dry ? ES_LOCK_SHARED : 0, quiet || json, &err)) ||
      (rc = es_manifest_load(&st, &m, &err)) ||
      (rc = es_objects_orphans(&st, &m, &paths, &sizes, &n, &err))) {
    status = es_cli_fail(prog, rc, &err);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    if (!dry && (rc = es_store_unlink(&st, paths[i], &err))) {
      status = es_cli_fail(prog, rc, &err);
      goto done;
    }
    deleted++;
    bytes += sizes[i];
    if (!json && !quiet)
      printf("%s %s\n", dry ? "would delete" : "deleted", es_show(paths[i]));
  }
  if (!dry && deleted) {
    int od = openat(st.dirfd, "objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (od >= 0) {
      syncfs(od);
      close(od);
    }
    char now[32];
    es_store_now(now);
    json_t *rec = json_pack("{s:s, s:s, s:I, s:I}", "type", "gc", "time", now, "objects",
                            (json_int_t)deleted, "bytes", (json_int_t)bytes);
    if (!rec || (rc = es_store_append(&st, "ledger.jsonl", rec, &err))) {
      json_decref(rec);
      status = es_cli_fail(prog, rec ? rc : ES_ENOMEM, &err);
      goto done;
    }
    json_decref(rec);
  }
  if (json)
    printf("{\"gc\": {\"objects\": %zu, \"bytes\": %llu, \"dry_run\": %s}}\n", deleted,
           (unsigned long long)bytes, dry ? "true" : "false");
  else if (!quiet)
    printf("%s%zu unreferenced objects (%llu bytes)%s\n", dry ? "dry run: " : "gc: ", deleted,
           (unsigned long long)bytes, dry ? " would be deleted" : " deleted");
  status = es_cli_finish(prog, ES_EXIT_OK);
done:
  for (size_t i = 0; i < n; i++)
    free(paths[i]);
  free(paths);
  free(sizes);
  es_manifest_free(&m);
  es_store_close(&st);
  return status;
}
