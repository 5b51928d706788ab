/* What is under DATASET/objects/ against what the manifest refers to: the listing fsck checks
 * and the unreferenced objects gc deletes (docs/lifecycle.md). The folders are listed on several
 * threads (a cold listing waits on the disk), and a file's kind comes from its directory entry,
 * so no object is opened or stat'ed. */
#ifndef ES_FORMATS_OBJECTS_LIST_H
#define ES_FORMATS_OBJECTS_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/store.h"
#include "formats/manifest.h"

/* Threads per --jobs for work that waits on the disk (listing folders, reading objects). */
#define ES_IO_THREADS_PER_JOB 8

typedef struct es_objects_list {
  char **paths;        /* "objects/ab/NAME" (a stray entry in objects/: "objects/NAME") */
  uint8_t *regular;    /* a regular file */
  size_t n, cap;
  size_t *item;        /* manifest item i -> its entry, or SIZE_MAX when it has none */
  uint8_t *referenced; /* entry -> some item refers to it */
  int exists;          /* objects/ exists */
} es_objects_list;

/* Lists objects/ on `threads` threads and matches the items of m to it. Free with
 * es_objects_list_free() (also after a failure). */
int es_objects_list_build(const es_store *st, const es_manifest *m, int threads,
                          es_objects_list *L, es_error *err);
void es_objects_list_free(es_objects_list *L);

/* The regular files no item refers to, in name order, with their sizes (caller frees each
 * path and both arrays). */
int es_objects_list_orphans(const es_store *st, const es_objects_list *L, char ***paths,
                            uint64_t **sizes, size_t *n, es_error *err);

/* Both in one: the unreferenced objects of the dataset whose manifest is m. */
int es_objects_orphans(const es_store *st, const es_manifest *m, char ***paths,
                       uint64_t **sizes, size_t *n, es_error *err);

#endif
