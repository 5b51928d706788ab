/* RFC 4180 CSV reader and field writer (see csv.h). The reader is a small state machine over
 * bytes; a malformed record is skipped up to the end of its line and marked, never fatal. */
#include "formats/csv.h"

#include <stdlib.h>
#include <string.h>

typedef struct field_buf {
  char *s;
  size_t n, cap;
} field_buf;

static int fb_push(field_buf *b, char c)
{
  if (b->n + 1 >= b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    char *s = realloc(b->s, cap);
    if (!s)
      return -1;
    b->s = s;
    b->cap = cap;
  }
  b->s[b->n++] = c;
  return 0;
}

/* Appends b as the record's next field; past ES_CSV_MAX_FIELDS the record is marked bad and
 * nothing more is kept. The field array grows geometrically (a record of many empty fields is
 * linear, not quadratic). */
static int rec_add_field(es_csv_record *r, size_t *cap, const field_buf *b)
{
  if (r->n == ES_CSV_MAX_FIELDS) {
    if (!r->bad)
      r->bad = "more than " ES_CSV_STR(ES_CSV_MAX_FIELDS) " fields";
    return 0;
  }
  if (r->n == *cap) {
    size_t c = *cap ? *cap * 2 : 4;
    char **f = realloc(r->fields, c * sizeof *f);
    if (!f)
      return -1;
    r->fields = f;
    *cap = c;
  }
  char *s = malloc(b->n + 1);
  if (!s)
    return -1;
  if (b->n)
    memcpy(s, b->s, b->n);
  s[b->n] = '\0';
  r->fields[r->n++] = s;
  return 0;
}

static int csv_push(es_csv *c, es_csv_record *r)
{
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    es_csv_record *v = realloc(c->recs, cap * sizeof *v);
    if (!v)
      return -1;
    c->recs = v;
    c->cap = cap;
  }
  c->recs[c->n++] = *r;
  memset(r, 0, sizeof *r);
  return 0;
}

static void rec_free(es_csv_record *r)
{
  for (size_t i = 0; i < r->n; i++)
    free(r->fields[i]);
  free(r->fields);
  memset(r, 0, sizeof *r);
}

/* Keeps byte c of the current field unless the record already holds ES_CSV_MAX_RECORD bytes
 * of field contents, which marks it bad (its scan goes on, so that line numbers stay right). */
#define KEEP(c)                                                                                 \
  do {                                                                                          \
    if (kept < ES_CSV_MAX_RECORD) {                                                             \
      if (fb_push(&fb, (c)))                                                                    \
        goto nomem;                                                                             \
      kept++;                                                                                   \
    } else if (!rec.bad) {                                                                      \
      rec.bad = "record longer than " ES_CSV_STR(ES_CSV_MAX_RECORD) " bytes";                  \
    }                                                                                           \
  } while (0)

int es_csv_parse(const char *buf, size_t len, es_csv *out, es_error *err)
{
  memset(out, 0, sizeof *out);
  field_buf fb = {0};
  es_csv_record rec = {0};
  size_t i = 0, line = 1, kept, fields_cap;
  if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
    i = 3;
  while (i < len) {
    /* one record */
    rec.line = line;
    kept = 0;
    fields_cap = 0;
    for (;;) {
      /* one field */
      fb.n = 0;
      int quoted = 0;
      if (i < len && buf[i] == '"') {
        quoted = 1;
        i++;
        for (;;) {
          if (i >= len) {
            rec.bad = "unterminated quoted field";
            break;
          }
          char ch = buf[i++];
          if (ch == '"') {
            if (i < len && buf[i] == '"') {
              i++;
              KEEP('"');
              continue;
            }
            break;
          }
          if (ch == '\n')
            line++;
          if (ch == '\0' && !rec.bad)
            rec.bad = "NUL byte in a field";
          KEEP(ch);
        }
        if (i < len && buf[i] != ',' && buf[i] != '\n' && buf[i] != '\r' && !rec.bad)
          rec.bad = "text after a closing quote";
      } else {
        while (i < len && buf[i] != ',' && buf[i] != '\n' && buf[i] != '\r') {
          if (buf[i] == '"' && !rec.bad)
            rec.bad = "quote inside an unquoted field";
          if (buf[i] == '\0' && !rec.bad)
            rec.bad = "NUL byte in a field";
          KEEP(buf[i]);
          i++;
        }
      }
      (void)quoted;
      if (rec_add_field(&rec, &fields_cap, &fb))
        goto nomem;
      if (rec.bad) { /* skip to the end of the line */
        while (i < len && buf[i] != '\n')
          i++;
      }
      if (i < len && buf[i] == ',') {
        i++;
        continue;
      }
      if (i < len && buf[i] == '\r')
        i++;
      if (i < len && buf[i] == '\n')
        i++;
      line++;
      break;
    }
    if (rec.n == 1 && rec.fields[0][0] == '\0' && !rec.bad) {
      rec_free(&rec); /* an empty line */
      continue;
    }
    if (csv_push(out, &rec))
      goto nomem;
  }
  free(fb.s);
  return ES_OK;
nomem:
  free(fb.s);
  rec_free(&rec);
  es_csv_free(out);
  return es_error_set(err, ES_ENOMEM, "out of memory reading CSV");
}

void es_csv_free(es_csv *c)
{
  if (!c)
    return;
  for (size_t i = 0; i < c->n; i++)
    rec_free(&c->recs[i]);
  free(c->recs);
  memset(c, 0, sizeof *c);
}

void es_csv_write_field(FILE *f, const char *s)
{
  size_t n = strlen(s);
  /* A field that starts with a UTF-8 BOM is quoted: as the file's first bytes the reader would
   * take it for the byte-order mark and drop it. */
  int quote = strpbrk(s, ",\"\r\n") != NULL || (n && (s[0] == ' ' || s[n - 1] == ' ')) ||
              !strncmp(s, "\xef\xbb\xbf", 3);
  if (!quote) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"')
      fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}
