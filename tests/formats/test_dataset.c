/* The dataset transaction (formats/dataset.h): es_dataset_commit() writes quarantine lines,
 * objects, labels.txt, the manifest, index.bin and ledger records in the order of
 * docs/dataset-format.md ("Crash safety"); abort leaves nothing; a commit needs the exclusive
 * lock; and a process killed at each crash point of the commit (EDGESET_CRASH_AT) leaves the
 * previous manifest and labels.txt before the commit point and the new manifest after it. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/hash.h"
#include "formats/dataset.h"
#include "mkmanifest.h"
#include "testutil.h"

static char *path_in(const char *ds, const char *name)
{
  size_t n = strlen(ds) + strlen(name) + 2;
  char *p = malloc(n);
  cr_assert(p);
  snprintf(p, n, "%s/%s", ds, name);
  return p;
}

static char *text_of(const char *ds, const char *name)
{
  char *p = path_in(ds, name);
  size_t len;
  uint8_t *b = tu_read(p, &len);
  free(p);
  if (!b)
    return NULL;
  char *s = realloc(b, len + 1);
  cr_assert(s);
  s[len] = '\0';
  return s;
}

static size_t tmp_entries(const char *ds)
{
  char *p = path_in(ds, ".tmp");
  DIR *d = opendir(p);
  size_t n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    n += e->d_name[0] != '.';
  if (d)
    closedir(d);
  free(p);
  return n;
}

static void open_locked(es_store *st, const char *ds)
{
  es_error err = {0};
  cr_assert_eq(es_store_open(st, ds, 1, NULL, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(es_store_lock(st, 1, &err), ES_OK, "%s", err.msg);
}

/* A manifest of n items, labelled `label`. */
static void manifest_of(es_manifest *m, unsigned n, const char *label)
{
  memset(m, 0, sizeof *m);
  for (unsigned i = 0; i < n; i++) {
    mk_item x = {.num = i + 1, .phash = mk_hash(i), .label = label, .cluster = -1,
                 .time = -1, .derived_from = -1};
    mk_add(m, &x);
  }
  es_manifest_sort(m);
}

/* One full transaction: an object, a quarantine line, labels.txt, the manifest, a new batch
 * and a run record. */
static int full_commit(es_store *st, const es_manifest *m, const char *labels, es_error *err)
{
  es_dataset *tx = es_dataset_begin(st, 2, err);
  cr_assert(tx);
  const char *obj = "object bytes";
  char id[33];
  es_hash_hex(obj, strlen(obj), id);
  size_t slot;
  int rc = es_dataset_stage_object(tx, id, "bin", (const uint8_t *)obj, strlen(obj), NULL,
                                   "copy", &slot, NULL, err);
  if (!rc)
    rc = es_dataset_quarantine(tx, json_pack("{s:s, s:s}", "path", "bad.gif", "code",
                                             "unsupported"),
                               err);
  es_dataset_set_manifest(tx, m, NULL);
  if (!rc && labels)
    rc = es_dataset_set_labels(tx, labels, strlen(labels), err);
  if (!rc)
    rc = es_dataset_new_batch(tx, "b1", 1, err);
  if (!rc)
    rc = es_dataset_record(tx, "test", json_pack("{s:i}", "n", 7), err);
  if (!rc)
    rc = es_dataset_commit(tx, err);
  es_dataset_abort(tx);
  return rc;
}

