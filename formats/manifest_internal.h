/* Helpers shared by the files of the manifest (formats/manifest*.c, formats/path_escape.c). */
#ifndef ES_FORMATS_MANIFEST_INTERNAL_H
#define ES_FORMATS_MANIFEST_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/manifest.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(ES_FLOAT_DIGITS))

/* formats/manifest.c */

int es__manifest_is_id(const char *s);

int es__manifest_is_known_key(const char *k);

int es__manifest_is_lower_hex_n(const char *s, size_t n);

/* A copy of v with object keys sorted at every level and reals canonical; NULL when out of
 * memory. */
json_t *es__manifest_canonical_copy(const json_t *v);

int es__manifest_cmp_cstr(const void *a, const void *b);

/* formats/path_escape.c */

/* Length of the well-formed UTF-8 sequence at s (1 to 4), or 0 when s[0] does not start one
 * (a stray continuation byte, an overlong form, a surrogate, a code point above U+10FFFF or a
 * truncated sequence). s is NUL-terminated, and NUL is never a continuation byte, so reading
 * stops in time. These are exactly the strings jansson accepts. */
size_t es__path_utf8_len(const uint8_t *s);

int es__path_hex_value(char c);

#endif
