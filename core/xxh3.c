/* XXH3-128 for any CPU (see core/xxh3_internal.h). */
#include <stddef.h>
#define ES_XXH3_SUFFIX generic
#include "core/xxh3_internal.h"
