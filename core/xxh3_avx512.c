/* XXH3-128 with AVX-512 (this file is compiled with -mavx512f; core/hash.c calls it only on
 * CPUs that have AVX-512 F). See core/xxh3_internal.h. */
#include <stddef.h>
#define ES_XXH3_SUFFIX avx512
#include "core/xxh3_internal.h"
