/* edgeset-split: parses options and runs the split stage's library: assign (default), release,
 * verify, list and export. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/store.h"
#include "formats/index.h"
#include "split/split.h"

static const char *const prog = "edgeset-split";
static const char *const usage =
    "edgeset-split -d DIR [--ratios R] [--seed N] [--group-by G] [--verify]\n"
    "       edgeset-split -d DIR --verify | --list SPLIT [-0] | --export DIR --layout L\n"
    "       edgeset-split -d DIR --release SPLIT | --set-aside-leaks\n"
    "\n"
    "Assigns unassigned items to train, val and held-out sets (names starting with 'test'),\n"
    "a whole group (near-duplicate cluster, device or burst) to one split, stratified by label.\n"
    "Assigned items never move; held-out items move only after an explicit --release.\n"
    "\n"
    "  -d, --dataset DIR      the dataset (default: $EDGESET_DATASET)\n"
    "      --ratios R         80:10:10 (train:val:test) or train=80,val=10,test=5,test2=5\n"
    "                         (default 80:10:10)\n"
    "      --seed N           seed of the order groups are dealt out in (default 0)\n"
    "      --group-by G       cluster (default), device, or burst:SECONDS (captures of one\n"
    "                         device less than SECONDS apart); clusters are always kept whole\n"
    "      --max-ratio-error E  when a class's shares would miss the ratios by more than E\n"
    "                         (default 0.03; one item of rounding always passes), change\n"
    "                         nothing and exit 1 naming the class; 1 accepts any shares\n"
    "      --verify           check for leaks; exit 1 listing the offending items\n"
    "      --list SPLIT       print the object paths of the split's items, one a line\n"
    "  -0, --null             with --list: NUL-separated\n"
    "      --export DIR       write the assigned items into DIR (nothing outside it)\n"
    "      --layout L         folders (DIR/split/label/file, hard links where possible) or\n"
    "                         csv (DIR/split.csv: path,label,split)\n"
    "      --one-per-cluster  export one representative per near-duplicate cluster\n"
    "      --release SPLIT    make every item of SPLIT unassigned again (held-out items are\n"
    "                         released only this way); the next run may put them anywhere\n"
    "      --set-aside-leaks  make every train or val item that --verify links to a held-out\n"
    "                         item (a near duplicate, or a member of its cluster) unassigned,\n"
    "                         with a note naming that item; held-out items never move\n"
    "  -j, --jobs N           threads for near-duplicate checks (default: all cores)\n"
    "      --dry-run          decide and report, change nothing\n"
    "      --json             print the summary as JSON\n"
    "  -q, --quiet            print nothing on success\n"
    "  -h, --help             this help\n"
    "      --version          version\n"
    "\n"
    "Exit status: 0 done; 1 --verify found leaks, or a class's shares missed the ratios\n"
    "(nothing changed); 2 bad usage; 3 I/O failure.\n";

enum { OPT_RATIOS = 256, OPT_SEED, OPT_GROUP, OPT_VERIFY, OPT_LIST, OPT_EXPORT, OPT_LAYOUT,
       OPT_ONE, OPT_RELEASE, OPT_DRY, OPT_JSON, OPT_VERSION, OPT_SET_ASIDE, OPT_MAX_ERR };

static void print_summary(const json_t *s, int dry)
{
  printf("%s%lld items assigned (%lld joined groups already in a split), %lld excluded, "
         "%lld already assigned\n",
         dry ? "dry run: " : "", (long long)json_integer_value(json_object_get(s, "assigned")),
         (long long)json_integer_value(json_object_get(s, "joined_groups")),
         (long long)json_integer_value(json_object_get(s, "excluded")),
         (long long)json_integer_value(json_object_get(s, "already_assigned")));
  const json_t *rat = json_object_get(s, "ratios");
  const char *k;
  json_t *v;
  printf("achieved ratios per class (target");
  json_object_foreach((json_t *)rat, k, v) printf(" %s %.4g", es_show(k), json_real_value(v));
  printf("):\n");
  const json_t *a = json_object_get(s, "achieved");
  for (size_t c = 0; c < json_array_size(a); c++) {
    const json_t *row = json_array_get(a, c);
    const char *lab = json_string_value(json_object_get(row, "label"));
    printf("  %-20s %8lld ", lab ? es_show(lab) : "(unlabelled)",
           (long long)json_integer_value(json_object_get(row, "total")));
    json_object_foreach((json_t *)json_object_get(row, "ratios"), k, v)
      printf(" %s %.4f", es_show(k), json_real_value(v));
    printf("  max error %.4f\n", json_real_value(json_object_get(row, "max_error")));
  }
}

/* The classes whose shares missed (nothing was changed), on stderr, with what would help. */
static void print_misses(const json_t *s, const es_split_opts *so)
{
  const json_t *misses = json_object_get(s, "ratio_misses");
  const char *k;
  json_t *v;
  fprintf(stderr, "%s: nothing changed: %zu class(es) would miss the ratios by more than "
          "--max-ratio-error %.4g without a leak:\n", prog, json_array_size(misses),
          so->max_ratio_error);
  const json_t *achieved = json_object_get(s, "achieved");
  for (size_t i = 0; i < json_array_size(misses); i++) {
    const json_t *e = json_array_get(misses, i);
    const char *lab = json_string_value(json_object_get(e, "label"));
    fprintf(stderr, "  %s (%lld items): off by %.4f (allowed %.4f);",
            lab ? es_show(lab) : "(unlabelled)",
            (long long)json_integer_value(json_object_get(e, "total")),
            json_real_value(json_object_get(e, "max_error")),
            json_real_value(json_object_get(e, "allowed")));
    for (size_t c = 0; c < json_array_size(achieved); c++) {
      const json_t *row = json_array_get(achieved, c);
      const char *rl = json_string_value(json_object_get(row, "label"));
      if ((rl == NULL) != (lab == NULL) || (rl && strcmp(rl, lab)))
        continue;
      json_object_foreach((json_t *)json_object_get(row, "ratios"), k, v)
        fprintf(stderr, " %s %.4f", es_show(k), json_real_value(v));
    }
    fprintf(stderr, "\n    largest linked sets of its new items (each goes to one split whole):");
    const json_t *big = json_object_get(e, "largest_components");
    for (size_t c = 0; c < json_array_size(big); c++) {
      const json_t *b = json_array_get(big, c);
      const char *g = json_string_value(json_object_get(b, "group"));
      const char *sp = json_string_value(json_object_get(b, "split"));
      fprintf(stderr, "%s %lld items (%lld of the class) in %s, group %s", c ? ";" : "",
              (long long)json_integer_value(json_object_get(b, "items")),
              (long long)json_integer_value(json_object_get(b, "of_class")),
              sp ? es_show(sp) : "no split", g ? es_show(g) : "-");
    }
    fputc('\n', stderr);
  }
  fprintf(stderr, "  what would help: %s"
          "a tighter near-duplicate relation (edgeset-collect --recluster --near N with N below "
          "%u); more items of these classes; or --max-ratio-error 1 to accept these shares\n",
          so->group_by.kind != ES_GROUP_CLUSTER ? "--group-by cluster (groups devices or bursts "
                                                  "no longer); "
                                                : "",
          so->near.rel.radius);
}

