/* XXH3-128 with AVX2 (this file is compiled with -mavx2; core/hash.c calls it only on CPUs
 * that have AVX2). See core/xxh3_internal.h. */
#include <stddef.h>
#define ES_XXH3_SUFFIX avx2
#include "core/xxh3_internal.h"
