/* EXIF metadata: a hand-written, bounds-checked reader of the TIFF structure inside a JPEG APP1
 * "Exif" segment or a PNG eXIf chunk. It reads only what edgeset uses: the byte order, IFD0's
 * Orientation and the Exif sub-IFD's DateTimeOriginal and OffsetTimeOriginal. Every offset is
 * checked against the buffer, entry counts are capped and IFD cycles are detected, so hostile
 * input costs bounded time and never reads out of range. */
#ifndef ES_FORMATS_EXIF_INTERNAL_H
#define ES_FORMATS_EXIF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* At most this many entries are read from one IFD and this many IFDs are visited. */
#define ES_EXIF_MAX_ENTRIES 512
#define ES_EXIF_MAX_IFDS 8

typedef struct es_exif {
  int orientation;       /* 1..8; 1 when absent */
  char capture_time[40]; /* "YYYY-MM-DDTHH:MM:SS" plus "+HH:MM" when the offset is known, or "" */
} es_exif;

/* Parses the TIFF structure in buf (the APP1 payload after "Exif\0\0", or a PNG eXIf chunk).
 * Absent tags leave the defaults. Returns ES_OK, or ES_EFORMAT with the reason when the block is
 * corrupt (bad header, an offset out of range, a cycle, an invalid Orientation or date); out
 * then holds whatever was read validly before the problem and may be used or ignored. */
int es_exif_parse(const uint8_t *buf, size_t len, es_exif *out, es_error *err);

/* If buf starts with the JPEG APP1 EXIF signature "Exif\0\0", the length of that prefix (6),
 * else 0. */
size_t es_exif_app1_prefix(const uint8_t *buf, size_t len);

#endif