static void print_problems(const json_t *p)
{
  for (size_t i = 0; i < json_array_size(p); i++) {
    const json_t *e = json_array_get(p, i);
    const char *kind = json_string_value(json_object_get(e, "kind"));
    if (!strcmp(kind, "near-held-out")) {
      printf("leak: %s item %s is %d bits from %s item %s\n",
             es_show(json_string_value(json_object_get(e, "split"))),
             json_string_value(json_object_get(e, "item")),
             (int)json_integer_value(json_object_get(e, "distance")),
             es_show(json_string_value(json_object_get(e, "near_split"))),
             json_string_value(json_object_get(e, "near")));
    } else if (!strcmp(kind, "augmented-outside-source")) {
      const char *a = json_string_value(json_object_get(e, "split"));
      const char *b = json_string_value(json_object_get(e, "source_split"));
      printf("leak: augmented item %s is in %s but its source %s is in %s\n",
             json_string_value(json_object_get(e, "item")), a ? es_show(a) : "no split",
             json_string_value(json_object_get(e, "source")), b ? es_show(b) : "no split");
    } else {
      int grp = !strcmp(kind, "group-spans-splits");
      printf("leak: %s %s spans splits:", grp ? "group" : "cluster",
             es_show(json_string_value(json_object_get(e, grp ? "group" : "cluster"))));
      const json_t *items = json_object_get(e, "items");
      for (size_t k = 0; k < json_array_size(items); k++)
        printf(" %s (%s)", json_string_value(json_object_get(json_array_get(items, k), "id")),
               es_show(json_string_value(json_object_get(json_array_get(items, k), "split"))));
      putchar('\n');
    }
  }
}

