/* Near-duplicate clusters, derived from the manifest alone: items are visited in the canonical
 * order (sequence of their first batch, then id); each joins the nearest existing
 * representative within the radius, or becomes a representative itself. Because an item is
 * compared with representatives only, clusters never chain, and because the order is canonical
 * the result is the same however and wherever the items were collected. Augmented variants
 * (with `derived_from`) take their source's cluster. */
#ifndef ES_COLLECT_CLUSTER_INTERNAL_H
#define ES_COLLECT_CLUSTER_INTERNAL_H

#include <stddef.h>

#include "core/error.h"
#include "core/near_sig.h"
#include "core/strmap.h"
#include "formats/manifest.h"

/* Sets every item's `cluster` under the relation rel: with sigs (one per item of m, in m's
 * order; side 0 for an item without one, which then joins nobody) the two-stage relation
 * (es_near_selfjoin_verified()), without (a version 1 dataset) the phash within rel->radius
 * alone (es_near_selfjoin()). batch_seq maps batch names to their sequence numbers (a batch it
 * does not know sorts last). *n_clusters receives the number of representatives. Uses up to
 * `threads` threads; the result is the same for any number. */
int es__clusters_derive(es_manifest *m, const es_near_rel *rel, const es_near_sig *sigs,
                        const es_strmap *batch_seq, int threads, size_t *n_clusters,
                        es_error *err);

#endif
