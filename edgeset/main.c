/* edgeset: the dispatcher. `edgeset <stage> ARGS...` runs `edgeset-<stage> ARGS...`, looked up
 * first beside this executable, then on PATH, the way `git <command>` finds git-<command>. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"

static const char *const stages[] = {"collect", "label", "split", "augment", "eval",
                                     "drift",   "merge", "rm",    "fsck",  "gc"};
#define N_STAGES (sizeof stages / sizeof stages[0])

static void usage(FILE *f)
{
  fprintf(f,
          "usage: edgeset <stage> [ARGS...]\n"
          "       edgeset --help | --version\n\n"
          "Turns edge-camera captures into clean training and test sets and measures an int8\n"
          "model as the microcontroller runs it. Stages:\n"
          "  collect   ingest captures: exact and near duplicates, quarantine, per-image stats\n"
          "  label     attach labels, check class balance\n"
          "  split     reproducible train/val/test splits without leakage\n"
          "  augment   deterministic variants of the training split\n"
          "  eval      run the int8 TFLite model bit-exactly: metrics and HTML report\n"
          "  drift     flag a batch that no longer looks like the reference data\n"
          "  merge     fold the parts of a sharded collect into one dataset, as one collect\n"
          "  rm        remove items for good: objects, records, variants; refused if collected again\n"
          "  fsck      check a dataset (objects, manifest, index, ledger) and repair leftovers\n"
          "  gc        delete objects no item refers to\n\n"
          "'edgeset <stage> --help' describes a stage.\n");
}

int main(int argc, char **argv)
{
  if (argc < 2)
    return es_cli_usage_error("edgeset", "edgeset <stage> [ARGS...]", "no stage given");
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(stdout);
    return es_cli_finish("edgeset", ES_EXIT_OK);
  }
  if (!strcmp(argv[1], "--version")) {
    es_cli_version("edgeset");
    return es_cli_finish("edgeset", ES_EXIT_OK);
  }
  size_t i;
  for (i = 0; i < N_STAGES && strcmp(argv[1], stages[i]); i++) {
  }
  if (i == N_STAGES)
    return es_cli_usage_error("edgeset", "edgeset <stage> [ARGS...]", "'%s' is not a stage",
                              es_show(argv[1]));

  char prog[64];
  snprintf(prog, sizeof prog, "edgeset-%s", argv[1]);
  argv[1] = prog;

  /* Beside this executable first, so a build tree runs its own stages. */
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash && (size_t)(slash - self) + 1 + strlen(prog) < sizeof self) {
      strcpy(slash + 1, prog);
      if (access(self, X_OK) == 0) {
        execv(self, argv + 1);
        es_cli_error("edgeset", "cannot run '%s': %s", es_show(self), strerror(errno));
        return ES_EXIT_FAIL;
      }
    }
  }
  execvp(prog, argv + 1);
  if (errno == ENOENT)
    es_cli_error("edgeset", "'%s' is not installed yet (no %s beside edgeset or on PATH)",
                 argv[1] + 8, prog);
  else
    es_cli_error("edgeset", "cannot run '%s': %s", prog, strerror(errno));
  return ES_EXIT_FAIL;
}
