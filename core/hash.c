/* es_xxh3_hex: picks the widest build of XXH3 the CPU runs within the EDGESET_ISA cap
 * (core/cpu.h, core/xxh3_internal.h). */
#include "core/hash.h"
#include "core/cpu.h"

void es__xxh3_hex_generic(const void *a, size_t alen, const void *b, size_t blen, char out[33]);
void es__xxh3_hex_avx2(const void *a, size_t alen, const void *b, size_t blen, char out[33]);
void es__xxh3_hex_avx512(const void *a, size_t alen, const void *b, size_t blen, char out[33]);

void es_xxh3_hex(const void *a, size_t alen, const void *b, size_t blen, char out[33])
{
#if defined(__x86_64__) && defined(__GNUC__)
  if (es_cpu_has(ES_CPU_AVX512F)) {
    es__xxh3_hex_avx512(a, alen, b, blen, out);
    return;
  }
  if (es_cpu_has(ES_CPU_AVX2)) {
    es__xxh3_hex_avx2(a, alen, b, blen, out);
    return;
  }
#endif
  es__xxh3_hex_generic(a, alen, b, blen, out);
}

void es_hash_hex(const void *buf, size_t len, char out[33])
{
  es_xxh3_hex(buf, len, NULL, 0, out);
}
