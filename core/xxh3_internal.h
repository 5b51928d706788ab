/* The XXH3-128 functions of core/hash.c, compiled once per instruction set: core/xxh3.c for
 * any x86-64 (SSE2) or other CPU, core/xxh3_avx2.c with -mavx2, core/xxh3_avx512.c with
 * -mavx512f. xxHash's one definition of the hash makes all give the same bits; only the speed
 * differs (the shared library Debian ships is built for SSE2, and hashing every decoded image is
 * on collect's hot path).
 * Include after defining ES_XXH3_SUFFIX. */
#define XXH_INLINE_ALL
#include <stdio.h>
#include <xxhash.h>

#define ES_XXH3_CAT2(a, b) a##b
#define ES_XXH3_CAT(a, b) ES_XXH3_CAT2(a, b)
#define ES_XXH3_FN(name) ES_XXH3_CAT(name, ES_XXH3_SUFFIX)

static void hex_of(XXH128_hash_t h, char out[33])
{
  snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64,
           (unsigned long long)h.low64);
}

void ES_XXH3_FN(es__xxh3_hex_)(const void *a, size_t alen, const void *b, size_t blen,
                               char out[33]);
void ES_XXH3_FN(es__xxh3_hex_)(const void *a, size_t alen, const void *b, size_t blen,
                               char out[33])
{
  if (!b) {
    hex_of(XXH3_128bits(a, alen), out);
    return;
  }
  XXH3_state_t st;
  XXH3_INITSTATE(&st);
  XXH3_128bits_reset(&st);
  XXH3_128bits_update(&st, a, alen);
  XXH3_128bits_update(&st, b, blen);
  hex_of(XXH3_128bits_digest(&st), out);
}
