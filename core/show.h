/* Showing values that come from outside (paths, labels, CSV and JSONL fields, names read from a
 * file or the command line) in diagnostics and human-readable summaries (docs/cli.md).
 *
 * A value is shown with its control characters (C0, DEL, and C1 as UTF-8 U+0080..U+009F) and
 * every byte that is not part of valid UTF-8 written as \xHH (lowercase hex), so that no value
 * can move the cursor, retitle or clear the terminal or fake a line; and it is cut after
 * ES_SHOW_MAX bytes of shown text, followed by "... (N more bytes)" counting the value's bytes
 * that were left out, so that a 100 MB field cannot flood the terminal. A backslash is shown as
 * itself. A value that needs neither (valid UTF-8 without control characters, at most
 * ES_SHOW_MAX bytes: every valid label) is shown byte for byte.
 *
 * Machine-readable output (JSON, -0 lists, exports, the manifest) never goes through here: it
 * keeps the exact bytes. es_cli_error() and the other printers in core/cli.c apply the same
 * escaping to every whole diagnostic line (cut after ES_SHOW_LINE_MAX bytes), as a backstop for
 * a value that reached a message without es_show(). */
#ifndef ES_SHOW_H
#define ES_SHOW_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#define ES_SHOW_MAX 256       /* bytes of shown text per value (a valid label always fits) */
#define ES_SHOW_LINE_MAX 4096 /* bytes of shown text per diagnostic line */
/* The longest string es_show() returns, with its NUL: the text, the cut note, the NUL. */
#define ES_SHOW_BUF (ES_SHOW_MAX + 48)

/* Writes the shown form of the n bytes at s to out (capacity cap, at least 48 bytes), cut after
 * max bytes of shown text (escapes are never split), NUL-terminated. Returns the length written;
 * *cut (when not NULL) gets the number of bytes of s left out (0 when all of it was shown). */
size_t es_show_to(char *out, size_t cap, const char *s, size_t n, size_t max, size_t *cut);

/* Formats a whole diagnostic line and writes its shown form to out (capacity cap, at least
 * ES_SHOW_LINE_MAX + 48 bytes), cut after ES_SHOW_LINE_MAX bytes. Returns the length. */
size_t es_show_vline(char *out, size_t cap, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Prints printf-style text and a newline to f, the text shown as a whole (escaped, cut after
 * ES_SHOW_LINE_MAX bytes): for a line composed from outside values that is not a diagnostic (a
 * gate failure on stdout). A newline in fmt would be escaped too. */
void es_show_line(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The shown form of the string s (NULL shows as "(null)"), cut after ES_SHOW_MAX bytes, in one
 * of 8 buffers per thread: valid until the eighth next call in the same thread, so meant for
 * the arguments of one printf-style call:
 *   es_error_set(err, ES_EIO, "cannot open '%s'", es_show(path)); */
const char *es_show(const char *s);
/* The same for n bytes that need not be NUL-terminated (and may hold NUL, shown as \x00). */
const char *es_show_n(const char *s, size_t n);

/* 1 when es_show(s) would be s itself (nothing to escape, nothing to cut). */
int es_show_is_plain(const char *s);

#endif
