/* Fuzz target for DATASET/tombstones.jsonl (formats/tombstones.h; docs/dataset-format.md): the
 * input becomes the file of a scratch dataset (in /dev/shm when it exists) and is read with
 * es_tombstones_load(). On success every id and pixels hash held is 32 lowercase hex digits,
 * as the lines give them (checked here, independently, from the bytes), and
 * es_tombstones_nearest() of each phash held is 0; on failure the code is ES_EFORMAT (a line
 * that is not of the documented form) or ES_ENOMEM, and nothing is held. Any violation
 * aborts. */
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/store.h"
#include "formats/tombstones.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static es_store st;
static char parent[256], root[300];
static int ready;

static void cleanup(void)
{
  static const char *const files[] = {"tombstones.jsonl", "edgeset.json", ".lock"};
  static const char *const dirs[] = {"objects", "reports", ".tmp"};
  es_store_close(&st);
  char p[512];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", root, files[i]);
    unlink(p);
  }
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
    rmdir(p);
  }
  rmdir(root);
  rmdir(parent);
}

static void setup(void)
{
  struct stat sb;
  const char *tmp = stat("/dev/shm", &sb) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                    : getenv("TMPDIR")                                        ? getenv("TMPDIR")
                                                                              : "/tmp";
  snprintf(parent, sizeof parent, "%s/edgeset-fuzz-tombstones.XXXXXX", tmp);
  if (!mkdtemp(parent))
    abort();
  snprintf(root, sizeof root, "%s/ds", parent);
  es_error err = {0};
  if (es_store_open(&st, root, 1, NULL, &err) != ES_OK) {
    fprintf(stderr, "fuzz_tombstones: %s\n", err.msg);
    abort();
  }
  atexit(cleanup);
  ready = 1;
}

static int hex32(const char *s)
{
  return s && strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!ready)
    setup();
  int fd = openat(st.dirfd, "tombstones.jsonl", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    abort();
  for (size_t at = 0; at < size;) {
    ssize_t w = write(fd, data + at, size - at);
    if (w <= 0)
      abort();
    at += (size_t)w;
  }
  close(fd);
  es_tombstones t;
  es_error err = {0};
  int rc = es_tombstones_load(&st, &t, &err);
  if (rc != ES_OK) {
    if ((rc != ES_EFORMAT && rc != ES_ENOMEM) || !err.msg[0] || t.ids.n || t.pixels.n ||
        t.n_phash)
      abort();
    return 0;
  }
  for (size_t i = 0; i < t.ids.cap; i++)
    if (t.ids.keys && t.ids.keys[i] && !hex32(t.ids.keys[i]))
      abort();
  for (size_t i = 0; i < t.pixels.cap; i++)
    if (t.pixels.keys && t.pixels.keys[i] && !hex32(t.pixels.keys[i]))
      abort();
  for (size_t i = 0; i < t.n_phash; i++)
    if (es_tombstones_nearest(&t, t.phash[i]) != 0)
      abort();
  es_tombstones_free(&t);
  return 0;
}
