/* Helpers shared by the Criterion tests: where the test data (tests/data) and the built programs
 * are, reading whole files, scratch directories and running a program to completion. */
#ifndef ES_TESTUTIL_H
#define ES_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* $EDGESET_SOURCE/tests/data/<rel>: the data the repository carries for its tests (see
 * tests/data/PROVENANCE). Caller frees. */
char *tu_data(const char *rel);
/* $EDGESET_BIN/<prog> (the build's bin/ folder). Caller frees. */
char *tu_bin(const char *prog);
/* Reads a whole file; NULL when it cannot. Caller frees. */
uint8_t *tu_read(const char *path, size_t *len);
/* Writes a whole file; 0 on success. */
int tu_write(const char *path, const void *buf, size_t len);
/* A fresh empty directory under $TMPDIR; caller frees the string (and may leave the dir). */
char *tu_tmpdir(void);
/* Runs argv[0] with argv (NULL-terminated), stdin from in_path (or /dev/null when NULL),
 * stdout and stderr captured into malloc'd strings (may be NULL pointers to discard). Returns
 * the exit status, or -1 when it did not exit normally. */
int tu_run(char *const argv[], const char *in_path, char **out, char **errout);

#endif
