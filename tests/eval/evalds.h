/* Helpers for the dataset-evaluation tests: tiny models from the TFLite writer (colour-channel
 * classifiers with or without softmax), coloured PPM pictures, a dataset built with
 * edgeset-collect whose labels and splits are then set by editing the manifest, and running
 * edgeset-eval. */
#ifndef ES_TESTS_EVALDS_H
#define ES_TESTS_EVALDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "dsutil.h" /* du_fmt, du_mkdirs, du_run, du_slurp, du_put, du_item_by_src */

/* Writes a model file: output k = mean of channel k (k < classes <= 3) of a 4x4x3 input;
 * `bias` is added to channel 0's weight (a different model with a different hash); with
 * softmax a SOFTMAX follows. Returns the path (caller frees). */
char *ed_model(const char *dir, const char *name, int classes, bool softmax, int bias);
/* A 16x16 PPM whose mean colour is roughly (r, g, b), with a seeded texture so that no two
 * pictures are pixel-identical. */
void ed_ppm(const char *path, int r, int g, int b, unsigned seed);
/* The manifest as an array; and writing it back (one object per line, removing index.bin). */
json_t *ed_manifest(const char *ds);
void ed_manifest_write(const char *ds, json_t *items);

#endif
