/* edgeset-merge: folds the part datasets of one batch (edgeset collect --shard K/N) into a
 * dataset in one commit, byte-identical to one collect of all their inputs. docs/merge.md. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/cli.h"
#include "core/show.h"
#include "core/store.h"
#include "merge/merge.h"

static const char *const prog = "edgeset-merge";
static const char *const usage =
    "edgeset-merge -d DIR [options] PART...\n"
    "\n"
    "Folds the part datasets of one batch (made by edgeset-collect --shard K/N, all N of them,\n"
    "in any order) into the dataset DIR (created when missing) in one commit. The manifest and\n"
    "the objects are byte-identical to what one collect of all the parts' inputs would have\n"
    "made. Objects are hard linked when DIR is on the parts' file system, copied otherwise,\n"
    "and checked against their ids. The parts are left as they are. Merging the same parts\n"
    "again changes nothing; parts made with other settings, or a batch DIR already has from\n"
    "elsewhere, are refused with the reason.\n"
    "\n"
    "  -d, --dataset DIR      the dataset to merge into (default: $EDGESET_DATASET)\n"
    "      --store MODE       link (default: a hard link when possible, else a copy), or ref\n"
    "                         for parts collected with --store ref (no objects)\n"
    "      --consume          delete the parts after the commit\n"
    "      --refuse-near-redacted  as edgeset-collect's, against DIR's tombstones\n"
    "  -j, --jobs N           threads (default: all cores; 0 = all cores)\n"
    "      --json             print the summary as JSON\n"
    "  -q, --quiet            print nothing on success\n"
    "  -h, --help             this help\n"
    "      --version          version\n"
    "\n"
    "Exit status: 0 done (or nothing to do); 2 bad usage or refused, nothing changed; 3 I/O\n"
    "failure, DIR as it was.\n";

enum { OPT_STORE = 256, OPT_CONSUME, OPT_REFUSE_NEAR, OPT_JSON, OPT_VERSION };

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* st_dev/st_ino of a directory, 0 when it does not exist */
static int dir_id(const char *path, dev_t *dev, ino_t *ino)
{
  struct stat sb;
  if (stat(path, &sb) != 0)
    return 0;
  *dev = sb.st_dev;
  *ino = sb.st_ino;
  return 1;
}

