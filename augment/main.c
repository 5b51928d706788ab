/* edgeset-augment: parses options and runs es_augment_run() on the dataset. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment/augment.h"
#include "core/cli.h"
#include "core/store.h"

static const char *const prog = "edgeset-augment";
static const char *const usage =
    "edgeset-augment -d DIR --per-image K --ops SPEC [--seed S] [options]\n"
    "\n"
    "Adds K augmented variants of every item of the train split as new items (derived_from,\n"
    "aug), each drawn from (seed, item id, variant number) alone, so that the result does not\n"
    "depend on --jobs, order or machine and a re-run with the same seed adds nothing.\n"
    "Validation and held-out items are never augmented.\n"
    "\n"
    "SPEC: comma-separated operations, each NAME[:PARAM][@PROBABILITY] (default 1):\n"
    "  hflip vflip rot90          flips, a random quarter turn\n"
    "  rotate:DEG                 angle in [-DEG, DEG] (0 < DEG <= 180), bilinear, reflected\n"
    "  crop:A[-B]                 random resized crop, area fraction in [A, B] (default B = 1)\n"
    "  translate:F scale:F        shift up to F of the size (F <= 0.5); zoom in [1-F, 1+F]\n"
    "  bright:B contrast:C        brightness +-B*255; contrast factor in [1-C, 1+C]\n"
    "  gamma:G sat:S              gamma in [1-G, 1+G]; saturation factor in [1-S, 1+S]\n"
    "  noise:SIGMA blur:S|A-B     Gaussian noise sigma up to SIGMA; Gaussian blur sigma\n"
    "  cutout:F                   a grey square of side up to F of the smaller side\n"
    "  jpeg:Q|A-B                 re-compress at a quality in [A, B] (must come last)\n"
    "  e.g. hflip@0.5,rotate:15,bright:0.2,jpeg:60-95\n"
    "\n"
    "  -d, --dataset DIR      the dataset (default: $EDGESET_DATASET)\n"
    "      --per-image K      variants per train item (1 to 1000)\n"
    "      --ops SPEC         the operations (above)\n"
    "      --seed S           0 to 2^53-1 (default 0)\n"
    "      --item ID          augment only this train item (repeatable)\n"
    "      --split NAME       the split to augment: only 'train' is accepted\n"
    "      --preview FILE     write an HTML contact sheet of originals and variants\n"
    "      --preview-max N    sources on the contact sheet (default 50)\n"
    "  -j, --jobs N           worker threads (default: all cores; 0 = all cores)\n"
    "      --dry-run          make the variants (and the preview), change nothing\n"
    "      --json             print the summary as JSON\n"
    "  -q, --quiet            print nothing on success\n"
    "  -h, --help             this help\n"
    "      --version          version\n"
    "\n"
    "Exit status: 0 done; 2 bad usage (unknown operation, parameter out of range, a non-train\n"
    "item); 3 I/O failure.\n";

enum { OPT_PER = 256, OPT_OPS, OPT_SEED, OPT_ITEM, OPT_SPLIT, OPT_PREVIEW, OPT_PREVMAX, OPT_DRY,
       OPT_JSON, OPT_VERSION };

int main(int argc, char **argv)
{
  static const struct option longopts[] = {
      {"dataset", required_argument, NULL, 'd'},       {"jobs", required_argument, NULL, 'j'},
      {"per-image", required_argument, NULL, OPT_PER}, {"ops", required_argument, NULL, OPT_OPS},
      {"seed", required_argument, NULL, OPT_SEED},     {"item", required_argument, NULL, OPT_ITEM},
      {"split", required_argument, NULL, OPT_SPLIT},
      {"preview", required_argument, NULL, OPT_PREVIEW},
      {"preview-max", required_argument, NULL, OPT_PREVMAX},
      {"dry-run", no_argument, NULL, OPT_DRY},         {"json", no_argument, NULL, OPT_JSON},
      {"quiet", no_argument, NULL, 'q'},               {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},     {NULL, 0, NULL, 0}};
  const char *dataset_opt = NULL, *ops = NULL, *preview = NULL;
  unsigned long long per = 0, seed = 0, prevmax = 50;
  int jobs = 0, dry = 0, json = 0, quiet = 0;
  es_error err = {0};
  int status = ES_EXIT_FAIL, rc;
  char **items = NULL;
  size_t n_items = 0;
  es_aug_spec spec;
  es_store st;
  memset(&st, 0, sizeof st);
  st.dirfd = st.lockfd = -1;

  if (es_cli_parse_jobs("0", &jobs, &err))
    jobs = 1;
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":d:j:qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'd': dataset_opt = optarg; break;
    case 'j':
      if (es_cli_parse_jobs(optarg, &jobs, &err))
        return es_cli_usage_error(prog, usage, "--jobs: %s", err.msg);
      break;
    case OPT_PER:
      if (es_cli_parse_uint(optarg, 1, 1000, &per, &err))
        return es_cli_usage_error(prog, usage, "--per-image: %s", err.msg);
      break;
    case OPT_OPS: ops = optarg; break;
    case OPT_SEED:
      if (es_cli_parse_uint(optarg, 0, (1ULL << 53) - 1, &seed, &err))
        return es_cli_usage_error(prog, usage, "--seed: %s", err.msg);
      break;
    case OPT_ITEM: {
      char **v = realloc(items, (n_items + 1) * sizeof *v);
      if (!v) {
        es_cli_error(prog, "out of memory");
        free(items);
        return ES_EXIT_FAIL;
      }
      items = v;
      items[n_items++] = optarg;
      break;
    }
    case OPT_SPLIT:
      if (strcmp(optarg, "train")) {
        free(items);
        return es_cli_usage_error(prog, usage, "--split '%s': only the train split is "
                                  "augmented (validation and held-out sets never are)",
                                  es_show(optarg));
      }
      break;
    case OPT_PREVIEW: preview = optarg; break;
    case OPT_PREVMAX:
      if (es_cli_parse_uint(optarg, 1, 100000, &prevmax, &err))
        return es_cli_usage_error(prog, usage, "--preview-max: %s", err.msg);
      break;
    case OPT_DRY: dry = 1; break;
    case OPT_JSON: json = 1; break;
    case 'q': quiet = 1; break;
    case 'h':
      free(items);
      return es_cli_help(prog, usage);
    case OPT_VERSION:
      es_cli_version(prog);
      free(items);
      return es_cli_finish(prog, ES_EXIT_OK);
    default:
      free(items);
      return es_cli_bad_option(prog, usage, c, argv);
    }
  }
  if (optind < argc) {
    free(items);
    return es_cli_usage_error(prog, usage, "unexpected argument '%s'", es_show(argv[optind]));
  }
  const char *root = es_cli_dataset(dataset_opt);
  if (!root) {
    free(items);
    return es_cli_usage_error(prog, usage, "no dataset: give -d DIR or set EDGESET_DATASET");
  }
  if (!per || !ops) {
    free(items);
    return es_cli_usage_error(prog, usage, "give --per-image K and --ops SPEC");
  }
  if (es_aug_spec_parse(ops, &spec, &err)) {
    free(items);
    return es_cli_usage_error(prog, usage, "%s", err.msg);
  }

  rc = es_store_open(&st, root, 0, NULL, &err);
  if (rc) {
    status = es_cli_fail(prog, rc, &err);
    goto cleanup;
  }
  if (!dry && (rc = es_cli_lock(prog, &st, 0, quiet, &err))) {
    status = es_cli_fail(prog, rc, &err);
    goto cleanup;
  }
  es_augment_opts o = {
      .per_image = (uint32_t)per,
      .spec = &spec,
      .seed = seed,
      .jobs = jobs,
      .dry_run = dry,
      .items = items,
      .n_items = n_items,
      .preview = preview,
      .preview_max = (size_t)prevmax,
  };
  es_augment_summary sum;
  json_t *problems = NULL;
  rc = es_augment_run(&st, &o, &sum, &problems, &err);
  if (rc) {
    status = es_cli_fail(prog, rc, &err);
    goto cleanup;
  }
  for (size_t i = 0; i < json_array_size(problems); i++) {
    const json_t *p = json_array_get(problems, i);
    es_cli_error(prog, "warning: source '%s' skipped: %s",
                 json_string_value(json_object_get(p, "id")),
                 json_string_value(json_object_get(p, "reason")));
  }
  if (json) {
    json_t *j = es_augment_summary_json(&sum);
    if (j) {
      json_object_set_new(j, "seed", json_integer((json_int_t)seed));
      json_object_set_new(j, "per_image", json_integer((json_int_t)per));
      json_object_set_new(j, "ops", json_string(spec.canon));
      json_object_set_new(j, "problems", problems ? json_incref(problems) : json_array());
      json_object_set_new(j, "dry_run", json_boolean(dry));
      json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
      fputc('\n', stdout);
      json_decref(j);
    }
  } else if (!quiet) {
    printf("augment of %s: %zu train sources (%zu items outside train left alone)\n", es_show(root),
           sum.sources, sum.skipped_not_train);
    printf("  %zu new variants%s, %zu already present, %zu unchanged (no operation fired), "
           "%zu duplicates of existing items\n",
           sum.variants_new, dry ? " (dry run: not written)" : "", sum.variants_existing,
           sum.variants_unchanged, sum.variants_duplicate);
    if (sum.variants_near_held_out)
      printf("  %zu variants dropped: near duplicates of a held-out item\n",
             sum.variants_near_held_out);
    if (sum.sources_unreadable)
      printf("  %zu sources could not be read (see the warnings)\n", sum.sources_unreadable);
    if (preview)
      printf("  contact sheet: %s\n", es_show(preview));
    printf("dataset: %zu items\n", sum.items_total);
  }
  json_decref(problems);
  status = es_cli_finish(prog, ES_EXIT_OK);

cleanup:
  es_store_close(&st);
  free(items);
  return status;
}
