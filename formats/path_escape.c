/* Path escaping for the manifest's JSON (formats/path_escape.h). */
#include "formats/path_escape.h"
#include "formats/manifest_internal.h"

#include "core/json.h"
#include "core/show.h"
#include "formats/labels.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- path escaping ---------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (1 to 4), or 0 when s[0] does not start one
 * (a stray continuation byte, an overlong form, a surrogate, a code point above U+10FFFF or a
 * truncated sequence). s is NUL-terminated, and NUL is never a continuation byte, so reading
 * stops in time. These are exactly the strings jansson accepts. */
size_t es__path_utf8_len(const uint8_t *s)
{
  uint8_t b = s[0];
  if (b < 0x80)
    return 1;
  uint8_t lo = 0x80, hi = 0xbf;
  size_t n;
  if (b >= 0xc2 && b <= 0xdf)
    n = 2;
  else if (b >= 0xe0 && b <= 0xef) {
    n = 3;
    if (b == 0xe0)
      lo = 0xa0; /* overlong */
    else if (b == 0xed)
      hi = 0x9f; /* surrogates */
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4;
    if (b == 0xf0)
      lo = 0x90; /* overlong */
    else if (b == 0xf4)
      hi = 0x8f; /* above U+10FFFF */
  } else
    return 0;
  if (s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xbf)
      return 0;
  return n;
}

char *es_path_escape(const char *raw, es_error *err)
{
  if (!raw) {
    es_error_set(err, ES_EINTERNAL, "no path to escape");
    return NULL;
  }
  size_t len = strlen(raw);
  if (len > (SIZE_MAX - 1) / 4) {
    es_error_set(err, ES_ENOMEM, "path too long to escape");
    return NULL;
  }
  char *out = malloc(len * 4 + 1);
  if (!out) {
    es_error_set(err, ES_ENOMEM, "out of memory");
    return NULL;
  }
  static const char hex[] = "0123456789abcdef";
  const uint8_t *s = (const uint8_t *)raw;
  char *o = out;
  while (*s) {
    if (*s == '\\') {
      *o++ = '\\';
      *o++ = '\\';
      s++;
      continue;
    }
    size_t n = es__path_utf8_len(s);
    if (n == 0) {
      *o++ = '\\';
      *o++ = 'x';
      *o++ = hex[*s >> 4];
      *o++ = hex[*s & 15];
      s++;
      continue;
    }
    memcpy(o, s, n);
    o += n;
    s += n;
  }
  *o = '\0';
  return out;
}

int es__path_hex_value(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

char *es_path_unescape(const char *escaped, es_error *err)
{
  if (!escaped) {
    es_error_set(err, ES_EINTERNAL, "no path to unescape");
    return NULL;
  }
  char *out = malloc(strlen(escaped) + 1), *check = NULL;
  if (!out) {
    es_error_set(err, ES_ENOMEM, "out of memory");
    return NULL;
  }
  const char *s = escaped, *why = NULL;
  char *o = out;
  while (*s && !why) {
    if (*s != '\\') {
      *o++ = *s++;
      continue;
    }
    if (s[1] == '\\') {
      *o++ = '\\';
      s += 2;
    } else if (s[1] == 'x') {
      int h = es__path_hex_value(s[2]), l = h < 0 ? -1 : es__path_hex_value(s[3]);
      if (h < 0 || l < 0)
        why = "\\x not followed by two lowercase hex digits";
      else if (h == 0 && l == 0)
        why = "\\x00 (paths cannot hold NUL)";
      else {
        *o++ = (char)(h << 4 | l);
        s += 4;
      }
    } else {
      why = "a backslash not followed by a backslash or x";
    }
  }
  *o = '\0';
  /* Only the form es_path_escape() writes is accepted, so that a path has one spelling and
   * paths compare equal exactly when their escaped strings do. */
  if (!why) {
    check = es_path_escape(out, err);
    if (!check) {
      free(out);
      return NULL;
    }
    if (strcmp(check, escaped) != 0)
      why = "an escape of bytes that are valid UTF-8 (they must be written as they are)";
  }
  free(check);
  if (why) {
    es_error_set(err, ES_EFORMAT, "bad path '%s': %s", escaped, why);
    free(out);
    return NULL;
  }
  return out;
}
