/* The dataset directory on disk (docs/dataset-format.md): edgeset.json settings, objects/,
 * manifest.jsonl, quarantine.jsonl, ledger.jsonl, reports/. This module owns the exclusive
 * flock on the dataset, crash-safe writes (temporary name, fsync, rename, fsync of the
 * directory) and the append-only JSONL files, whose torn last line is ignored on read and cut
 * off before the next append. A process killed at any instant leaves the previous or the next
 * consistent state. */
#ifndef ES_STORE_H
#define ES_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/image.h" /* ES_DEFAULT_MAX_PIXELS */
#include "core/near_sig.h"

/* Version 2 added the near-duplicate relation's second stage (near_score, near_score_small);
 * version 1 datasets decide near duplicates by the phash alone until `edgeset-collect
 * --recluster` upgrades them (docs/dataset-format.md). */
#define ES_DATASET_VERSION 2

/* Defaults written into edgeset.json when a dataset is created without explicit settings: the
 * one place the near-duplicate relation's defaults are chosen (docs/near-duplicates.md). */
#define ES_DEFAULT_NEAR 16
#define ES_DEFAULT_NEAR_SCORE 850
#define ES_DEFAULT_NEAR_SCORE_SMALL 990
#define ES_DEFAULT_MAX_FILE_BYTES (512u * 1024u * 1024u)

typedef struct es_settings {
  unsigned near;              /* near-duplicate candidate radius in bits of the 64-bit phash */
  unsigned near_score;        /* second stage thresholds in thousandths (core/near_sig.h); */
  unsigned near_score_small;  /* both 0 in a version 1 dataset: the phash alone decides */
  uint64_t max_pixels;        /* decoder limit */
  uint64_t max_file_bytes;    /* larger inputs are quarantined as too large */
  int jpeg_fancy_upsampling;  /* 1 = libjpeg default */
  int jpeg_dct_float;         /* 0 = JDCT_ISLOW */
} es_settings;

/* Defaults used when a dataset is created without explicit values. */
void es_settings_default(es_settings *s);

/* The dataset's near-duplicate relation into *rel; returns 1 when it has the second stage, 0
 * when the phash within `near` bits decides alone (a version 1 dataset). */
int es_settings_relation(const es_settings *s, es_near_rel *rel);


typedef struct es_store {
  char *root;     /* the dataset directory as given */
  int dirfd;      /* open O_DIRECTORY on root */
  int lockfd;     /* -1 when not locked */
  int lock_shared; /* the lock held is a reader's (ES_LOCK_SHARED) */
  es_settings settings;
  struct es__crash *crash; /* test seam (EDGESET_CRASH_AT, see store.c), NULL when unset */
} es_store;

/* Opens DATASET. With create != 0 a missing directory is created with edgeset.json holding
 * *init (or defaults when init is NULL); an existing dataset keeps its own settings. A dataset
 * written by a newer format version is ES_EVERSION; a directory that is not a dataset (no
 * edgeset.json and not empty) is ES_EUSAGE. Close with es_store_close() (NULL-safe). */
int es_store_open(es_store *st, const char *root, int create, const es_settings *init,
                  es_error *err);
void es_store_close(es_store *st);

/* Rewrites edgeset.json as the current format version with settings s (atomically; the lock
 * must be held): the upgrade of `edgeset-collect --recluster`. st->settings becomes s. */
int es_store_rewrite_settings(es_store *st, const es_settings *s, es_error *err);

/* Takes the exclusive lock, waiting for another holder (a killed holder's lock is released by
 * the kernel). With wait == 0 returns ES_EIO at once when the dataset is locked. */
int es_store_lock(es_store *st, int wait, es_error *err);

/* The same with flags: ES_LOCK_WAIT waits for another holder; ES_LOCK_SHARED takes a reader's
 * lock instead (for a run that writes nothing, e.g. a dry run): it waits only for writers,
 * opens DATASET/.lock read-only so that it works on a read-only dataset, deletes nothing, and
 * when there is no .lock and none can be created (a read-only file system) holds no lock at all.
 * Without ES_LOCK_WAIT, *busy (when not NULL) tells "another process holds the lock" (1) from
 * a failure to lock at all (0: read-only file system, permission denied ...), so that a caller
 * says it is waiting only when it is. A reader's lock allows no appends. */
enum { ES_LOCK_WAIT = 1, ES_LOCK_SHARED = 2 };
int es_store_lock_ex(es_store *st, int flags, int *busy, es_error *err);
void es_store_unlock(es_store *st);

/* Reads a whole file at path (not relative to a dataset). *buf is malloc'd; caller frees.
 * ES_EIO (with strerror) on failure. */
int es_read_file(const char *path, uint8_t **buf, size_t *len, es_error *err);

/* Reads a whole file relative to the dataset root. A missing file gives *buf = NULL, *len = 0
 * and ES_OK when missing_ok, else ES_ENOTFOUND. Caller frees *buf with free(). */
int es_store_read(const es_store *st, const char *name, int missing_ok, uint8_t **buf,
                  size_t *len, es_error *err);

/* Replaces `name` (relative to the root) atomically: temporary file, write, fsync, rename,
 * fsync of the directory. The rename is the commit point. */
int es_store_replace(const es_store *st, const char *name, const void *buf, size_t len,
                     es_error *err);

