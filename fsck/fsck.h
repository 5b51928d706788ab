/* Checking a dataset (edgeset fsck) and reclaiming the space of unreferenced objects (edgeset
 * gc): docs/lifecycle.md. Every problem is either damage (something the commit protocol never
 * leaves: a wrong or missing object, a manifest, index, ledger or quarantine line that cannot be
 * read) or a leftover the protocol documents as harmless (an object no item refers to, a
 * killed writer's temporary, a torn last line of an append-only file, an index older than the
 * manifest). */
#ifndef ES_FSCK_H
#define ES_FSCK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/store.h"
#include "formats/manifest.h"

typedef struct es_fsck_problem {
  int damage;   /* 1 damage, 0 harmless leftover */
  char *kind;   /* "object-missing", "object-damaged", "manifest", "index", "index-stale",
                   "ledger-line", "quarantine-line", "torn-line", "orphan-object",
                   "stale-temporary", "not-a-file", "rm-incomplete" (an item edgeset rm
                   removed still in the manifest), "removed-object" (its object still there),
                   "tombstones" */
  char *path;   /* relative to the dataset root */
  char *detail; /* why, for people */
  int repaired; /* --repair fixed it */
} es_fsck_problem;

typedef struct es_fsck_report {
  es_fsck_problem *p;
  size_t n, cap;
  size_t items, objects_checked;
  uint64_t bytes_checked;
  int no_objects; /* items but no objects/ at all: a --store ref dataset, objects not checked */
} es_fsck_report;

typedef struct es_fsck_opts {
  int hashes; /* read every object and compare its hash with its id (else: size only) */
  int jobs;
} es_fsck_opts;

/* Runs every check on st (locked by the caller; shared is enough) into r (zeroed first). An
 * error return is a failure to check at all (no memory, the dataset directory unreadable);
 * everything wrong in the dataset is a problem in r. */
int es_fsck_check(const es_store *st, const es_fsck_opts *o, es_fsck_report *r, es_error *err);

/* --repair (st locked exclusively): rebuilds a damaged or stale index, moves orphan objects to
 * lost+found/ (with a line in lost+found/records.jsonl), deletes stale temporaries, cuts torn
 * last lines. Marks what it fixed. */
int es_fsck_repair(es_store *st, es_fsck_report *r, es_error *err);

/* The report as JSON (new reference). */
json_t *es_fsck_json(const es_fsck_report *r);
void es_fsck_report_free(es_fsck_report *r);

#endif
