/* edgeset rm: removes items from a dataset for good (docs/rm.md, docs/lifecycle.md). */
#ifndef ES_RM_H
#define ES_RM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/store.h"

typedef struct es_rm_select {
  char **names;   /* ids, or object paths ending in "<id>.<ext>" */
  size_t n_names;
  const char *device;      /* items with an occurrence from this device ... */
  const char *from, *to;   /* ... captured in [from, to] (ISO 8601; either may be NULL) */
  const char *batch;       /* items with an occurrence in this batch */
  const char *label;       /* items with this label */
} es_rm_select;

typedef struct es_rm_summary {
  size_t selected;         /* items the selectors chose */
  size_t variants;         /* augmented variants of them, removed with them */
  size_t pending;          /* items a killed rm had tombstoned, removed now */
  size_t removed;          /* items removed from the manifest */
  size_t objects_deleted;
  uint64_t bytes_deleted;
  size_t quarantine_dropped;
  size_t reports_deleted;
  json_t *ids;             /* the removed items' ids (array, new reference) */
  json_t *unknown;         /* names that matched no item (array) */
} es_rm_summary;

/* Removes the selected items (and their augmented variants), completing what an earlier,
 * killed rm left: tombstones first (the removed content's hashes), quarantine records of the
 * items, the manifest (one commit, with signatures and index, and a ledger record with the ids
 * and reason), then the objects and the reports that show them. st must be locked exclusively.
 * With dry_run only *sum is filled. */
int es_rm_run(es_store *st, const es_rm_select *sel, const char *reason, int dry_run,
              es_rm_summary *sum, es_error *err);
void es_rm_summary_free(es_rm_summary *sum);

#endif
