/* CSV as RFC 4180 describes it: fields separated by commas, records by CRLF or LF, a field that
 * holds a comma, a quote, CR or LF is enclosed in double quotes and its quotes are doubled.
 * The reader takes bytes (no path I/O) and reports malformed records by line number instead of
 * stopping, so a caller can list every bad line at once. The writer quotes exactly the fields
 * that need it. */
#ifndef ES_FORMATS_CSV_H
#define ES_FORMATS_CSV_H

#include <stdio.h>
#include <stddef.h>

#include "core/error.h"

/* Limits of one record, so that a hostile file costs memory in proportion to what a label file
 * needs and not to its size (a 21 MB line of commas would otherwise be 21 million fields).
 * A record past either is kept as malformed (`bad` says which) with what was read up to the
 * limit; the scan goes on to the record's end, so the next record and every line number are
 * still right. The record length counts the bytes of its fields' contents (quotes, separators
 * and line ends not included), so a record written back by es_csv_write_field() has the same. */
#define ES_CSV_MAX_FIELDS 256    /* fields per record */
#define ES_CSV_MAX_RECORD 65536  /* bytes of field contents per record */
#define ES_CSV_STR_(x) #x
#define ES_CSV_STR(x) ES_CSV_STR_(x)

typedef struct es_csv_record {
  char **fields;  /* NUL-terminated copies; a field with a NUL byte is reported as malformed */
  size_t n;
  size_t line;    /* 1-based line on which the record starts */
  const char *bad; /* NULL, or why the record is malformed (a static string) */
} es_csv_record;

typedef struct es_csv {
  es_csv_record *recs;
  size_t n, cap;
} es_csv;

/* Parses buf into records (an empty last line gives no record; a UTF-8 BOM is skipped).
 * Malformed records (a quote inside an unquoted field, text after a closing quote, an
 * unterminated quoted field, a NUL byte, more than ES_CSV_MAX_FIELDS fields, more than
 * ES_CSV_MAX_RECORD bytes) are kept with `bad` set. ES_ENOMEM only on no memory.
 * Free with es_csv_free() (NULL-safe). */
int es_csv_parse(const char *buf, size_t len, es_csv *out, es_error *err);
void es_csv_free(es_csv *c);

/* Writes s as one CSV field, quoted when it contains a comma, quote, CR or LF, starts or ends
 * with a space, or starts with a UTF-8 BOM. */
void es_csv_write_field(FILE *f, const char *s);

#endif
