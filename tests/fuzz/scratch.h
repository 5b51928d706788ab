/* A scratch dataset for the fuzz targets that read one file of a dataset (ledger.jsonl,
 * tombstones.jsonl): DIR/ds, DIR in /dev/shm when it exists (else $TMPDIR or /tmp), created on
 * first use with the dataset's lock held, removed at exit. Included by one file of a target. */
#ifndef ES_TESTS_FUZZ_SCRATCH_H
#define ES_TESTS_FUZZ_SCRATCH_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/store.h"

static es_store scratch;
static char scratch_parent[256], scratch_root[300];
static const char *scratch_file;
static int scratch_ready;

static void scratch_cleanup(void)
{
  const char *const files[] = {scratch_file, "edgeset.json", ".lock"};
  static const char *const dirs[] = {"objects", "reports", ".tmp"};
  es_store_close(&scratch);
  char p[512];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", scratch_root, files[i]);
    unlink(p);
  }
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", scratch_root, dirs[i]);
    rmdir(p);
  }
  rmdir(scratch_root);
  rmdir(scratch_parent);
}

/* Writes data as DATASET/<file> of the scratch dataset (made on the first call). */
static void scratch_write(const char *tag, const char *file, const uint8_t *data, size_t size)
{
  if (!scratch_ready) {
    struct stat sb;
    const char *tmp = stat("/dev/shm", &sb) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                      : getenv("TMPDIR")                                        ? getenv("TMPDIR")
                                                                                : "/tmp";
    snprintf(scratch_parent, sizeof scratch_parent, "%s/edgeset-fuzz-%s.XXXXXX", tmp, tag);
    if (!mkdtemp(scratch_parent))
      abort();
    snprintf(scratch_root, sizeof scratch_root, "%s/ds", scratch_parent);
    es_error err = {0};
    if (es_store_open(&scratch, scratch_root, 1, NULL, &err) != ES_OK ||
        es_store_lock(&scratch, 1, &err) != ES_OK) {
      fprintf(stderr, "fuzz_%s: %s\n", tag, err.msg);
      abort();
    }
    scratch_file = file;
    atexit(scratch_cleanup);
    scratch_ready = 1;
  }
  int fd = openat(scratch.dirfd, file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    abort();
  for (size_t at = 0; at < size;) {
    ssize_t w = write(fd, data + at, size - at);
    if (w <= 0)
      abort();
    at += (size_t)w;
  }
  close(fd);
}

#endif