/* --release: the items of `release` become unassigned, committed unless a dry run. Returns the
 * exit status on failure, else -1. */
static int run_release(es_store *st, es_index *ix, es_manifest *m, const char *release, int dry,
                       int silent, json_t *out)
{
  es_error err = {0};
  size_t v;
  size_t n = es_strmap_get(&ix->str_of, release, &v) ? es_split_release(ix, release) : 0;
  if (!n) {
    es_cli_error(prog, "--release '%s': no item is in that split", es_show(release));
    return ES_EXIT_USAGE;
  }
  if (!silent)
    printf("%sreleased %zu items of %s'%s': they are unassigned now, and the next split run "
           "may put them in any split%s\n",
           dry ? "dry run: " : "", n, es_split_is_held_out(release) ? "held-out set " : "split ",
           es_show(release),
           es_split_is_held_out(release) ? " (including train), so results measured on this "
                                           "held-out set are no longer comparable"
                                         : "");
  json_object_set_new(out, "release", json_pack("{s:s, s:I, s:b}", "split", release, "items",
                                                (json_int_t)n, "dry_run", dry));
  int rc = dry ? ES_OK : es_split_commit_release(st, ix, m, release, n, &err);
  return rc ? es_cli_fail(prog, rc, &err) : -1;
}

/* --set-aside-leaks: returns the exit status on failure, else -1. */
static int run_set_aside(es_store *st, es_index *ix, es_manifest *m, const es_split_opts *so,
                         int dry, int silent, json_t *out)
{
  es_error err = {0};
  size_t n = 0;
  json_t *problems = es_split_verify(ix, &so->near, so->jobs, &err);
  int rc = problems ? es_split_set_aside(ix, problems, &n, &err) : (err.code ? err.code : ES_ENOMEM);
  json_decref(problems);
  if (rc)
    return es_cli_fail(prog, rc, &err);
  if (!silent)
    printf("%sset aside %zu train or val items linked to held-out items: they are unassigned, "
           "with a note; held-out items are unchanged\n", dry ? "dry run: " : "", n);
  json_object_set_new(out, "set_aside", json_pack("{s:I, s:b}", "items", (json_int_t)n,
                                                  "dry_run", dry));
  rc = dry || !n ? ES_OK : es_split_commit_set_aside(st, ix, m, n, &err);
  return rc ? es_cli_fail(prog, rc, &err) : -1;
}

