/* Per-image facts computed from decoded pixels: the 64-bit perceptual hash used for
 * near-duplicate detection and the image statistics stored in the manifest. Both are pure
 * functions of the pixels, computed in integer or fixed-point arithmetic so that every machine
 * gets the same bits. They live in formats/ because two stages compute them: collect (new
 * items) and augment (variants). */
#ifndef ES_FORMATS_FEATURES_H
#define ES_FORMATS_FEATURES_H

#include <stdint.h>

#include "core/error.h"
#include "core/image.h"
#include "core/near_index.h" /* es_phash_distance */
#include "core/near_sig.h"
#include "formats/manifest.h"

/* Computes the phash, stats and near-duplicate signature of img (any size, 1-4 channels; alpha
 * is ignored). Each output may be NULL. */
int es_image_features(const es_image *img, uint64_t *phash, es_stats *stats, es_near_sig *sig,
                      es_error *err);

#endif
