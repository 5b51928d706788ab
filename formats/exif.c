/* EXIF reader: walks the TIFF IFD structure of an EXIF block with every read bounds-checked.
 * Only IFD0 and the Exif sub-IFD it points to are visited (the thumbnail IFD1 and maker notes
 * are never followed); visited offsets are remembered so that a pointer back to an IFD already
 * read is reported as a loop instead of being followed. */
#include "formats/exif_internal.h"

#include <string.h>

enum {
  TAG_ORIENTATION = 0x0112,
  TAG_EXIF_IFD = 0x8769,
  TAG_DATETIME_ORIGINAL = 0x9003,
  TAG_OFFSET_TIME_ORIGINAL = 0x9011,
};

enum { TYPE_SHORT = 3, TYPE_LONG = 4, TYPE_ASCII = 2, TYPE_IFD = 13 };

typedef struct walk {
  const uint8_t *buf;
  size_t len;
  int big_endian;
  uint32_t visited[ES_EXIF_MAX_IFDS];
  int nvisited;
  char datetime[20]; /* "YYYY:MM:DD HH:MM:SS" when found */
  char offset[7];    /* "+HH:MM" when found */
  es_exif *out;
  es_error *err;
} walk;

static int read16(const walk *w, uint64_t off, uint32_t *v)
{
  if (off > w->len || w->len - off < 2)
    return -1;
  const uint8_t *p = w->buf + off;
  *v = w->big_endian ? (uint32_t)(p[0] << 8 | p[1]) : (uint32_t)(p[1] << 8 | p[0]);
  return 0;
}

static int read32(const walk *w, uint64_t off, uint32_t *v)
{
  if (off > w->len || w->len - off < 4)
    return -1;
  const uint8_t *p = w->buf + off;
  if (w->big_endian)
    *v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  else
    *v = (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
  return 0;
}

static unsigned type_size(uint32_t type)
{
  switch (type) {
  case 1: case 2: case 6: case 7: return 1;
  case 3: case 8: return 2;
  case 4: case 9: case 11: case 13: return 4;
  case 5: case 10: case 12: return 8;
  default: return 0;
  }
}

/* Where the value of the entry whose 4-byte value field is at field_off starts; values of up to
 * four bytes are stored in the field itself, longer ones at the offset it holds. */
static int value_at(walk *w, uint32_t tag, uint32_t type, uint32_t count, uint64_t field_off,
                    const uint8_t **value)
{
  unsigned size = type_size(type);
  if (size == 0)
    return es_error_set(w->err, ES_EFORMAT, "exif: tag 0x%04x has unknown type %u", tag, type);
  uint64_t bytes = (uint64_t)size * count; /* at most 8 * 2^32: no overflow */
  uint64_t off = field_off;
  if (bytes > 4) {
    uint32_t o;
    if (read32(w, field_off, &o) != 0)
      return es_error_set(w->err, ES_EFORMAT, "exif: truncated entry for tag 0x%04x", tag);
    off = o;
  }
  if (off > w->len || w->len - off < bytes)
    return es_error_set(w->err, ES_EFORMAT,
                        "exif: value of tag 0x%04x (%llu bytes at offset %llu) is out of range",
                        tag, (unsigned long long)bytes, (unsigned long long)off);
  *value = w->buf + off;
  return ES_OK;
}

static int is_blank(const uint8_t *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != ':' && s[i] != '0' && s[i] != '\0')
      return 0;
  return 1;
}

static int digits(const uint8_t *s, size_t n, int *v)
{
  *v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    *v = *v * 10 + (s[i] - '0');
  }
  return 0;
}

static int read_datetime(walk *w, const uint8_t *s, uint32_t count)
{
  if (count < 19)
    return es_error_set(w->err, ES_EFORMAT, "exif: DateTimeOriginal is too short (%u bytes)",
                        count);
  if (is_blank(s, 19))
    return ES_OK; /* the standard's way of saying "unknown" */
  int y, mo, d, h, mi, sec;
  if (digits(s, 4, &y) || s[4] != ':' || digits(s + 5, 2, &mo) || s[7] != ':' ||
      digits(s + 8, 2, &d) || s[10] != ' ' || digits(s + 11, 2, &h) || s[13] != ':' ||
      digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec) || mo < 1 || mo > 12 ||
      d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    return es_error_set(w->err, ES_EFORMAT, "exif: invalid DateTimeOriginal '%.19s'",
                        (const char *)s);
  memcpy(w->datetime, s, 19);
  w->datetime[19] = '\0';
  return ES_OK;
}

static int read_offset(walk *w, const uint8_t *s, uint32_t count)
{
  if (count < 6)
    return es_error_set(w->err, ES_EFORMAT, "exif: OffsetTimeOriginal is too short (%u bytes)",
                        count);
  if (is_blank(s, 6) && s[0] != '0')
    return ES_OK;
  int h, m;
  if ((s[0] != '+' && s[0] != '-') || digits(s + 1, 2, &h) || s[3] != ':' ||
      digits(s + 4, 2, &m) || h > 23 || m > 59)
    return es_error_set(w->err, ES_EFORMAT, "exif: invalid OffsetTimeOriginal '%.6s'",
                        (const char *)s);
  memcpy(w->offset, s, 6);
  w->offset[6] = '\0';
  return ES_OK;
}

