/* Turning collect's arguments into the list of input files: directories walked (without
 * following symbolic links to directories, and never into the dataset itself), paths sorted
 * bytewise and made unique, and sidecars (<image>.json beside an input) set apart. */
#ifndef ES_COLLECT_INPUTS_INTERNAL_H
#define ES_COLLECT_INPUTS_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"

typedef struct es__input {
  char *path;
  char *error;  /* set when the path could not be walked (an unreadable directory): the reason */
  int sidecar;  /* a "<image>.json" whose image is also an input */
} es__input;

typedef struct es__inputs {
  es__input *v;
  size_t n, cap;
} es__inputs;

/* Gathers the inputs named by paths. Paths that do not exist are kept (they are quarantined as
 * missing). skip_dev/skip_ino name the dataset directory, which is never walked. */
int es__inputs_gather(char *const *paths, size_t n_paths, dev_t skip_dev, ino_t skip_ino,
                      es__inputs *out, es_error *err);
/* The shard of an input path among n: the high 64 bits of the XXH3-128 of the path's bytes (as
 * given, after walking: the first 16 digits `xxhsum -H2` prints), modulo n. */
unsigned es__input_shard(const char *path, unsigned n);
/* Keeps only the inputs of shard k of n; a sidecar goes with its image. */
void es__inputs_keep_shard(es__inputs *in, unsigned k, unsigned n);
void es__inputs_free(es__inputs *in);

#endif