static void print_text(const es_merge_summary *s, const char *root)
{
  if (!s->changed) {
    printf("batch %s: %s already has all of it (%zu parts); nothing to do\n", es_show(s->batch),
           es_show(root), s->parts);
    return;
  }
  printf("batch %s: %zu parts", es_show(s->batch), s->parts);
  if (s->shards)
    printf(" (shards of %zu)", s->shards);
  printf(" merged into %s: %zu inputs\n", es_show(root), s->inputs);
  printf("  %zu new items, %zu duplicates, %zu already merged, %zu quarantined\n", s->new_items,
         s->duplicates, s->already_merged, s->quarantined);
  printf("  %zu near duplicates joined existing clusters; %zu objects linked or copied\n",
         s->near_duplicates, s->objects);
  if (s->near_redacted)
    printf("  %zu new items are near duplicates of content edgeset rm removed\n",
           s->near_redacted);
  printf("dataset: %zu items in %zu clusters\n", s->items_total, s->clusters_total);
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"dataset", required_argument, NULL, 'd'},
      {"jobs", required_argument, NULL, 'j'},
      {"store", required_argument, NULL, OPT_STORE},
      {"consume", no_argument, NULL, OPT_CONSUME},
      {"refuse-near-redacted", no_argument, NULL, OPT_REFUSE_NEAR},
      {"json", no_argument, NULL, OPT_JSON},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},
      {NULL, 0, NULL, 0}};
  const char *dataset_opt = NULL;
  int consume = 0, json = 0, quiet = 0, c;
  es_merge_opts o = {0};
  es_error err = {0};
  if (es_cli_parse_jobs("0", &o.jobs, &err))
    o.jobs = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":d:j:qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'd': dataset_opt = optarg; break;
    case 'j':
      if (es_cli_parse_jobs(optarg, &o.jobs, &err))
        return es_cli_usage_error(prog, usage, "--jobs: %s", err.msg);
      break;
    case OPT_STORE:
      if (!strcmp(optarg, "ref"))
        o.ref = 1;
      else if (strcmp(optarg, "link"))
        return es_cli_usage_error(prog, usage, "--store '%s': expected link or ref",
                                  es_show(optarg));
      break;
    case OPT_CONSUME: consume = 1; break;
    case OPT_REFUSE_NEAR: o.refuse_near_redacted = 1; break;
    case OPT_JSON: json = 1; break;
    case 'q': quiet = 1; break;
    case 'h': return es_cli_help(prog, usage);
    case OPT_VERSION: es_cli_version(prog); return es_cli_finish(prog, ES_EXIT_OK);
    default: return es_cli_bad_option(prog, usage, c, argv);
    }
  }
  const char *root = es_cli_dataset(dataset_opt);
  if (!root)
    return es_cli_usage_error(prog, usage, "no dataset: give -d DIR or set EDGESET_DATASET");
  if (optind >= argc)
    return es_cli_usage_error(prog, usage, "no parts given");
  size_t n = (size_t)(argc - optind);
  es_store *parts = calloc(n, sizeof *parts);
  es_store st;
  memset(&st, 0, sizeof st);
  st.dirfd = st.lockfd = -1;
  es_merge_parts *P = NULL;
  es_merge_summary sum;
  memset(&sum, 0, sizeof sum);
  int status = ES_EXIT_FAIL, rc;
  if (!parts)
    return es_cli_fail(prog, ES_ENOMEM, NULL);
  for (size_t i = 0; i < n; i++)
    parts[i].dirfd = parts[i].lockfd = -1;

  /* DIR is none of the parts, and no part is given twice */
  dev_t ddev = 0;
  ino_t dino = 0;
  int dir_exists = dir_id(root, &ddev, &dino);
  for (size_t i = 0; i < n; i++) {
    dev_t dev;
    ino_t ino;
    const char *path = argv[optind + (int)i];
    if (!dir_id(path, &dev, &ino))
      continue; /* reported by the open below */
    if (dir_exists && dev == ddev && ino == dino) {
      status = es_cli_usage_error(prog, usage, "part '%s' is the dataset itself", es_show(path));
      goto done;
    }
    for (size_t j = 0; j < i; j++) {
      dev_t d2;
      ino_t i2;
      if (dir_id(argv[optind + (int)j], &d2, &i2) && d2 == dev && i2 == ino) {
        status = es_cli_usage_error(prog, usage, "part '%s' is given twice", es_show(path));
        goto done;
      }
    }
  }
  for (size_t i = 0; i < n; i++) {
    const char *path = argv[optind + (int)i];
    if ((rc = es_store_open(&parts[i], path, 0, NULL, &err))) {
      status = es_cli_fail_dataset(prog, rc, &err);
      goto done;
    }
    if ((rc = es_cli_lock(prog, &parts[i], ES_LOCK_SHARED, quiet || json, &err))) {
      status = es_cli_fail(prog, rc, &err);
      goto done;
    }
  }
  if ((rc = es_merge_parts_load(parts, n, o.jobs, &P, &err))) {
    status = es_cli_fail(prog, rc, &err);
    goto done;
  }
  if ((rc = es_store_open(&st, root, 1, es_merge_parts_settings(P), &err))) {
    status = es_cli_fail_dataset(prog, rc, &err);
    goto done;
  }
  if ((rc = es_cli_lock(prog, &st, 0, quiet || json, &err))) {
    status = es_cli_fail(prog, rc, &err);
    goto done;
  }
  if ((rc = es_merge_run(&st, P, &o, &sum, &err))) {
    status = es_cli_fail(prog, rc, &err);
    /* a DIR this run created and committed nothing to is not left behind */
    struct stat sb;
    char *mf = malloc(strlen(root) + 20);
    if (!dir_exists && mf) {
      sprintf(mf, "%s/manifest.jsonl", root);
      if (stat(mf, &sb) != 0 && errno == ENOENT) {
        es_store_close(&st);
        nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
      }
    }
    free(mf);
    goto done;
  }
  if (json) {
    json_t *j = es_merge_summary_json(&sum);
    if (j) {
      json_object_set_new(j, "consumed", json_boolean(consume));
      json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
      fputc('\n', stdout);
      json_decref(j);
    }
  } else if (!quiet) {
    print_text(&sum, root);
  }
  status = ES_EXIT_OK;
  if (consume) {
    /* only now: DIR holds everything the parts did */
    for (size_t i = 0; i < n; i++)
      es_store_close(&parts[i]);
    for (size_t i = 0; i < n; i++) {
      const char *path = argv[optind + (int)i];
      if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        es_cli_error(prog, "merged, but cannot delete part '%s': %s", es_show(path),
                     strerror(errno));
        status = ES_EXIT_FAIL;
      }
    }
  }
  status = es_cli_finish(prog, status);
done:
  es_merge_summary_free(&sum);
  es_merge_parts_free(P);
  es_store_close(&st);
  for (size_t i = 0; i < n; i++)
    es_store_close(&parts[i]);
  free(parts);
  return status;
}
