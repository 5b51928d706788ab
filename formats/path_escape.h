/* The paths a dataset records (occurrences, devices) in JSON: any byte string without NUL as
 * valid UTF-8, and back exactly (docs/dataset-format.md). */
#ifndef ES_FORMATS_PATH_ESCAPE_H
#define ES_FORMATS_PATH_ESCAPE_H

#include "core/error.h"

/* Path escaping for JSON (which must be valid UTF-8): a backslash is written as two
 * backslashes and each byte that is not part of valid UTF-8 as \xHH (two lowercase hex digits);
 * everything else is kept. es_path_unescape() inverts it exactly. Both return a malloc'd string
 * the caller frees, or NULL (with err set) on bad input or no memory. */
char *es_path_escape(const char *raw, es_error *err);
char *es_path_unescape(const char *escaped, es_error *err);

#endif