/* The same with before(ctx) called once the new bytes are durable in their temporary and just
 * before the rename: what must be durable before the new file appears (collect's ledger record
 * of a new batch) but only when the file is sure to be written. When before fails, the old
 * file is left as it was and its error is returned. */
int es_store_replace_hook(const es_store *st, const char *name, const void *buf, size_t len,
                          int (*before)(void *ctx, es_error *err), void *ctx, es_error *err);

/* One whole file in two steps, for a commit that must make several files durable before its
 * commit point and rename one of them after it (labels.txt after manifest.jsonl):
 * es_store_stage_file() writes and fsyncs the bytes to a temporary of their own in
 * DATASET/.tmp/; es_store_publish_file() renames it over `name` and fsyncs the directory (the
 * crash points "<base>-data" and "<base>-rename" of es_store_replace()) and frees *f;
 * es_store_discard_file() deletes an unpublished temporary and frees *f (NULL-safe). */
typedef struct es_staged_file es_staged_file;
int es_store_stage_file(const es_store *st, const char *name, const void *buf, size_t len,
                        es_staged_file **f, es_error *err);
int es_store_publish_file(const es_store *st, es_staged_file *f, es_error *err);
void es_store_discard_file(const es_store *st, es_staged_file *f);

/* Stores an object as objects/<first two hex digits>/<id>.<ext> crash-safely. An existing object
 * whose bytes hash to its id is kept; a damaged one (wrong size or hash) is rewritten.
 * With mode "link" a hard link to src_path is made when possible (falling back to a copy);
 * "copy" writes buf. Returns the object's path relative to the root in *relpath (caller frees)
 * when relpath is not NULL. */
int es_store_put_object(const es_store *st, const char *id, const char *ext, const uint8_t *buf,
                        size_t len, const char *src_path, const char *mode, char **relpath,
                        es_error *err);

/* Objects in bulk, for a run that stores many: es_store_stage_object() (safe to call from
 * several threads) writes an object's bytes to a temporary without syncing it, and
 * es_store_publish_objects() makes all staged bytes durable with one syncfs(2), renames them
 * into place, and syncs again, so that an object is durable before its name appears and every
 * name is durable before the caller commits a manifest that refers to it: the guarantees of
 * es_store_put_object() at the cost of two file-system syncs instead of two fsyncs per object.
 * *slot identifies a staged object for es_object_batch_drop() (SIZE_MAX when nothing was
 * staged: an intact object already exists, or mode is "ref"). es_object_batch_free() removes
 * the temporaries of objects that were never published; NULL-safe. */
typedef struct es_object_batch es_object_batch;
es_object_batch *es_object_batch_new(es_error *err);
int es_store_stage_object(const es_store *st, es_object_batch *b, const char *id,
                          const char *ext, const uint8_t *buf, size_t len, const char *src_path,
                          const char *mode, size_t *slot, char **relpath, es_error *err);
void es_object_batch_drop(const es_store *st, es_object_batch *b, size_t slot);
int es_store_publish_objects(const es_store *st, es_object_batch *b, es_error *err);
void es_object_batch_free(const es_store *st, es_object_batch *b);


/* Deletes the objects (objects/<ab>/<id>.*) and lost+found/<id>.* files of the ids in the map
 * (core/strmap.h; values unused), syncing each folder; *deleted and *bytes count them. Crash
 * point "object-delete" before each deletion. */
struct es_strmap;
int es_store_delete_objects(const es_store *st, const struct es_strmap *ids, size_t *deleted,
                            uint64_t *bytes, es_error *err);

/* Deletes one file (relative to the root; a missing one is fine), crash point "object-delete";
 * moves one, crash point "object-move". The caller syncs the folders. */
int es_store_unlink(const es_store *st, const char *rel, es_error *err);
int es_store_move(const es_store *st, const char *from, const char *to, es_error *err);

/* Is `name` (an entry of DATASET/.tmp/) a temporary whose writer ("<pid>.<n>.tmp") is no
 * longer running? Those are what taking the lock deletes. */
int es_store_tmp_stale(const char *name);

/* Cuts an append-only file back to just after its last newline (a torn last line left by a
 * killed writer) and syncs it; a missing file is fine. */
int es_store_cut_torn(const es_store *st, const char *name, es_error *err);

/* The hash es_hash_hex (core/hash.h) makes, of everything read from fd up to end of file; *size gets the byte count. */
int es_hash_fd_hex(int fd, uint64_t *size, char out[33], es_error *err);

/* Appends one JSON object as one line to an append-only JSONL file (ledger.jsonl,
 * quarantine.jsonl) and fsyncs it. A torn last line left by a killed writer is cut off first.
 * Must hold the lock. */
int es_store_append(const es_store *st, const char *name, const json_t *record, es_error *err);

/* Reads an append-only JSONL file: calls fn for each complete, valid line (a torn last line is
 * skipped; a malformed complete line is ES_EFORMAT naming the file and line). */
int es_store_read_jsonl(const es_store *st, const char *name,
                        int (*fn)(const json_t *rec, void *ctx, es_error *err), void *ctx,
                        es_error *err);

/* The time to record (ledger, reports): SOURCE_DATE_EPOCH when set, else now; formatted as
 * ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ". */
void es_store_now(char out[32]);

#endif
