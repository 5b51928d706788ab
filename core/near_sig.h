/* The near-duplicate relation (docs/near-duplicates.md): two pictures are the same scene when
 * their 64-bit phashes are within a candidate radius (stage 1, found through the hash index)
 * AND their signatures correlate after a small alignment search (stage 2). A signature is the
 * picture's 32x32 luma (exact area means, the phash's own input) and the size of the picture it
 * came from; stage 2 is integer arithmetic only, so every machine gives the same answer. */
#ifndef ES_CORE_NEAR_SIG_H
#define ES_CORE_NEAR_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define ES_SIG_SIDE 32
#define ES_SIG_PIXELS (ES_SIG_SIDE * ES_SIG_SIDE)

typedef struct es_near_sig {
  uint8_t px[ES_SIG_PIXELS]; /* luma, row-major, each the area mean of 1/32 x 1/32 of the picture */
  uint16_t side;             /* the picture's smaller side in pixels (65535 when larger); 0:
                                no signature (its bytes could not be read): related to nothing */
} es_near_sig;

/* The relation's parameters, fixed in edgeset.json when a dataset is created. Scores are in
 * thousandths of a correlation coefficient. A pair's threshold depends on its smaller picture:
 * score_small at sides <= ES_NEAR_SMALL_SIDE, score_large at sides >= ES_NEAR_LARGE_SIDE,
 * linear in between (a 28x28 picture holds too little to allow the geometric slack that a
 * cropped photo needs). */
#define ES_NEAR_SMALL_SIDE 32
#define ES_NEAR_LARGE_SIDE 128
typedef struct es_near_rel {
  unsigned radius;      /* stage 1: phash candidate radius (0..32) */
  unsigned score_large; /* stage 2 thresholds, 0..1000 */
  unsigned score_small;
} es_near_rel;

/* The threshold (thousandths) for a pair of pictures whose smaller sides are sa and sb. */
unsigned es_near_threshold(const es_near_rel *rel, unsigned sa, unsigned sb);

/* Stage 2: is the best correlation of a and b over the alignment search (either picture's
 * centre against the other's, shifted by up to 2/32 of its size and scaled by 15/16..17/16 on
 * each axis) at least `milli` thousandths? Symmetric; integer arithmetic only. */
int es_near_sig_match(const es_near_sig *a, const es_near_sig *b, unsigned milli);

/* The best correlation the search finds (both directions), for reports and tests. */
double es_near_sig_score(const es_near_sig *a, const es_near_sig *b);

/* The whole relation for two items: phash distance within rel->radius and stage 2. */
int es_near_related(const es_near_rel *rel, uint64_t ha, const es_near_sig *a, uint64_t hb,
                    const es_near_sig *b);

/* Counters of a relation run (self-join or join), for reports and benchmarks. */
typedef struct es_near_counts {
  uint64_t candidates; /* pairs within the radius whose signatures were compared */
  uint64_t verified;   /* of those, pairs stage 2 accepted */
  uint64_t searched;   /* of those, pairs the alignment search had to decide */
} es_near_counts;

/* The near-duplicate self-join with verification: each of items 0..n-1 in order joins the
 * nearest earlier representative (smallest phash distance, ties to the earliest) that it is
 * related to, or becomes a representative. Clusters do not chain: an item is compared with
 * representatives only. assign[i] is the position of i's representative (i for one); *n_reps
 * their count; counts (when not NULL) are increased. Uses up to `threads` threads; the result
 * does not depend on their number. */
int es_near_selfjoin_verified(const uint64_t *h, const es_near_sig *sig, size_t n,
                              const es_near_rel *rel, int threads, uint32_t *assign,
                              size_t *n_reps, es_near_counts *counts, es_error *err);

/* The same join continued: items 0..n_fixed-1 were decided before (assign[] holds their
 * assignment, and only those with assign[i] == i, the representatives, matter: they are
 * indexed without being compared with anything); items n_fixed..n-1 are then placed as the
 * self-join would, against those representatives and each other. The work grows with
 * n - n_fixed and the candidates it meets, not with n_fixed (but for indexing the
 * representatives). sig[] points to each item's signature (only the representatives' among
 * 0..n_fixed-1 are read). */
int es_near_extend_verified(const uint64_t *h, const es_near_sig *const *sig, size_t n,
                            size_t n_fixed,
                            const es_near_rel *rel, int threads, uint32_t *assign,
                            size_t *n_reps, es_near_counts *counts, es_error *err);

#endif
