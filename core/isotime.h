/* Times as the dataset records them (capture times, batch times): ISO 8601 text. */
#ifndef ES_CORE_ISOTIME_H
#define ES_CORE_ISOTIME_H

#include <stdint.h>

/* ISO 8601 "YYYY-MM-DDTHH:MM:SS[.fraction][Z|+hh:mm|-hh:mm]" to seconds since 1970 (a time
 * without a zone is taken as UTC). Returns 0 on success, -1 when s is not such a time. */
int es_time_seconds(const char *s, int64_t *out);

#endif
