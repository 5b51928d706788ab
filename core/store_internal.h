/* Helpers shared by the files of the dataset directory (core/store*.c); defined in
 * core/store.c. */
#ifndef ES_CORE_STORE_INTERNAL_H
#define ES_CORE_STORE_INTERNAL_H

#include <stddef.h>

#include "core/store.h"

#define LOCK_FILE ".lock"
#define TMP_DIR ".tmp"
/* Reals in records written by this module carry the same 6 significant digits as the manifest
 * (ES_FLOAT_DIGITS in core/json.h), so no JSON file of a dataset depends on the libc. */
#define RECORD_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))

int es__store_write_all(int fd, const void *buf, size_t len);

/* Names passed to the store are relative to the root, '/'-separated, without empty, "." or
 * ".." components, so nothing is ever written outside the dataset. */
int es__store_check_name(const es_store *st, const char *name, es_error *err);

/* Opens the directory that holds `name` (relative to the root). With create != 0, missing
 * directories are made, each new one made durable by fsyncing its parent. *base points into
 * name at the last component. Returns the fd or a negative code. */
int es__store_open_parent(const es_store *st, const char *name, int create, const char **base,
                          es_error *err);

int es__store_open_tmpdir(const es_store *st, es_error *err);

/* One in-flight temporary per thread: pid and thread id make the name unique among live
 * processes, and the pid lets es_store_lock() recognise those of dead ones. */
void es__store_tmp_name(char out[64]);

/* Creates the temporary `tname` in tdfd holding buf, closed, and fsynced when `sync`. */
int es__store_tmp_write(const es_store *st, int tdfd, const char *tname, const void *buf,
                        size_t len, int sync, es_error *err);

/* Renames the temporary over its final name and makes the rename durable; before(ctx), when
 * given, runs just before the rename, and its failure leaves the old file in place. */
int es__store_tmp_publish(const es_store *st, int tdfd, const char *tname, int dfd,
                          const char *base, const char *name, const char *what,
                          int (*before)(void *ctx, es_error *err), void *ctx, es_error *err);

/* `what` is "object", or a file name whose extension is dropped ("ledger.jsonl" -> "ledger"). */
void es__store_crash_point(const es_store *st, const char *what, const char *step);

#endif
