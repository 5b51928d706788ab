/* Reals in edgeset's JSON files: every real a dataset file, a results file or a report's data
 * holds is written through es_json_real, with ES_FLOAT_DIGITS significant digits. */
#ifndef ES_CORE_JSON_H
#define ES_CORE_JSON_H

#include <jansson.h>

#define ES_FLOAT_DIGITS 6

/* Formats a double with ES_FLOAT_DIGITS significant digits into a json real that serializes
 * identically on every machine. */
json_t *es_json_real(double v);

#endif
