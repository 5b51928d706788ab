/* Synthetic int8 models with the standard architectures, built with the project's TFLite
 * writer and random weights (per-channel filter scales, ReLU6 where the architecture has it),
 * for bench_nn and the differential tests of the kernel variants:
 *   "mobilenet_v2"      MobileNetV2 1.0 at 224x224x3, 1000 classes (300 M MACs)
 *   "resnet8"           ResNet-8 for 32x32x3 (MLPerf Tiny's image classification), 10 classes
 *   "mobilenet_v1_025"  MobileNetV1 0.25 at 96x96x3 (visual wake words), 2 classes
 * Activations keep scale 1/32 and zero point 0 (-128 after a ReLU6), filters are scaled to
 * their fan-in, so values stay spread over the int8 range through the network. */
#ifndef ES_TEST_NN_ARCH_H
#define ES_TEST_NN_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* The model's bytes (caller frees) or NULL with err set (an unknown name is ES_EUSAGE). */
uint8_t *nn_arch_build(const char *name, uint64_t seed, size_t *len, es_error *err);

/* The names above, NULL-terminated. */
extern const char *const nn_arch_names[];

#endif
