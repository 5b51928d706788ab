/* XXH3-128 as 32 lowercase hex digits (the high 64 bits, then the low 64 bits: the canonical
 * form `xxhsum -H2` prints), with the fastest code this CPU runs. The ids of objects and the
 * `pixels` of items are made with it. */
#ifndef ES_HASH_H
#define ES_HASH_H

#include <stddef.h>

/* The hash of a (alen bytes) followed by b (blen bytes; b may be NULL for none). */
void es_xxh3_hex(const void *a, size_t alen, const void *b, size_t blen, char out[33]);

/* The XXH3-128 of buf as 32 lowercase hex digits plus NUL: the high 64 bits then the low 64
 * bits, each as 16 digits (the canonical big-endian form `xxhsum -H2` prints). */
void es_hash_hex(const void *buf, size_t len, char out[33]);

#endif
