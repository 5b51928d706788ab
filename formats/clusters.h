/* Near-duplicate clusters, derived from the manifest alone: items are visited in the canonical
 * order (sequence of their first batch, then id); each joins the nearest existing
 * representative within the radius, or becomes a representative itself. Because an item is
 * compared with representatives only, clusters never chain, and because the order is canonical
 * the result is the same however and wherever the items were collected. Augmented variants
 * (with `derived_from`) take their source's cluster. */
#ifndef ES_FORMATS_CLUSTERS_H
#define ES_FORMATS_CLUSTERS_H

#include <stddef.h>

#include "core/error.h"
#include "core/near_sig.h"
#include "core/strmap.h"
#include "core/store.h"
#include "formats/manifest.h"
#include "formats/signatures.h"

/* Sets every item's `cluster` under the relation rel: with sigs (sorted; an item without a
 * signature there joins nobody) the two-stage relation
 * (es_near_extend_verified()), without (a version 1 dataset) the phash within rel->radius
 * alone (es_near_selfjoin()). batch_seq maps batch names to their sequence numbers (a batch it
 * does not know sorts last). With `incremental` (and sigs), items whose cluster is set and
 * whose representative represents itself keep it, and only the others (a new batch's items)
 * are placed, after them, against the kept representatives: the cost grows with the new items,
 * not with the dataset. Without, every cluster is derived anew. *n_clusters receives the number
 * of representatives. Uses up to `threads` threads; the result is the same for any number. */
int es_clusters_derive(es_manifest *m, const es_near_rel *rel, const es_sigs *sigs,
                        const es_strmap *batch_seq, int incremental, int threads,
                        size_t *n_clusters, es_error *err);

/* What collect (and merge) do after deciding a run's items: with the dataset's second stage,
 * makes sure every item of m has a signature in sigs (those missing come from the item's bytes,
 * es_sigs_complete(); warn names the items that stay without one, *computed counts those
 * computed), then sets the clusters (es_clusters_derive(), incremental as asked); a version 1
 * dataset is clustered by its phash alone. m must be sorted. */
int es_clusters_update(const es_store *st, es_manifest *m, es_sigs *sigs,
                       const es_strmap *batch_seq, int incremental, int threads,
                       void (*warn)(void *ctx, const char *id, const char *why), void *ctx,
                       size_t *n_clusters, size_t *computed, es_error *err);

#endif
