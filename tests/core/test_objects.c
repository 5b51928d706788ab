/* Objects stored in bulk (es_store_stage_object / es_store_publish_objects): staged bytes
 * appear under their final names only on publish, dropped and unpublished ones leave nothing
 * behind, an intact existing object is not written again, and staging from many threads at
 * once loses nothing. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/store.h"
#include "testutil.h"

static size_t count_entries(const char *dir)
{
  DIR *d = opendir(dir);
  size_t n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    n += e->d_name[0] != '.';
  if (d)
    closedir(d);
  return n;
}

static void object_path(char *out, size_t n, const char *root, const char *id)
{
  int w = snprintf(out, n, "%s/objects/%.2s/%.32s.bin", root, id, id);
  cr_assert(w > 0 && (size_t)w < n);
}

Test(objects, stage_drop_publish)
{
  char *root = tu_tmpdir();
  char ds[1024];
  snprintf(ds, sizeof ds, "%s/ds", root);
  es_store st;
  es_error err = {0};
  cr_assert_eq(es_store_open(&st, ds, 1, NULL, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(es_store_lock(&st, 1, &err), ES_OK);
  es_object_batch *b = es_object_batch_new(&err);
  cr_assert(b);
  const char *bytes[3] = {"first object", "second object", "third object"};
  char ids[3][33], path[2048], tmp[2048];
  size_t slots[3];
  for (int i = 0; i < 3; i++) {
    es_hash_hex(bytes[i], strlen(bytes[i]), ids[i]);
    char *rel = NULL;
    cr_assert_eq(es_store_stage_object(&st, b, ids[i], "bin", (const uint8_t *)bytes[i],
                                       strlen(bytes[i]), NULL, "copy", &slots[i], &rel, &err),
                 ES_OK, "%s", err.msg);
    cr_assert_neq(slots[i], SIZE_MAX);
    cr_assert(rel && strstr(rel, ids[i]));
    free(rel);
    object_path(path, sizeof path, ds, ids[i]);
    cr_assert_neq(access(path, F_OK), 0, "staged object visible before publish");
  }
  snprintf(tmp, sizeof tmp, "%s/.tmp", ds);
  cr_assert_eq(count_entries(tmp), 3);
  es_object_batch_drop(&st, b, slots[1]);
  cr_assert_eq(count_entries(tmp), 2);
  cr_assert_eq(es_store_publish_objects(&st, b, &err), ES_OK, "%s", err.msg);
  for (int i = 0; i < 3; i++) {
    object_path(path, sizeof path, ds, ids[i]);
    size_t len;
    uint8_t *got = tu_read(path, &len);
    if (i == 1) {
      cr_assert_null(got, "a dropped object was published");
      continue;
    }
    cr_assert(got && len == strlen(bytes[i]) && !memcmp(got, bytes[i], len));
    free(got);
  }
  cr_assert_eq(count_entries(tmp), 0);
  es_object_batch_free(&st, b);

  /* An intact object is not staged again; an unpublished batch leaves no temporaries. */
  b = es_object_batch_new(&err);
  size_t slot;
  cr_assert_eq(es_store_stage_object(&st, b, ids[0], "bin", (const uint8_t *)bytes[0],
                                     strlen(bytes[0]), NULL, "copy", &slot, NULL, &err),
               ES_OK);
  cr_assert_eq(slot, SIZE_MAX);
  cr_assert_eq(es_store_stage_object(&st, b, ids[1], "bin", (const uint8_t *)bytes[1],
                                     strlen(bytes[1]), NULL, "copy", &slot, NULL, &err),
               ES_OK);
  cr_assert_eq(count_entries(tmp), 1);
  es_object_batch_free(&st, b);
  cr_assert_eq(count_entries(tmp), 0);
  /* Bytes that do not hash to the id are refused before anything is written. */
  b = es_object_batch_new(&err);
  cr_assert_eq(es_store_stage_object(&st, b, ids[0], "bin", (const uint8_t *)"other", 5, NULL,
                                     "copy", &slot, NULL, &err),
               ES_EINTERNAL);
  es_object_batch_free(&st, b);
  es_store_close(&st);
  free(root);
}

Test(objects, many_threads_stage_at_once)
{
  char *root = tu_tmpdir();
  char ds[1024];
  snprintf(ds, sizeof ds, "%s/ds", root);
  es_store st;
  es_error err = {0};
  cr_assert_eq(es_store_open(&st, ds, 1, NULL, &err), ES_OK);
  cr_assert_eq(es_store_lock(&st, 1, &err), ES_OK);
  es_object_batch *b = es_object_batch_new(&err);
  enum { N = 400 };
  static char ids[N][33];
  int failed = 0;
#pragma omp parallel for num_threads(8) reduction(+ : failed)
  for (int i = 0; i < N; i++) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "object number %d", i);
    es_hash_hex(buf, (size_t)n, ids[i]);
    size_t slot;
    es_error e = {0};
    failed += es_store_stage_object(&st, b, ids[i], "bin", (const uint8_t *)buf, (size_t)n,
                                    NULL, "copy", &slot, NULL, &e) != ES_OK;
  }
  cr_assert_eq(failed, 0);
  cr_assert_eq(es_store_publish_objects(&st, b, &err), ES_OK, "%s", err.msg);
  for (int i = 0; i < N; i++) {
    char path[2048];
    object_path(path, sizeof path, ds, ids[i]);
    cr_assert_eq(access(path, F_OK), 0, "object %d missing", i);
  }
  es_object_batch_free(&st, b);
  es_store_close(&st);
  free(root);
}
