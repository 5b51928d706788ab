/* labels.txt, the class vocabulary (docs/dataset-format.md): what a valid class name is, the
 * vocabulary's parser and writer, and the problem list that lets a program report every bad
 * line at once. Shared by the stages that read or write labels.txt (label, eval, drift); no
 * path I/O here: parse takes bytes, serialize returns bytes. */
#ifndef ES_FORMATS_LABELS_H
#define ES_FORMATS_LABELS_H

#include <stdarg.h>
#include <stddef.h>

#include "core/error.h"

/* A list of problems found in the input, each "FILE line N: why"; reported all at once. */
typedef struct es_label_problems {
  char **msg;
  size_t n, cap;
} es_label_problems;

void es_label_problems_free(es_label_problems *p); /* NULL-safe; zeroes *p */
/* Appends a printf-formatted problem to p; ES_ENOMEM on failure. */
int es_label_problems_add(es_label_problems *p, es_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The one rule for a class name, applied wherever a label enters: the manifest reader
 * (formats/manifest.c refuses a manifest that breaks it), label's sources and renames, and
 * labels.txt. It covers what export needs of a folder name (split/export.c) and more.
 * Is s usable as a class name: 1 to 255 bytes of valid UTF-8, no '/', no control characters
 * (C0, DEL, C1), not "." or "..", no leading or trailing space. Returns NULL when it is, else
 * why not (a static string). */
const char *es_label_invalid(const char *s);

/* A class vocabulary: names in order (the model's output index). */
typedef struct es_vocab {
  char **names;
  size_t n;
} es_vocab;

/* Parses labels.txt bytes (one name a line, LF or CRLF; empty lines are errors except a final
 * newline). Bad lines go to *probs ("'<name>' line N: why"); ES_EUSAGE when there are any.
 * Caller frees *v with es_vocab_free(). */
int es_vocab_parse(const char *name, const char *buf, size_t len, es_vocab *v,
                   es_label_problems *probs, es_error *err);
/* The bytes of labels.txt (caller frees). */
char *es_vocab_serialize(const es_vocab *v, size_t *len, es_error *err);
long es_vocab_find(const es_vocab *v, const char *name); /* index or -1 */
void es_vocab_free(es_vocab *v); /* NULL-safe; zeroes *v */

#endif