/* --export: returns the exit status on failure, else -1. */
static int run_export(es_store *st, const es_index *ix, const char *dir, const char *layout,
                      int one, int silent, json_t *out)
{
  es_error err = {0};
  es_export_opts eo = {.layout = strcmp(layout, "csv") ? ES_LAYOUT_FOLDERS : ES_LAYOUT_CSV,
                       .one_per_cluster = one};
  es_export_summary es;
  int rc = es_split_export(st, ix, dir, &eo, &es, &err);
  if (rc)
    return es_cli_fail(prog, rc, &err);
  json_object_set_new(out, "export",
                      json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "dir", dir, "layout",
                                layout, "files", (json_int_t)es.files, "linked",
                                (json_int_t)es.linked, "copied", (json_int_t)es.copied,
                                "skipped_unassigned_or_unlabelled",
                                (json_int_t)es.skipped_unassigned, "skipped_cluster",
                                (json_int_t)es.skipped_cluster));
  if (!silent)
    printf("exported %zu items to %s (%zu hard links, %zu copies; %zu unassigned or "
           "unlabelled and %zu cluster duplicates left out)\n",
           es.files, es_show(dir), es.linked, es.copied, es.skipped_unassigned,
           es.skipped_cluster);
  return -1;
}

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"dataset", required_argument, NULL, 'd'},     {"jobs", required_argument, NULL, 'j'},
      {"ratios", required_argument, NULL, OPT_RATIOS}, {"seed", required_argument, NULL, OPT_SEED},
      {"group-by", required_argument, NULL, OPT_GROUP}, {"verify", no_argument, NULL, OPT_VERIFY},
      {"list", required_argument, NULL, OPT_LIST},   {"null", no_argument, NULL, '0'},
      {"export", required_argument, NULL, OPT_EXPORT}, {"layout", required_argument, NULL, OPT_LAYOUT},
      {"one-per-cluster", no_argument, NULL, OPT_ONE},
      {"release", required_argument, NULL, OPT_RELEASE},
      {"set-aside-leaks", no_argument, NULL, OPT_SET_ASIDE},
      {"max-ratio-error", required_argument, NULL, OPT_MAX_ERR},
      {"dry-run", no_argument, NULL, OPT_DRY},       {"json", no_argument, NULL, OPT_JSON},
      {"quiet", no_argument, NULL, 'q'},             {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},   {NULL, 0, NULL, 0}};
  const char *dataset_opt = NULL, *list = NULL, *export_dir = NULL, *layout = NULL;
  const char *release = NULL;
  int verify = 0, nul = 0, one = 0, dry = 0, json = 0, quiet = 0, assign_opts = 0, c, rc;
  int aside = 0;
  es_split_opts so;
  memset(&so, 0, sizeof so);
  es_error err = {0};
  if (es_cli_parse_jobs("0", &so.jobs, &err))
    so.jobs = 1;
  es_split_ratios_parse("80:10:10", &so.ratios, &err);
  so.max_ratio_error = 0.03;
  const char *ratios_text = "80:10:10";

  opterr = 0;
  while ((c = getopt_long(argc, argv, ":d:j:0qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'd': dataset_opt = optarg; break;
    case 'j':
      if (es_cli_parse_jobs(optarg, &so.jobs, &err))
        return es_cli_usage_error(prog, usage, "--jobs: %s", err.msg);
      break;
    case OPT_RATIOS:
      if (es_split_ratios_parse(optarg, &so.ratios, &err))
        return es_cli_usage_error(prog, usage, "%s", err.msg);
      ratios_text = optarg;
      assign_opts = 1;
      break;
    case OPT_SEED: {
      unsigned long long v;
      if (es_cli_parse_uint(optarg, 0, UINT64_MAX, &v, &err))
        return es_cli_usage_error(prog, usage, "--seed: %s", err.msg);
      so.seed = v;
      assign_opts = 1;
      break;
    }
    case OPT_GROUP:
      if (es_group_by_parse(optarg, &so.group_by, &err))
        return es_cli_usage_error(prog, usage, "%s", err.msg);
      assign_opts = 1;
      break;
    case OPT_MAX_ERR: {
      char *e = NULL;
      so.max_ratio_error = strtod(optarg, &e);
      if (e == optarg || *e || !(so.max_ratio_error >= 0 && so.max_ratio_error <= 1))
        return es_cli_usage_error(prog, usage, "--max-ratio-error '%s': expected a number "
                                  "from 0 to 1", es_show(optarg));
      assign_opts = 1;
      break;
    }
    case OPT_VERIFY: verify = 1; break;
    case OPT_LIST: list = optarg; break;
    case '0': nul = 1; break;
    case OPT_EXPORT: export_dir = optarg; break;
    case OPT_LAYOUT: layout = optarg; break;
    case OPT_ONE: one = 1; break;
    case OPT_RELEASE: release = optarg; break;
    case OPT_SET_ASIDE: aside = 1; break;
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
  if (optind < argc)
    return es_cli_usage_error(prog, usage, "unexpected argument '%s'", es_show(argv[optind]));
  const char *root = es_cli_dataset(dataset_opt);
  if (!root)
    return es_cli_usage_error(prog, usage, "no dataset: give -d DIR or set EDGESET_DATASET");
  int modes = (list != NULL) + (export_dir != NULL) + (release != NULL) + aside;
  if (modes > 1 || (modes && (verify || assign_opts)))
    return es_cli_usage_error(prog, usage,
                              "--list, --export, --release and --set-aside-leaks each run alone");
  if (export_dir && (!layout || (strcmp(layout, "folders") && strcmp(layout, "csv"))))
    return es_cli_usage_error(prog, usage, "--export needs --layout folders or --layout csv");
  if (!export_dir && (layout || one))
    return es_cli_usage_error(prog, usage, "--layout and --one-per-cluster go with --export");
  if (nul && !list)
    return es_cli_usage_error(prog, usage, "-0 goes with --list");
  int assign = !modes && (!verify || assign_opts);

  int status = ES_EXIT_FAIL;
  es_store st;
  memset(&st, 0, sizeof st);
  st.dirfd = st.lockfd = -1;
  es_manifest m = {0};
  es_index ix = {0};
  es_near_sig *sigs = NULL;
  size_t nosig = 0;
  json_t *summary = NULL, *problems = NULL, *out = json_object();
  int changes = (assign || release || aside) && !dry;

  if ((rc = es_store_open(&st, root, 0, NULL, &err))) {
    status = es_cli_fail_dataset(prog, rc, &err);
    goto cleanup;
  }
  if (changes && (rc = es_store_lock(&st, 1, &err))) {
    status = es_cli_fail(prog, rc, &err);
    goto cleanup;
  }
  /* the relation (signatures.bin) only for what compares items */
  if ((rc = es_index_load(&st, changes ? &m : NULL, &ix, NULL, &err)) ||
      ((assign || verify || aside) &&
       (rc = es_split_near_load(&st, &ix, &so.near, &sigs, &nosig, &err)))) {
    status = es_cli_fail(prog, rc, &err);
    goto cleanup;
  }
  if (nosig)
    fprintf(stderr, "%s: warning: %zu items have no near-duplicate signature and are linked to "
            "no other item (edgeset-collect --recluster recomputes them)\n", prog, nosig);

  if (release && (status = run_release(&st, &ix, &m, release, dry, quiet || json, out)) >= 0)
    goto cleanup;
  if (aside && (status = run_set_aside(&st, &ix, &m, &so, dry, quiet || json, out)) >= 0)
    goto cleanup;

  if (assign) {
    summary = es_split_assign(&ix, &so, &err);
    if (!summary) {
      status = es_cli_fail(prog, err.code ? err.code : ES_ENOMEM, &err);
      goto cleanup;
    }
    json_object_set_new(summary, "ratios_given", json_string(ratios_text));
    const json_t *misses = json_object_get(summary, "ratio_misses");
    if (json_array_size(misses)) {
      json_object_set_new(summary, "dry_run", json_boolean(dry));
      json_object_set(out, "split", summary);
      if (json) {
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
      } else if (!quiet) {
        print_summary(summary, dry);
      }
      print_misses(summary, &so);
      status = es_cli_finish(prog, ES_EXIT_FOUND);
      goto cleanup;
    }
    if (!dry && (rc = es_split_commit_assign(&st, &ix, &m, summary, &err))) {
      status = es_cli_fail(prog, rc, &err);
      goto cleanup;
    }
    json_object_set_new(summary, "dry_run", json_boolean(dry));
    json_object_set(out, "split", summary);
    if (!json && !quiet)
      print_summary(summary, dry);
  }

  int found = 0;
  if (verify) {
    problems = es_split_verify(&ix, &so.near, so.jobs, &err);
    if (!problems) {
      status = es_cli_fail(prog, err.code ? err.code : ES_ENOMEM, &err);
      goto cleanup;
    }
    found = json_array_size(problems) > 0;
    json_object_set(out, "verify", problems);
    if (!json) {
      print_problems(problems);
      if (!quiet)
        printf("verify: %zu problems\n", json_array_size(problems));
    }
  }

  if (list) {
    size_t v;
    uint32_t want = es_strmap_get(&ix.str_of, list, &v) ? (uint32_t)v : ES_INDEX_NONE - 1;
    for (size_t i = 0; i < ix.n; i++)
      if (ix.items[i].split == want) {
        char obj[64];
        es_split_object_path(&ix, i, obj);
        printf("%s/%s%c", root, obj, nul ? '\0' : '\n');
      }
  }

  if (export_dir && (status = run_export(&st, &ix, export_dir, layout, one, quiet || json,
                                         out)) >= 0)
    goto cleanup;

  if (json && !list) {
    json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
  }
  status = es_cli_finish(prog, found ? ES_EXIT_FOUND : ES_EXIT_OK);

cleanup:
  json_decref(out);
  json_decref(summary);
  json_decref(problems);
  es_index_free(&ix);
  free(sigs);
  es_manifest_free(&m);
  es_store_close(&st);
  return status;
}
