/* Showing outside values in diagnostics and summaries: escaped and cut (see show.h). */
#include "core/show.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 when there is none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
  unsigned char c = s[0];
  size_t len;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2;
  else if (c >= 0xe0 && c <= 0xef)
    len = 3;
  else if (c >= 0xf0 && c <= 0xf4)
    len = 4;
  else
    return 0;
  if (n < len)
    return 0;
  for (size_t k = 1; k < len; k++)
    if ((s[k] & 0xc0) != 0x80)
      return 0;
  if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) || (c == 0xf0 && s[1] < 0x90) ||
      (c == 0xf4 && s[1] >= 0x90))
    return 0; /* overlong, surrogate, above U+10FFFF */
  return len;
}

/* How the bytes at s are shown: *len bytes of s are taken; returns 1 when they are escaped
 * (\xHH each), 0 when copied. */
static int classify(const unsigned char *s, size_t n, size_t *len)
{
  if (s[0] < 0x20 || s[0] == 0x7f) {
    *len = 1;
    return 1;
  }
  size_t l = utf8_seq(s, n);
  if (!l) {
    *len = 1;
    return 1;
  }
  *len = l;
  return l == 2 && s[0] == 0xc2 && s[1] <= 0x9f; /* C1 control */
}

/* es_show_to() for n bytes of a value of total bytes (total >= n; the rest counts as left out). */
static size_t show_to(char *out, size_t cap, const char *s, size_t n, size_t total, size_t max,
                      size_t *cut)
{
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s;
  if (cap < 48) { /* too small to promise anything but a terminator */
    if (cap)
      out[0] = '\0';
    if (cut)
      *cut = total;
    return 0;
  }
  if (max > cap - 48)
    max = cap - 48;
  size_t o = 0, i = 0;
  while (i < n) {
    size_t len;
    int esc = classify(p + i, n - i, &len);
    size_t need = esc ? 4 * len : len;
    if (o + need > max)
      break;
    for (size_t k = 0; k < len; k++) {
      if (esc) {
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = hex[p[i + k] >> 4];
        out[o++] = hex[p[i + k] & 15];
      } else {
        out[o++] = (char)p[i + k];
      }
    }
    i += len;
  }
  size_t left = total - i;
  if (left) {
    int w = snprintf(out + o, cap - o, "... (%zu more byte%s)", left, left == 1 ? "" : "s");
    o += w > 0 ? (size_t)w : 0;
  } else {
    out[o] = '\0';
  }
  if (cut)
    *cut = left;
  return o;
}

size_t es_show_to(char *out, size_t cap, const char *s, size_t n, size_t max, size_t *cut)
{
  return show_to(out, cap, s, n, n, max, cut);
}

size_t es_show_vline(char *out, size_t cap, const char *fmt, va_list ap)
{
  /* Every byte of text yields at least one byte of shown text, so raw text of twice the shown
   * limit is never exhausted before the limit is reached; vsnprintf tells the full length. */
  char raw[2 * ES_SHOW_LINE_MAX];
  int n = vsnprintf(raw, sizeof raw, fmt, ap);
  if (n < 0) {
    n = 0;
    raw[0] = '\0';
  }
  size_t have = (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1;
  return show_to(out, cap, raw, have, (size_t)n, ES_SHOW_LINE_MAX, NULL);
}

void es_show_line(FILE *f, const char *fmt, ...)
{
  char shown[ES_SHOW_LINE_MAX + 48];
  va_list ap;
  va_start(ap, fmt);
  es_show_vline(shown, sizeof shown, fmt, ap);
  va_end(ap);
  fputs(shown, f);
  fputc('\n', f);
}

const char *es_show_n(const char *s, size_t n)
{
  static _Thread_local char bufs[8][ES_SHOW_BUF];
  static _Thread_local unsigned next;
  char *b = bufs[next++ % 8];
  es_show_to(b, sizeof bufs[0], s, n, ES_SHOW_MAX, NULL);
  return b;
}

const char *es_show(const char *s)
{
  if (!s)
    return "(null)";
  return es_show_n(s, strlen(s));
}

int es_show_is_plain(const char *s)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  if (n > ES_SHOW_MAX)
    return 0;
  for (size_t i = 0; i < n;) {
    size_t len;
    if (classify(p + i, n - i, &len))
      return 0;
    i += len;
  }
  return 1;
}
