/* Fuzz target for the append-only JSONL files of a dataset (ledger.jsonl, quarantine.jsonl;
 * docs/dataset-format.md "ledger.jsonl" and "Crash safety"), read by es_store_read_jsonl() and
 * appended to by es_store_append() (core/store.c). The input becomes DATASET/ledger.jsonl of a
 * scratch dataset (in /dev/shm when it exists), which is then
 *  1. read: every complete line (one ending in '\n') that is not blank must reach the callback
 *     as an object, in order; a torn last line is skipped even when it is valid JSON; the first
 *     complete line that is not a JSON object is ES_EFORMAT naming that line, and nothing after
 *     it is delivered. The callback reads the fields collect and eval read (type, batch, seq,
 *     split, model). The expectation is computed here, independently, from the bytes;
 *  2. appended to: the torn tail must be cut, the file must become the input up to its last
 *     '\n' followed by the one new line, and reading it again must give the same records as
 *     before plus the new one, last.
 * Any violation aborts. */
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/store.h"
#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

typedef struct seen {
  json_t *recs; /* array of what the callback got */
} seen;

static int on_record(const json_t *rec, void *ctx, es_error *err)
{
  (void)err;
  seen *s = ctx;
  if (!json_is_object(rec))
    abort();
  /* what collect (on_ledger) and eval (scan_record) look at */
  const char *type = json_string_value(json_object_get(rec, "type"));
  const char *batch = json_string_value(json_object_get(rec, "batch"));
  json_t *seq = json_object_get(rec, "seq");
  const char *split = json_string_value(json_object_get(rec, "split"));
  const char *model = json_string_value(json_object_get(rec, "model"));
  if (type && batch && json_is_integer(seq))
    sink += strlen(type) + strlen(batch) + (size_t)json_integer_value(seq);
  if (split && model)
    sink += strlen(split) + strlen(model);
  json_array_append(s->recs, (json_t *)rec);
  return ES_OK;
}

/* The documented reading of bytes: the records of the complete lines up to the first bad one
 * (into want), and that line's number (0 when none is bad). */
static size_t expected(const uint8_t *b, size_t len, json_t *want)
{
  size_t pos = 0, line = 0;
  while (pos < len) {
    const uint8_t *nl = memchr(b + pos, '\n', len - pos);
    if (!nl)
      break; /* torn */
    size_t end = (size_t)(nl - b), start = pos;
    pos = end + 1;
    line++;
    size_t i = start;
    while (i < end && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r'))
      i++;
    if (i == end)
      continue;
    json_t *r = json_loadb((const char *)b + start, end - start, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(r)) {
      json_decref(r);
      return line;
    }
    json_array_append_new(want, r);
  }
  return 0;
}

/* Reads the ledger; checks it against the bytes it holds; returns the records (new ref). */
static json_t *read_and_check(const uint8_t *bytes, size_t len, int *bad_line)
{
  seen s = {json_array()};
  json_t *want = json_array();
  es_error err = {0};
  int rc = es_store_read_jsonl(&scratch, "ledger.jsonl", on_record, &s, &err);
  size_t bad = expected(bytes, len, want);
  if (bad) {
    char needle[64];
    snprintf(needle, sizeof needle, "ledger.jsonl' line %zu: ", bad);
    if (rc != ES_EFORMAT || err.code != rc || !strstr(err.msg, needle)) {
      fprintf(stderr, "fuzz_ledger: line %zu is bad, but read gave %d '%s'\n", bad, rc, err.msg);
      abort();
    }
  } else if (rc != ES_OK) {
    fprintf(stderr, "fuzz_ledger: read failed on a good ledger: %d '%s'\n", rc, err.msg);
    abort();
  }
  if (!json_equal(s.recs, want)) {
    fprintf(stderr, "fuzz_ledger: read %zu records, the bytes hold %zu\n",
            json_array_size(s.recs), json_array_size(want));
    abort();
  }
  json_decref(want);
  *bad_line = bad != 0;
  return s.recs;
}

static uint8_t *read_back(size_t *len)
{
  uint8_t *buf = NULL;
  es_error err = {0};
  if (es_store_read(&scratch, "ledger.jsonl", 0, &buf, len, &err) != ES_OK)
    abort();
  return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  scratch_write("ledger", "ledger.jsonl", data, size);
  int bad = 0;
  json_t *before = read_and_check(data, size, &bad);

  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < size; i++)
    h = (h ^ data[i]) * 1099511628211u;
  json_t *rec = json_pack("{s:s, s:s, s:s, s:I}", "type", "batch", "time",
                          "2024-06-01T10:00:00Z", "batch", "fuzz", "seq",
                          (json_int_t)(h >> 12));
  es_error err = {0};
  if (!rec || es_store_append(&scratch, "ledger.jsonl", rec, &err) != ES_OK) {
    fprintf(stderr, "fuzz_ledger: append: %s\n", err.msg);
    abort();
  }
  size_t keep = size;
  while (keep > 0 && data[keep - 1] != '\n')
    keep--;
  size_t len = 0;
  uint8_t *now = read_back(&len);
  char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
  size_t ll = strlen(line);
  if (len != keep + ll + 1 || memcmp(now, data, keep) || memcmp(now + keep, line, ll) ||
      now[len - 1] != '\n') {
    fprintf(stderr, "fuzz_ledger: after the append the file is not the committed lines plus "
                    "the record (%zu bytes, expected %zu)\n",
            len, keep + ll + 1);
    abort();
  }
  int bad2 = 0;
  json_t *after = read_and_check(now, len, &bad2);
  if (bad2 != bad)
    abort();
  if (!bad) {
    if (json_array_size(after) != json_array_size(before) + 1 ||
        !json_equal(json_array_get(after, json_array_size(before)), rec))
      abort();
  }
  free(line);
  free(now);
  json_decref(rec);
  json_decref(before);
  json_decref(after);
  return 0;
}
