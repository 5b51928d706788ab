/* Fuzz target for the RFC 4180 CSV reader and writer (formats/csv.c). Every good CSV record
 * written back with es_csv_write_field() must read back to the same fields. Any violation
 * aborts. The binary manifest index, which this target also read once, has its own target
 * (fuzz_index.c); label files in CSV are fuzzed through the label stage by fuzz_label_from.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_csv(const uint8_t *data, size_t size)
{
  es_csv c, back;
  es_error err = {0};
  if (es_csv_parse((const char *)data, size, &c, &err) != ES_OK)
    abort(); /* only memory can fail */
  for (size_t r = 0; r < c.n; r++) {
    const es_csv_record *rec = &c.recs[r];
    if (rec->bad || rec->n == 0 || (rec->n == 1 && !rec->fields[0][0]))
      continue;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
      abort();
    for (size_t k = 0; k < rec->n; k++) {
      if (k)
        fputc(',', f);
      es_csv_write_field(f, rec->fields[k]);
    }
    fputs("\r\n", f);
    fclose(f);
    if (es_csv_parse(buf, len, &back, &err) != ES_OK || back.n != 1 || back.recs[0].bad ||
        back.recs[0].n != rec->n)
      abort();
    for (size_t k = 0; k < rec->n; k++)
      if (strcmp(back.recs[0].fields[k], rec->fields[k]))
        abort();
    es_csv_free(&back);
    free(buf);
  }
  es_csv_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  check_csv(data, size);
  return 0;
}