static int visit_ifd(walk *w, uint32_t ifd_off, int is_ifd0)
{
  for (int i = 0; i < w->nvisited; i++)
    if (w->visited[i] == ifd_off)
      return es_error_set(w->err, ES_EFORMAT, "exif: IFD loop at offset %u", ifd_off);
  if (w->nvisited == ES_EXIF_MAX_IFDS)
    return es_error_set(w->err, ES_EFORMAT, "exif: more than %d IFDs", ES_EXIF_MAX_IFDS);
  w->visited[w->nvisited++] = ifd_off;

  uint32_t count;
  if (read16(w, ifd_off, &count) != 0)
    return es_error_set(w->err, ES_EFORMAT, "exif: IFD offset %u is beyond the %zu-byte block",
                        ifd_off, w->len);
  if (count > ES_EXIF_MAX_ENTRIES)
    return es_error_set(w->err, ES_EFORMAT, "exif: IFD at offset %u has %u entries (limit %d)",
                        ifd_off, count, ES_EXIF_MAX_ENTRIES);
  uint64_t entries = (uint64_t)ifd_off + 2;
  if (entries + 12 * (uint64_t)count > w->len)
    return es_error_set(w->err, ES_EFORMAT, "exif: truncated IFD at offset %u (%u entries)",
                        ifd_off, count);

  uint32_t sub_ifd = 0;
  int have_sub = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint64_t e = entries + 12 * (uint64_t)i;
    uint32_t tag = 0, type = 0, n = 0;
    read16(w, e, &tag); /* in range: the whole table was checked above */
    read16(w, e + 2, &type);
    read32(w, e + 4, &n);
    const uint8_t *value = NULL;
    int rc = ES_OK;
    switch (tag) {
    case TAG_ORIENTATION:
      if (!is_ifd0)
        break;
      if (type != TYPE_SHORT || n < 1)
        return es_error_set(w->err, ES_EFORMAT, "exif: Orientation has type %u, count %u",
                            type, n);
      uint32_t o = 0;
      read16(w, e + 8, &o);
      if (o < 1 || o > 8)
        return es_error_set(w->err, ES_EFORMAT, "exif: invalid Orientation %u", o);
      w->out->orientation = (int)o;
      break;
    case TAG_EXIF_IFD:
      if ((type != TYPE_LONG && type != TYPE_IFD) || n < 1)
        return es_error_set(w->err, ES_EFORMAT, "exif: Exif IFD pointer has type %u, count %u",
                            type, n);
      if (!have_sub) {
        read32(w, e + 8, &sub_ifd);
        have_sub = 1;
      }
      break;
    case TAG_DATETIME_ORIGINAL:
    case TAG_OFFSET_TIME_ORIGINAL:
      if (type != TYPE_ASCII)
        return es_error_set(w->err, ES_EFORMAT, "exif: tag 0x%04x has type %u, not ASCII", tag,
                            type);
      rc = value_at(w, tag, type, n, e + 8, &value);
      if (rc == ES_OK)
        rc = tag == TAG_DATETIME_ORIGINAL ? read_datetime(w, value, n)
                                          : read_offset(w, value, n);
      break;
    default:
      break;
    }
    if (rc != ES_OK)
      return rc;
  }
  return have_sub ? visit_ifd(w, sub_ifd, 0) : ES_OK;
}

int es_exif_parse(const uint8_t *buf, size_t len, es_exif *out, es_error *err)
{
  memset(out, 0, sizeof *out);
  out->orientation = 1;
  walk w = {.buf = buf, .len = len, .out = out, .err = err};
  if (len < 8)
    return es_error_set(err, ES_EFORMAT, "exif: block too short (%zu bytes)", len);
  if (buf[0] == 'I' && buf[1] == 'I')
    w.big_endian = 0;
  else if (buf[0] == 'M' && buf[1] == 'M')
    w.big_endian = 1;
  else
    return es_error_set(err, ES_EFORMAT, "exif: bad byte order mark 0x%02x%02x", buf[0], buf[1]);
  uint32_t magic = 0, ifd0 = 0;
  read16(&w, 2, &magic);
  read32(&w, 4, &ifd0);
  if (magic != 42)
    return es_error_set(err, ES_EFORMAT, "exif: bad TIFF magic %u", magic);
  int rc = visit_ifd(&w, ifd0, 1);
  if (rc != ES_OK)
    return rc;
  if (w.datetime[0]) {
    /* "YYYY:MM:DD HH:MM:SS" -> "YYYY-MM-DDTHH:MM:SS" */
    memcpy(out->capture_time, w.datetime, 20);
    out->capture_time[4] = '-';
    out->capture_time[7] = '-';
    out->capture_time[10] = 'T';
    if (w.offset[0])
      memcpy(out->capture_time + 19, w.offset, 7);
  }
  return ES_OK;
}

size_t es_exif_app1_prefix(const uint8_t *buf, size_t len)
{
  return len >= 6 && memcmp(buf, "Exif\0\0", 6) == 0 ? 6 : 0;
}
