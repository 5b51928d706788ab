/* labels.txt: class names and the vocabulary file (moved here from label/ so that every stage
 * that reads labels.txt parses it the same way), and the problem list that lets a program
 * report every bad line at once. */
#include "formats/labels.h"

#include "core/show.h"
#include "core/strmap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void es_label_problems_free(es_label_problems *p)
{
  if (!p)
    return;
  for (size_t i = 0; i < p->n; i++)
    free(p->msg[i]);
  free(p->msg);
  memset(p, 0, sizeof *p);
}

int es_label_problems_add(es_label_problems *p, es_error *err, const char *fmt, ...)
{
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    char **v = realloc(p->msg, cap * sizeof *v);
    if (!v)
      return es_error_set(err, ES_ENOMEM, "out of memory");
    p->msg = v;
    p->cap = cap;
  }
  char *s = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  p->msg[p->n++] = s;
  return ES_OK;
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
{
  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    return (s[1] & 0xc0) == 0x80 ? 2 : 0;
  if (s[0] >= 0xe0 && s[0] <= 0xef) {
    if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
      return 0;
    if (s[0] == 0xe0 && s[1] < 0xa0)
      return 0;
    if (s[0] == 0xed && s[1] >= 0xa0)
      return 0;
    return 3;
  }
  if (s[0] >= 0xf0 && s[0] <= 0xf4) {
    if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
      return 0;
    if (s[0] == 0xf0 && s[1] < 0x90)
      return 0;
    if (s[0] == 0xf4 && s[1] >= 0x90)
      return 0;
    return 4;
  }
  return 0;
}

const char *es_label_invalid(const char *s)
{
  size_t n = strlen(s);
  if (n == 0)
    return "empty label";
  if (n > 255)
    return "label longer than 255 bytes";
  if (!strcmp(s, ".") || !strcmp(s, ".."))
    return "'.' and '..' are not labels";
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    if (*p == '/')
      return "label contains '/'";
    if (*p < 0x20 || *p == 0x7f)
      return "label contains a control character";
    if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
      return "label contains a control character";
    size_t l = utf8_len(p);
    if (!l)
      return "label is not valid UTF-8";
    p += l;
  }
  if (s[0] == ' ' || s[n - 1] == ' ')
    return "label starts or ends with a space";
  return NULL;
}

long es_vocab_find(const es_vocab *v, const char *name)
{
  for (size_t i = 0; i < v->n; i++)
    if (!strcmp(v->names[i], name))
      return (long)i;
  return -1;
}

void es_vocab_free(es_vocab *v)
{
  if (!v)
    return;
  for (size_t i = 0; i < v->n; i++)
    free(v->names[i]);
  free(v->names);
  memset(v, 0, sizeof *v);
}

int es_vocab_parse(const char *name, const char *buf, size_t len, es_vocab *v,
                   es_label_problems *probs, es_error *err)
{
  memset(v, 0, sizeof *v);
  size_t nprob = probs->n, line = 0, i = 0, cap = 0;
  int rc;
  es_strmap seen = {0}; /* duplicates found in linear time: a hostile file may have 10^6 lines */
  while (i < len) {
    line++;
    const char *e = memchr(buf + i, '\n', len - i);
    size_t l = e ? (size_t)(e - (buf + i)) : len - i;
    size_t next = i + l + (e ? 1 : 0);
    if (l && buf[i + l - 1] == '\r')
      l--;
    char *s = malloc(l + 1);
    if (!s) {
      es_vocab_free(v);
      es_strmap_free(&seen);
      return es_error_set(err, ES_ENOMEM, "out of memory");
    }
    memcpy(s, buf + i, l);
    s[l] = '\0';
    i = next;
    const char *why = NULL;
    if (strlen(s) != l)
      why = "NUL byte";
    else if (!(why = es_label_invalid(s)) && es_strmap_get(&seen, s, NULL))
      why = "duplicate class";
    if (why) {
      rc = es_label_problems_add(probs, err, "'%s' line %zu: %s", es_show(name), line, why);
      free(s);
      if (rc) {
        es_vocab_free(v);
        es_strmap_free(&seen);
        return rc;
      }
      continue;
    }
    if (v->n == cap) {
      size_t c = cap ? 2 * cap : 16;
      char **nv = realloc(v->names, c * sizeof *nv);
      if (!nv) {
        free(s);
        es_vocab_free(v);
        es_strmap_free(&seen);
        return es_error_set(err, ES_ENOMEM, "out of memory");
      }
      v->names = nv;
      cap = c;
    }
    v->names[v->n++] = s;
    if ((rc = es_strmap_put(&seen, s, v->n - 1, err))) {
      es_vocab_free(v);
      es_strmap_free(&seen);
      return rc;
    }
  }
  es_strmap_free(&seen);
  if (probs->n > nprob) {
    es_vocab_free(v);
    return es_error_set(err, ES_EUSAGE, "'%s': %zu bad lines", es_show(name), probs->n - nprob);
  }
  return ES_OK;
}

char *es_vocab_serialize(const es_vocab *v, size_t *len, es_error *err)
{
  size_t n = 0;
  for (size_t i = 0; i < v->n; i++)
    n += strlen(v->names[i]) + 1;
  char *b = malloc(n + 1), *p = b;
  if (!b) {
    es_error_set(err, ES_ENOMEM, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < v->n; i++) {
    size_t l = strlen(v->names[i]);
    memcpy(p, v->names[i], l);
    p[l] = '\n';
    p += l + 1;
  }
  *p = '\0';
  *len = n;
  return b;
}