Test(dataset, commit_writes_everything_in_order)
{
  setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
  char *root = tu_tmpdir();
  char *ds = path_in(root, "ds");
  es_store st;
  open_locked(&st, ds);
  es_manifest m;
  manifest_of(&m, 3, "cat");
  es_error err = {0};
  cr_assert_eq(full_commit(&st, &m, "cat\ndog\n", &err), ES_OK, "%s", err.msg);

  size_t len;
  char *bytes = es_manifest_serialize(&m, &len, &err);
  char *mtext = text_of(ds, "manifest.jsonl");
  cr_assert(bytes && mtext);
  cr_assert_str_eq(mtext, bytes);
  char *labels = text_of(ds, "labels.txt");
  cr_assert_str_eq(labels, "cat\ndog\n");
  char *ledger = text_of(ds, "ledger.jsonl");
  cr_assert_str_eq(ledger,
                   "{\"type\":\"batch\",\"time\":\"2023-11-14T22:13:20Z\",\"batch\":\"b1\",\"seq\":1}\n"
                   "{\"type\":\"test\",\"time\":\"2023-11-14T22:13:20Z\",\"n\":7}\n");
  char *q = text_of(ds, "quarantine.jsonl");
  cr_assert_str_eq(q, "{\"path\":\"bad.gif\",\"code\":\"unsupported\"}\n");
  char id[33];
  es_hash_hex("object bytes", 12, id);
  char obj[128];
  snprintf(obj, sizeof obj, "objects/%.2s/%s.bin", id, id);
  char *otext = text_of(ds, obj);
  cr_assert_str_eq(otext, "object bytes");
  /* index.bin matches the committed manifest: a reader uses it without parsing */
  es_index ix = {0};
  int parsed = -1;
  cr_assert_eq(es_index_load(&st, NULL, &ix, &parsed, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(parsed, 0);
  cr_assert_eq(ix.n, 3);
  cr_assert_eq(tmp_entries(ds), 0, "a temporary was left behind");
  es_index_free(&ix);
  free(bytes);
  free(mtext);
  free(labels);
  free(ledger);
  free(q);
  free(otext);
  es_manifest_free(&m);
  es_store_close(&st);
  free(ds);
  free(root);
}

Test(dataset, a_commit_without_manifest_writes_only_records)
{
  char *root = tu_tmpdir();
  char *ds = path_in(root, "ds");
  es_store st;
  open_locked(&st, ds);
  es_error err = {0};
  es_dataset *tx = es_dataset_begin(&st, 1, &err);
  cr_assert(tx);
  /* labels.txt goes only with a manifest */
  cr_assert_eq(es_dataset_set_labels(tx, "a\n", 2, &err), ES_OK);
  cr_assert_eq(es_dataset_record(tx, "split", json_pack("{s:{}}", "summary"), &err), ES_OK);
  cr_assert_eq(es_dataset_commit(tx, &err), ES_OK, "%s", err.msg);
  es_dataset_abort(tx);
  char *p = path_in(ds, "manifest.jsonl");
  cr_assert_neq(access(p, F_OK), 0);
  free(p);
  p = path_in(ds, "labels.txt");
  cr_assert_neq(access(p, F_OK), 0);
  free(p);
  char *ledger = text_of(ds, "ledger.jsonl");
  cr_assert(ledger && strstr(ledger, "\"type\":\"split\""));
  free(ledger);
  es_store_close(&st);
  free(ds);
  free(root);
}

Test(dataset, abort_leaves_nothing)
{
  char *root = tu_tmpdir();
  char *ds = path_in(root, "ds");
  es_store st;
  open_locked(&st, ds);
  es_error err = {0};
  es_dataset *tx = es_dataset_begin(&st, 1, &err);
  cr_assert(tx);
  char id[33];
  es_hash_hex("x", 1, id);
  size_t slot;
  cr_assert_eq(es_dataset_stage_object(tx, id, "bin", (const uint8_t *)"x", 1, NULL, "copy",
                                       &slot, NULL, &err),
               ES_OK, "%s", err.msg);
  cr_assert_eq(es_dataset_quarantine(tx, json_pack("{s:s}", "path", "p"), &err), ES_OK);
  cr_assert_eq(es_dataset_new_batch(tx, "b", 1, &err), ES_OK);
  es_dataset_abort(tx);
  char obj[128];
  snprintf(obj, sizeof obj, "%s/objects/%.2s/%s.bin", ds, id, id);
  cr_assert_neq(access(obj, F_OK), 0);
  const char *files[] = {"manifest.jsonl", "ledger.jsonl", "quarantine.jsonl", "labels.txt"};
  for (size_t i = 0; i < 4; i++) {
    char *p = path_in(ds, files[i]);
    cr_assert_neq(access(p, F_OK), 0, "%s written by an aborted transaction", files[i]);
    free(p);
  }
  cr_assert_eq(tmp_entries(ds), 0);
  es_store_close(&st);
  free(ds);
  free(root);
}

Test(dataset, commit_needs_the_exclusive_lock)
{
  char *root = tu_tmpdir();
  char *ds = path_in(root, "ds");
  es_store st;
  es_error err = {0};
  cr_assert_eq(es_store_open(&st, ds, 1, NULL, &err), ES_OK, "%s", err.msg);
  es_dataset *tx = es_dataset_begin(&st, 1, &err);
  cr_assert(tx);
  cr_assert_eq(es_dataset_record(tx, "x", json_object(), &err), ES_OK);
  cr_assert_eq(es_dataset_commit(tx, &err), ES_EINTERNAL);
  es_dataset_abort(tx);
  es_store_close(&st);
  free(ds);
  free(root);
}

/* Kills a child at `crash` during a full commit over a dataset holding the old manifest (1
 * item, "old") and labels.txt "old\n"; returns whether it was killed. */
static int killed_commit(const char *ds, const char *crash)
{
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    setenv("EDGESET_CRASH_AT", crash, 1);
    es_store st;
    open_locked(&st, ds);
    es_manifest m;
    manifest_of(&m, 2, "new");
    es_error err = {0};
    _exit(full_commit(&st, &m, "new\n", &err) == ES_OK ? 0 : 1);
  }
  int status;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

Test(dataset, killed_at_each_point_of_the_commit, .timeout = 120)
{
  char *root = tu_tmpdir();
  struct {
    const char *crash;
    int committed; /* the new manifest is in place */
    int labels;    /* the new labels.txt is in place */
    int batch;     /* the batch record was appended */
  } cases[] = {
      {"quarantine-append:1", 0, 0, 0}, {"object-data:1", 0, 0, 0},
      {"object-rename:1", 0, 0, 0},     {"manifest-data:1", 0, 0, 0},
      {"ledger-torn:1", 0, 0, 0},       {"ledger-append:1", 0, 0, 1},
      {"manifest-rename:1", 1, 0, 1},   {"labels-data:1", 1, 0, 1},
      {"labels-rename:1", 1, 1, 1},     {"index-data:1", 1, 1, 1},
      {"ledger-append:2", 1, 1, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char name[32];
    snprintf(name, sizeof name, "ds%zu", i);
    char *ds = path_in(root, name);
    es_store st;
    open_locked(&st, ds);
    es_manifest m;
    manifest_of(&m, 1, "old");
    es_error err = {0};
    es_dataset *tx = es_dataset_begin(&st, 1, &err);
    es_dataset_set_manifest(tx, &m, NULL);
    cr_assert_eq(es_dataset_set_labels(tx, "old\n", 4, &err), ES_OK);
    cr_assert_eq(es_dataset_commit(tx, &err), ES_OK, "%s", err.msg);
    es_dataset_abort(tx);
    es_store_close(&st); /* the child takes the lock */

    cr_assert(killed_commit(ds, cases[i].crash), "%s did not kill", cases[i].crash);
    char *mtext = text_of(ds, "manifest.jsonl"), *labels = text_of(ds, "labels.txt");
    char *ledger = text_of(ds, "ledger.jsonl");
    size_t lines = 0;
    for (const char *p = mtext; p && *p; p++)
      lines += *p == '\n';
    cr_assert_eq(lines, cases[i].committed ? 2 : 1, "%s: %zu manifest lines", cases[i].crash,
                 lines);
    cr_assert_str_eq(labels, cases[i].labels ? "new\n" : "old\n", "%s", cases[i].crash);
    int has_batch = ledger && strstr(ledger, "\"type\":\"batch\"") &&
                    strchr(ledger, '\n') != NULL;
    cr_assert_eq(has_batch, cases[i].batch, "%s: batch record %d", cases[i].crash, has_batch);
    free(mtext);
    free(labels);
    free(ledger);
    es_manifest_free(&m);
    free(ds);
  }
  free(root);
}
