/* The CSV reader's limits (formats/csv.h): a record with more than ES_CSV_MAX_FIELDS fields or
 * more than ES_CSV_MAX_RECORD bytes of field contents is kept as malformed, with bounded memory,
 * and the records after it are read as before, on the right lines. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "formats/csv.h"

static long max_rss_kb(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* The case of the report: a 21 MB line of commas was 21 million fields, 842 MB and 5.8 s. */
Test(csv_limits, a_line_of_commas_is_one_bad_record)
{
  size_t n = 21 * 1000 * 1000;
  char *buf = malloc(n + 32);
  memset(buf, ',', n);
  memcpy(buf + n, "\nkey,label\n", 11);
  long before = max_rss_kb();
  es_csv c;
  es_error err = {0};
  cr_assert_eq(es_csv_parse(buf, n + 11, &c, &err), ES_OK);
  long grown = max_rss_kb() - before;
  cr_assert_eq(c.n, 2);
  cr_assert_str_eq(c.recs[0].bad, "more than 256 fields");
  cr_assert_eq(c.recs[0].n, ES_CSV_MAX_FIELDS);
  cr_assert_eq(c.recs[0].line, 1);
  cr_assert_null(c.recs[1].bad);
  cr_assert_eq(c.recs[1].line, 2);
  cr_assert_str_eq(c.recs[1].fields[1], "label");
  cr_assert_lt(grown, 16 * 1024, "parsing took %ld KB more", grown);
  es_csv_free(&c);
  free(buf);
}

Test(csv_limits, field_count_limit_is_exact)
{
  char *buf = malloc(2 * (ES_CSV_MAX_FIELDS + 1) + 8);
  size_t k = 0;
  for (int i = 0; i < ES_CSV_MAX_FIELDS; i++) {
    buf[k++] = 'f';
    buf[k++] = i + 1 < ES_CSV_MAX_FIELDS ? ',' : '\n';
  }
  es_csv c;
  es_error err = {0};
  cr_assert_eq(es_csv_parse(buf, k, &c, &err), ES_OK);
  cr_assert_eq(c.n, 1);
  cr_assert_null(c.recs[0].bad, "256 fields are allowed");
  cr_assert_eq(c.recs[0].n, ES_CSV_MAX_FIELDS);
  es_csv_free(&c);
  buf[k - 1] = ',';
  buf[k++] = 'g';
  buf[k++] = '\n';
  cr_assert_eq(es_csv_parse(buf, k, &c, &err), ES_OK);
  cr_assert_eq(c.n, 1);
  cr_assert_str_eq(c.recs[0].bad, "more than 256 fields");
  es_csv_free(&c);
  free(buf);
}

Test(csv_limits, record_length_limit)
{
  /* exactly the limit of field contents (quotes and separators do not count) */
  size_t half = ES_CSV_MAX_RECORD / 2;
  char *buf = malloc(4 * ES_CSV_MAX_RECORD);
  size_t k = 0;
  buf[k++] = '"';
  memset(buf + k, 'p', half - 1);
  k += half - 1;
  buf[k++] = '"';
  buf[k++] = '"'; /* a doubled quote: one byte of contents */
  buf[k++] = '"';
  buf[k++] = ',';
  memset(buf + k, 'l', half);
  k += half;
  buf[k++] = '\n';
  es_csv c;
  es_error err = {0};
  cr_assert_eq(es_csv_parse(buf, k, &c, &err), ES_OK);
  cr_assert_eq(c.n, 1);
  cr_assert_null(c.recs[0].bad, "%s", c.recs[0].bad);
  cr_assert_eq(strlen(c.recs[0].fields[0]), half);
  es_csv_free(&c);
  /* one byte more, in a quoted field spanning lines: bad, and the next record is on line 4 */
  k--;
  const char *tail = "x\n\"a\nb\"\nkey,label\n";
  memcpy(buf + k, tail, strlen(tail));
  k += strlen(tail);
  cr_assert_eq(es_csv_parse(buf, k, &c, &err), ES_OK);
  cr_assert_eq(c.n, 3);
  cr_assert_str_eq(c.recs[0].bad, "record longer than 65536 bytes");
  cr_assert_eq(c.recs[1].line, 2);
  cr_assert_str_eq(c.recs[1].fields[0], "a\nb");
  cr_assert_eq(c.recs[2].line, 4);
  cr_assert_null(c.recs[2].bad);
  es_csv_free(&c);
  /* an unterminated quoted field of 1 MB keeps at most the limit */
  free(buf);
  size_t big = 1000 * 1000;
  buf = malloc(big + 2);
  buf[0] = '"';
  memset(buf + 1, 'q', big);
  cr_assert_eq(es_csv_parse(buf, big + 1, &c, &err), ES_OK);
  cr_assert_eq(c.n, 1);
  cr_assert_not_null(c.recs[0].bad);
  cr_assert_leq(strlen(c.recs[0].fields[0]), ES_CSV_MAX_RECORD);
  es_csv_free(&c);
  free(buf);
}

/* A first field that starts with a UTF-8 BOM is written quoted, so that reading the file back
 * does not take it for the byte-order mark (found by fuzz_csv). */
Test(csv_limits, leading_bom_in_a_field_round_trips)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  es_csv_write_field(f, "\xef\xbb\xbfid");
  fputc(',', f);
  es_csv_write_field(f, "label");
  fputc('\n', f);
  fclose(f);
  cr_assert_str_eq(buf, "\"\xef\xbb\xbfid\",label\n");
  es_csv c;
  es_error err = {0};
  cr_assert_eq(es_csv_parse(buf, len, &c, &err), ES_OK);
  cr_assert_eq(c.n, 1);
  cr_assert_str_eq(c.recs[0].fields[0], "\xef\xbb\xbfid");
  es_csv_free(&c);
  free(buf);
}
