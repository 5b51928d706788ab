/* Tests of manifest v1: the golden line (fixed key order, null forms, escaped paths, sorted
 * extra fields), golden float formatting, the path escape as a property over random byte
 * strings, byte-identical round trips of random manifests in any line order, the direct line
 * writer and reader against jansson's dump and parse, torn last lines and the error for every
 * kind of malformed line. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "formats/labels.h"
#include "formats/manifest.h"
#include "formats/path_escape.h"

/* xorshift64*: the tests are reproducible without touching libc's rand() state. */
static uint64_t rng_next(uint64_t *s)
{
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ULL;
}

static char *serialize_ok(const es_manifest *m, size_t *len)
{
  es_error err = {0};
  char *s = es_manifest_serialize(m, len, &err);
  cr_assert_not_null(s, "serialize: %s", err.msg);
  cr_assert_eq(strlen(s), *len);
  return s;
}

static void parse_ok(const char *text, es_manifest *m)
{
  es_error err = {0};
  int rc = es_manifest_parse((const uint8_t *)text, strlen(text), m, &err);
  cr_assert_eq(rc, ES_OK, "parse: %s", err.msg);
}

static void golden_item(es_item *it)
{
  es_error err = {0};
  memset(it, 0, sizeof *it);
  strcpy(it->id, "00112233445566778899aabbccddeeff");
  strcpy(it->format, "jpeg");
  it->width = 640;
  it->height = 480;
  it->channels = 3;
  it->bytes = 53211;
  it->phash = 0x8f3e0000a1b2c3d4ULL;
  it->stats = (es_stats){.mean = 0.5,
                         .std = 0.123456789,
                         .sharpness = 1234567.0,
                         .saturation = 0.0,
                         .clip_low = -0.0,
                         .clip_high = 1e-7};
  cr_assert_eq(es_item_add_seen(it, "cam07/img_0012.jpg", "2024-06-01", "cam07",
                                "2024-06-01T10:00:00+02:00", &err),
               ES_OK);
  cr_assert_eq(es_item_add_seen(it, "b\\x\xff.jpg", "b2", NULL, NULL, &err), ES_OK);
  it->label = strdup("leopard");
  it->split = strdup("train");
  it->group = strdup("cam07");
  it->extra = json_pack("{s:i, s:s, s:{s:i, s:b, s:f}}", "zeta", 1, "pixels",
                        "ffeeddccbbaa99887766554433221100", "aug", "rot", 90, "flip", 1, "gain",
                        1.0 / 3.0);
  cr_assert_not_null(it->extra);
}

static const char golden_line[] =
    "{\"id\":\"00112233445566778899aabbccddeeff\",\"format\":\"jpeg\",\"width\":640,"
    "\"height\":480,\"channels\":3,\"bytes\":53211,\"phash\":\"8f3e0000a1b2c3d4\","
    "\"stats\":{\"mean\":0.5,\"std\":0.123457,\"sharpness\":1.23457e6,\"saturation\":0.0,"
    "\"clip_low\":0.0,\"clip_high\":1e-7},"
    "\"src\":\"cam07/img_0012.jpg\","
    "\"seen\":[{\"path\":\"cam07/img_0012.jpg\",\"batch\":\"2024-06-01\",\"device\":\"cam07\","
    "\"time\":\"2024-06-01T10:00:00+02:00\"},"
    "{\"path\":\"b\\\\\\\\x\\\\xff.jpg\",\"batch\":\"b2\",\"device\":null,\"time\":null}],"
    "\"cluster\":null,\"label\":\"leopard\",\"split\":\"train\",\"split_note\":null,"
    "\"group\":\"cam07\","
    "\"aug\":{\"flip\":true,\"gain\":0.333333,\"rot\":90},"
    "\"pixels\":\"ffeeddccbbaa99887766554433221100\",\"zeta\":1}\n";

Test(manifest, golden_line_fixed_key_order)
{
  es_manifest m = {0};
  es_item it;
  golden_item(&it);
  es_error err = {0};
  cr_assert_eq(es_manifest_add(&m, &it, &err), ES_OK);
  cr_assert_eq(it.seen, NULL, "add takes ownership");
  size_t len;
  char *s = serialize_ok(&m, &len);
  cr_assert_str_eq(s, golden_line);

  /* And back: every field, the raw path bytes included. */
  es_manifest p = {0};
  parse_ok(s, &p);
  cr_assert_eq(p.n, 1);
  es_item *q = &p.items[0];
  cr_assert_str_eq(q->id, "00112233445566778899aabbccddeeff");
  cr_assert_str_eq(q->format, "jpeg");
  cr_assert_eq(q->width, 640);
  cr_assert_eq(q->height, 480);
  cr_assert_eq(q->channels, 3);
  cr_assert_eq(q->bytes, 53211);
  cr_assert_eq(q->phash, 0x8f3e0000a1b2c3d4ULL);
  cr_assert_eq(q->stats.std, 0.123457);
  cr_assert_eq(q->stats.sharpness, 1.23457e6);
  cr_assert_eq(q->n_seen, 2);
  cr_assert_str_eq(q->seen[1].path, "b\\x\xff.jpg");
  cr_assert_null(q->seen[1].device);
  cr_assert_null(q->seen[1].time);
  cr_assert_str_eq(q->seen[0].time, "2024-06-01T10:00:00+02:00");
  cr_assert_str_eq(q->cluster, "");
  cr_assert_str_eq(q->label, "leopard");
  cr_assert_null(q->split_note);
  cr_assert_str_eq(json_string_value(json_object_get(q->extra, "pixels")),
                   "ffeeddccbbaa99887766554433221100");
  size_t len2;
  char *s2 = serialize_ok(&p, &len2);
  cr_assert_str_eq(s2, s);
  free(s);
  free(s2);
  es_manifest_free(&m);
  es_manifest_free(&p);
  es_manifest_free(&p); /* freeing twice is harmless */
}

Test(manifest, item_without_occurrences_has_no_src)
{
  es_item it = {0};
  strcpy(it.id, "ffffffffffffffffffffffffffffffff");
  strcpy(it.format, "png");
  strcpy(it.cluster, "00000000000000000000000000000000");
  es_error err = {0};
  json_t *j = es_item_to_json(&it, &err);
  cr_assert_not_null(j, "%s", err.msg);
  char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
  cr_assert_str_eq(s, "{\"id\":\"ffffffffffffffffffffffffffffffff\",\"format\":\"png\","
                      "\"width\":0,\"height\":0,\"channels\":0,\"bytes\":0,"
                      "\"phash\":\"0000000000000000\",\"stats\":{\"mean\":0.0,\"std\":0.0,"
                      "\"sharpness\":0.0,\"saturation\":0.0,\"clip_low\":0.0,\"clip_high\":0.0},"
                      "\"seen\":[],\"cluster\":\"00000000000000000000000000000000\","
                      "\"label\":null,\"split\":null,\"split_note\":null,\"group\":null}");
  es_item back;
  cr_assert_eq(es_item_from_json(j, &back, &err), ES_OK, "%s", err.msg);
  cr_assert_str_eq(back.cluster, it.cluster);
  cr_assert_eq(back.n_seen, 0);
  cr_assert_null(back.extra);
  es_item_free(&back);
  free(s);
  json_decref(j);
}

static char *dump_real(double v)
{
  json_t *j = es_json_real(v);
  cr_assert_not_null(j);
  char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_REAL_PRECISION(ES_FLOAT_DIGITS));
  json_decref(j);
  return s;
}

Test(manifest, float_formatting_golden)
{
  static const struct {
    double v;
    const char *text;
  } cases[] = {
      {0.0, "0.0"},
      {-0.0, "0.0"},
      {1.0, "1.0"},
      {-1.5, "-1.5"},
      {0.5, "0.5"},
      {100.0, "100.0"},
      {1.0 / 3.0, "0.333333"},
      {2.0 / 3.0, "0.666667"},
      {0.1 + 0.2, "0.3"},
      {123456.0, "123456.0"},
      {123456.7, "123457.0"},
      {999999.5, "1e6"},
      {1234567.0, "1.23457e6"},
      {0.0001234567, "0.000123457"},
      {0.00001234567, "1.23457e-5"},
      {1e-7, "1e-7"},
      {-2.5e-300, "-2.5e-300"},
      {1e100, "1e100"},
      {3.14159265358979, "3.14159"},
      {255.0, "255.0"},
      {127.49999, "127.5"},
      {-1e-320, "-9.99989e-321"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *s = dump_real(cases[i].v);
    cr_assert_str_eq(s, cases[i].text, "case %zu (%.17g)", i, cases[i].v);
    free(s);
  }
  /* JSON has no NaN or infinity. */
  char *s = dump_real(NAN);
  cr_assert_str_eq(s, "null");
  free(s);
  s = dump_real(-INFINITY);
  cr_assert_str_eq(s, "null");
  free(s);
  /* The value itself is rounded, so a record dumped at full precision says the same. */
  json_t *j = es_json_real(1.0 / 3.0);
  cr_assert_eq(json_real_value(j), 0.333333);
  json_decref(j);
}

Test(manifest, non_finite_stats_are_refused)
{
  es_item it = {0};
  strcpy(it.id, "ffffffffffffffffffffffffffffffff");
  strcpy(it.format, "png");
  it.stats.sharpness = NAN;
  es_error err = {0};
  cr_assert_null(es_item_to_json(&it, &err));
  cr_assert_eq(err.code, ES_EFORMAT);
  cr_assert(strstr(err.msg, "stat 'sharpness' is not a finite number"), "%s", err.msg);
  it.stats.sharpness = 0;
  it.extra = json_pack("{s:s}", "label", "sneaky");
  cr_assert_null(es_item_to_json(&it, &err));
  cr_assert(strstr(err.msg, "extra field 'label' is a manifest field"), "%s", err.msg);
  json_decref(it.extra);
  it.extra = NULL;
  it.label = (char *)"caf\xe9"; /* Latin-1, not UTF-8 */
  cr_assert_null(es_item_to_json(&it, &err));
  cr_assert(strstr(err.msg, "field 'label' is not valid UTF-8"), "%s", err.msg);
  it.label = NULL;
  strcpy(it.id, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF");
  cr_assert_null(es_item_to_json(&it, &err));
  cr_assert(strstr(err.msg, "is not 32 lowercase hex digits"), "%s", err.msg);
}

/* A random byte string without NUL, biased towards what breaks escapers: backslashes, 'x' and
 * hex digits after them, stray continuation bytes, overlongs, surrogates, 4-byte forms. */
static void random_path(uint64_t *s, char *out, size_t cap)
{
  static const char *const pieces[] = {
      "\\", "x", "\\x", "\\xff", "ff", "/", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x90\x86",
      "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8", "\x80", "\n",
      "\x01", "\"", "a", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xc2",
  };
  size_t n = rng_next(s) % 24, len = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t r = rng_next(s);
    char tmp[8];
    const char *p;
    if (r % 3 == 0) {
      tmp[0] = (char)(1 + (r >> 8) % 255);
      tmp[1] = '\0';
      p = tmp;
    } else {
      p = pieces[(r >> 8) % (sizeof pieces / sizeof *pieces)];
    }
    size_t k = strlen(p);
    if (len + k + 1 > cap)
      break;
    memcpy(out + len, p, k);
    len += k;
  }
  out[len] = '\0';
}

Test(manifest, path_escape_round_trips_any_bytes)
{
  uint64_t s = 0x9e3779b97f4a7c15ULL;
  es_error err = {0};
  for (int i = 0; i < 20000; i++) {
    char raw[128];
    random_path(&s, raw, sizeof raw);
    char *esc = es_path_escape(raw, &err);
    cr_assert_not_null(esc);
    /* jansson accepts it as a string, so it is valid UTF-8 ... */
    json_t *j = json_string(esc);
    cr_assert_not_null(j, "case %d: escape is not UTF-8", i);
    /* ... it survives a JSON text round trip ... */
    char *text = json_dumps(j, JSON_ENCODE_ANY);
    json_t *back = json_loads(text, JSON_DECODE_ANY, NULL);
    cr_assert_not_null(back);
    cr_assert_str_eq(json_string_value(back), esc);
    /* ... and comes back to exactly the raw bytes. */
    char *un = es_path_unescape(json_string_value(back), &err);
    cr_assert_not_null(un, "case %d: %s", i, err.msg);
    cr_assert_str_eq(un, raw, "case %d", i);
    /* Valid UTF-8 without backslashes is kept as it is. */
    json_t *as_is = strchr(raw, '\\') ? NULL : json_string(raw);
    if (as_is)
      cr_assert_str_eq(esc, raw, "case %d", i);
    json_decref(as_is);
    free(un);
    free(text);
    json_decref(back);
    json_decref(j);
    free(esc);
  }
}

Test(manifest, path_escape_golden_and_invalid)
{
  static const struct {
    const char *raw, *esc;
  } cases[] = {
      {"cam07/img_0012.jpg", "cam07/img_0012.jpg"},
      {"a\\b", "a\\\\b"},
      {"caf\xe9.jpg", "caf\\xe9.jpg"},
      {"caf\xc3\xa9.jpg", "caf\xc3\xa9.jpg"},
      {"\xc0\xaf", "\\xc0\\xaf"},                 /* overlong '/' */
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},         /* surrogate */
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"}, /* above U+10FFFF */
      {"\xf0\x9f\x90\x86", "\xf0\x9f\x90\x86"},     /* a leopard */
      {"\xe2\x82", "\\xe2\\x82"},                   /* truncated */
      {"line\nbreak", "line\nbreak"},
      {"", ""},
  };
  es_error err = {0};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *e = es_path_escape(cases[i].raw, &err);
    cr_assert_str_eq(e, cases[i].esc, "case %zu", i);
    char *u = es_path_unescape(e, &err);
    cr_assert_str_eq(u, cases[i].raw, "case %zu", i);
    free(e);
    free(u);
  }
  static const char *const bad[] = {
      "trailing\\", "\\q", "\\x4", "\\xZZ", "\\xFF", "\\x00", "\\x41", "\\xc3\\xa9",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cr_assert_null(es_path_unescape(bad[i], &err), "'%s' accepted", bad[i]);
    cr_assert_eq(err.code, ES_EFORMAT);
    cr_assert(strstr(err.msg, "bad path"), "%s", err.msg);
  }
}

static double random_real(uint64_t *s)
{
  uint64_t r = rng_next(s);
  double mant = (double)(r >> 11) / 9007199254740992.0; /* [0, 1) */
  int exp = (int)((r >> 3) % 40) - 20;
  double v = ldexp(mant, exp) * ((r & 1) ? -1 : 1);
  if (r % 17 == 0)
    v = 0;
  return v;
}

static void random_item(uint64_t *s, es_item *it, int k)
{
  es_error err = {0};
  memset(it, 0, sizeof *it);
  char buf[256];
  snprintf(it->id, sizeof it->id, "%016llx%016llx", (unsigned long long)rng_next(s),
           (unsigned long long)k);
  strcpy(it->format, (rng_next(s) & 1) ? "png" : "jpeg");
  it->width = (uint32_t)rng_next(s);
  it->height = (uint32_t)rng_next(s) % 5000;
  it->channels = 1 + (uint32_t)(rng_next(s) % 4);
  it->bytes = rng_next(s) >> 1;
  it->phash = rng_next(s);
  double *st[6] = {&it->stats.mean,       &it->stats.std,      &it->stats.sharpness,
                   &it->stats.saturation, &it->stats.clip_low, &it->stats.clip_high};
  for (int i = 0; i < 6; i++)
    *st[i] = random_real(s);
  size_t n_seen = rng_next(s) % 4;
  for (size_t i = 0; i < n_seen; i++) {
    random_path(s, buf, sizeof buf);
    char batch[32], dev[32];
    snprintf(batch, sizeof batch, "b%llu", (unsigned long long)(rng_next(s) % 9));
    snprintf(dev, sizeof dev, "cam%02llu", (unsigned long long)(rng_next(s) % 99));
    int r = (int)(rng_next(s) % 4);
    cr_assert_eq(es_item_add_seen(it, buf, batch, r & 1 ? dev : NULL,
                                  r & 2 ? "2024-01-02T03:04:05" : NULL, &err),
                 ES_OK);
  }
  if (rng_next(s) & 1)
    snprintf(it->cluster, sizeof it->cluster, "%016llx%016llx",
             (unsigned long long)rng_next(s), (unsigned long long)rng_next(s));
  if (rng_next(s) & 1)
    it->label = strdup((rng_next(s) & 1) ? "person" : "snow leopard \xe2\x9d\x84");
  if (rng_next(s) & 1)
    it->split = strdup("test2");
  if (rng_next(s) & 1)
    it->split_note = strdup("near items of train and test: excluded");
  if (rng_next(s) & 1)
    it->group = strdup("burst:3");
  if (rng_next(s) & 1) {
    it->extra = json_pack("{s:s, s:[f, i, n, {s:f, s:s}], s:f}", "pixels",
                          "0123456789abcdef0123456789abcdef", "aug", random_real(s), 7, "z",
                          random_real(s), "a", "x", "score", random_real(s));
    cr_assert_not_null(it->extra);
  }
}

/* Random manifests: serialize, parse, serialize gives the same bytes, whatever the line order,
 * and a torn last line costs only that line. */
Test(manifest, round_trip_is_byte_identical)
{
  uint64_t s = 42;
  es_error err = {0};
  for (int round = 0; round < 30; round++) {
    es_manifest m = {0};
    int n = (int)(rng_next(&s) % 60);
    for (int k = 0; k < n; k++) {
      es_item it;
      random_item(&s, &it, k);
      cr_assert_eq(es_manifest_add(&m, &it, &err), ES_OK);
    }
    size_t len1, len2;
    char *t1 = serialize_ok(&m, &len1);
    es_manifest p = {0};
    parse_ok(t1, &p);
    cr_assert_eq(p.n, m.n);
    char *t2 = serialize_ok(&p, &len2);
    cr_assert_eq(len1, len2);
    cr_assert_str_eq(t1, t2, "round %d", round);

    /* Paths and strings come back exactly. */
    es_manifest_sort(&m);
    for (size_t i = 0; i < m.n; i++) {
      es_item *a = &m.items[i], *b = es_manifest_find(&p, a->id);
      cr_assert_not_null(b);
      cr_assert_eq(a->n_seen, b->n_seen);
      for (size_t j = 0; j < a->n_seen; j++)
        cr_assert_str_eq(a->seen[j].path, b->seen[j].path);
      cr_assert_eq(a->phash, b->phash);
      cr_assert_eq(a->width, b->width);
      cr_assert_eq(a->bytes, b->bytes);
    }

    /* Reverse the lines: the same manifest. */
    char *rev = malloc(len1 + 1);
    size_t w = 0, end = len1;
    while (end > 0) {
      size_t start = end - 1;
      while (start > 0 && t1[start - 1] != '\n')
        start--;
      memcpy(rev + w, t1 + start, end - start);
      w += end - start;
      end = start;
    }
    rev[w] = '\0';
    es_manifest r = {0};
    parse_ok(rev, &r);
    size_t len3;
    char *t3 = serialize_ok(&r, &len3);
    cr_assert_str_eq(t3, t1);

    /* Torn: drop the final newline and a few bytes of the last line. The item is never
     * dropped: the parse fails naming the last line. Without just its final newline, the
     * complete last line is read. */
    if (m.n > 0) {
      size_t cut = 2 + rng_next(&s) % 20; /* 1 would leave a complete line */
      es_manifest torn = {0};
      int rc = es_manifest_parse((const uint8_t *)t1, len1 - cut, &torn, &err);
      cr_assert_eq(rc, ES_EFORMAT, "round %d: a torn last line was accepted", round);
      char want[64];
      snprintf(want, sizeof want, "line %zu: torn line", m.n);
      cr_assert(strstr(err.msg, want) == err.msg, "got '%s', want '%s ...'", err.msg, want);
      cr_assert_eq(torn.n, 0);
      cr_assert_null(torn.items);
      cr_assert_eq(es_manifest_parse((const uint8_t *)t1, len1 - 1, &torn, &err), ES_OK, "%s",
                   err.msg);
      cr_assert_eq(torn.n, m.n);
      es_manifest_free(&torn);
    }
    free(rev);
    free(t1);
    free(t2);
    free(t3);
    es_manifest_free(&m);
    es_manifest_free(&p);
    es_manifest_free(&r);
  }
}

/* Text from pieces that every escaping rule meets: control characters, quotes, backslashes,
 * '/', DEL, 2- to 4-byte UTF-8 and, when `invalid`, a byte that is not UTF-8. */
static void random_text(uint64_t *s, char *buf, size_t cap, int invalid)
{
  static const char *const pieces[] = {"a", "Z", " ", "\"", "\\", "/", "\x01", "\x1f", "\b",
                                       "\f", "\n", "\r", "\t", "\x7f", "\xc3\xa9",
                                       "\xe2\x9d\x84", "\xf0\x9d\x84\x9e", "u0041"};
  size_t n = 0, k = rng_next(s) % 12;
  buf[0] = '\0';
  for (size_t i = 0; i < k; i++) {
    const char *p = pieces[rng_next(s) % (sizeof pieces / sizeof *pieces)];
    if (n + strlen(p) + 2 > cap)
      break;
    strcpy(buf + n, p);
    n += strlen(p);
  }
  if (invalid) {
    buf[n++] = (char)0xff;
    buf[n] = '\0';
  }
}

/* es_manifest_serialize() writes an item's line itself; it must be byte for byte what jansson
 * makes of es_item_to_json() with the canonical flags, and where that refuses an item,
 * serialize fails with the same message. */
Test(manifest, direct_writer_equals_jansson_dump)
{
  uint64_t s = 7;
  const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(ES_FLOAT_DIGITS);
  char text[4][64];
  for (int round = 0; round < 3000; round++) {
    es_item it;
    random_item(&s, &it, round);
    int bad = rng_next(&s) % 10 == 0;
    for (int t = 0; t < 4; t++)
      random_text(&s, text[t], sizeof text[t], bad && t == 0);
    free(it.label);
    it.label = strdup(text[0]);
    if (it.n_seen) {
      free(it.seen[0].device);
      it.seen[0].device = strdup(text[1]);
    }
    if (rng_next(&s) & 1)
      snprintf(it.format, sizeof it.format, "%.15s", text[2]);
    if (it.extra) {
      json_object_set_new(it.extra, text[3], json_stringn("n\0ul", 4));
      json_object_set_new(it.extra, "\xc3\xa9t\xc3\xa9", json_real(random_real(&s)));
      json_object_set_new(it.extra, "flag", json_true());
    }
    it.stats.clip_low = rng_next(&s) & 1 ? -0.0 : it.stats.clip_low;

    es_error e1 = {0}, e2 = {0};
    json_t *j = es_item_to_json(&it, &e1);
    char *want = j ? json_dumps(j, flags) : NULL;
    es_manifest m = {0};
    cr_assert_eq(es_manifest_add(&m, &it, &e2), ES_OK);
    size_t len;
    char *got = es_manifest_serialize(&m, &len, &e2);
    if (!want) {
      cr_assert(bad || !j, "round %d", round);
      cr_assert_null(got, "round %d", round);
      cr_assert_str_eq(e2.msg, e1.msg);
    } else {
      cr_assert_not_null(got, "round %d: %s", round, e2.msg);
      cr_assert_eq(len, strlen(want) + 1, "round %d:\n%s\n%s", round, got, want);
      cr_assert(memcmp(got, want, len - 1) == 0 && got[len - 1] == '\n', "round %d:\n%s\n%s",
                round, got, want);
    }
    free(want);
    free(got);
    json_decref(j);
    es_manifest_free(&m);
  }
}

/* es_manifest_parse() of line + '\n' gives what jansson and es_item_from_json() give: the
 * same item (compared by its canonical bytes) or the same error. 1 when the line parsed. */
static int same_as_jansson(const char *line, size_t n, int round)
{
  char *text = malloc(n + 1);
  cr_assert_not_null(text);
  memcpy(text, line, n);
  text[n] = '\n';
  es_error e1 = {0}, e2 = {0}, err = {0};
  es_manifest got = {0};
  int rc1 = es_manifest_parse((const uint8_t *)text, n + 1, &got, &e1);
  json_error_t je;
  json_t *j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &je);
  es_item want;
  int rc2 = j ? es_item_from_json(j, &want, &e2) : ES_EFORMAT;
  char msg2[sizeof e2.msg + 16];
  snprintf(msg2, sizeof msg2, "line 1: %s", j ? e2.msg : je.text);
  json_decref(j);
  cr_assert_eq(rc1 == ES_OK, rc2 == ES_OK, "round %d: %.*s\n%s | %s", round, (int)n, line,
               e1.msg, msg2);
  if (rc1 == ES_OK) {
    es_manifest w = {0};
    cr_assert_eq(es_manifest_add(&w, &want, &err), ES_OK);
    size_t l1, l2;
    char *t1 = serialize_ok(&got, &l1), *t2 = serialize_ok(&w, &l2);
    cr_assert_str_eq(t1, t2, "round %d: %.*s", round, (int)n, line);
    free(t1);
    free(t2);
    es_manifest_free(&w);
  } else {
    cr_assert_str_eq(e1.msg, msg2, "round %d: %.*s", round, (int)n, line);
  }
  es_manifest_free(&got);
  free(text);
  return rc1 == ES_OK;
}

/* es_manifest_parse() reads lines in the canonical form itself and hands anything else to
 * jansson. On canonical lines and on lines mutated a byte or a span at a time, it must give
 * what jansson and es_item_from_json() give: the same item (compared by its canonical bytes)
 * or the same error. */
Test(manifest, direct_reader_equals_jansson_parse)
{
  static const char bytes[] = "\"\\0129a-.e,:}]{[ nu/\x01\xc3\xff";
  uint64_t s = 11;
  char text[3][64];
  size_t fast_ok = 0;
  for (int round = 0; round < 4000; round++) {
    es_item it;
    random_item(&s, &it, round);
    for (int t = 0; t < 3; t++)
      random_text(&s, text[t], sizeof text[t], 0);
    free(it.label);
    /* A label must be a valid class name (the reader refuses others, formats/labels.h): one
     * that is not is replaced by a valid one that still needs escaping. */
    it.label = strdup(es_label_invalid(text[0]) ? "q\"b\\s \xc3\xa9\xe2\x9d\x84" : text[0]);
    if (it.n_seen) {
      free(it.seen[0].device);
      it.seen[0].device = strdup(text[1]);
    }
    if (rng_next(&s) & 1) {
      json_decref(it.extra);
      it.extra = json_pack("{s:s, s:s}", "pixels", text[2], "note", "x\xe2\x9d\x84");
    }
    es_manifest m = {0};
    es_error err = {0};
    cr_assert_eq(es_manifest_add(&m, &it, &err), ES_OK);
    size_t len;
    char *line = serialize_ok(&m, &len);
    es_manifest_free(&m);
    /* Mutate: none, a byte replaced, removed or added, or a span repeated. */
    char *mut = malloc(2 * len + 2);
    size_t n = len - 1, at = rng_next(&s) % n, span = 1 + rng_next(&s) % 24;
    switch (round % 5) {
    case 0:
      memcpy(mut, line, n);
      break;
    case 1:
      memcpy(mut, line, n);
      mut[at] = bytes[rng_next(&s) % (sizeof bytes - 1)];
      break;
    case 2:
      memcpy(mut, line, at);
      memcpy(mut + at, line + at + 1, n - at - 1);
      n--;
      break;
    case 3:
      memcpy(mut, line, at);
      mut[at] = bytes[rng_next(&s) % (sizeof bytes - 1)];
      memcpy(mut + at + 1, line + at, n - at);
      n++;
      break;
    default:
      span = at + span > n ? n - at : span;
      memcpy(mut, line, at + span);
      memcpy(mut + at + span, line + at, n - at);
      n += span;
    }
    fast_ok += same_as_jansson(mut, n, round) && round % 5 == 0;
    free(mut);
    free(line);
  }
  cr_assert_eq(fast_ok, 800);
}

/* The same on canonical lines whose values are the edge cases of JSON numbers, integers,
 * escapes and value types. */
Test(manifest, direct_reader_edge_values)
{
  static const char *const widths[] = {"640", "0640", "0", "-1", "4294967295", "4294967296",
                                       "1.0", "1e2", "99999999999999999999"};
  static const char *const means[] = {"1",   "-0",   "0.5", "1e999", "-1e999", "1e-400", "01.5",
                                      "1.",  "-",    ".5",  "1e+5",  "1E5",    "-0.0",
                                      "123456789012345678", "1234567890123456789",
                                      "12345678901234567890"};
  static const char *const labels[] = {"\"x\"",       "null",         "\"\\u0000\"",
                                       "\"\\ud800\"", "\"\\udc00\"",  "\"\\ud83d\\ude00\"",
                                       "\"\\u00e9\"", "\"\\/\\b\\f\"", "\"\\q\"",
                                       "\"a\\u00\"",  "5",            "\"\\uD83D\\uDE00\""};
  static const char *const extras[] = {"\"p\"", "1", "[1]", "null", "\"\\u0041\"", "\"\\u0000\""};
  char line[1024];
  int round = 0, parsed = 0;
  for (size_t a = 0; a < sizeof widths / sizeof *widths; a++)
    for (size_t b = 0; b < sizeof means / sizeof *means; b++)
      for (size_t c = 0; c < sizeof labels / sizeof *labels; c++)
        for (size_t d = 0; d < sizeof extras / sizeof *extras; d++) {
          int n = snprintf(
              line, sizeof line,
              "{\"id\":\"00112233445566778899aabbccddeeff\",\"format\":\"jpeg\",\"width\":%s,"
              "\"height\":2,\"channels\":3,\"bytes\":4,\"phash\":\"0123456789abcdef\","
              "\"stats\":{\"mean\":%s,\"std\":0.0,\"sharpness\":1.0,\"saturation\":0.5,"
              "\"clip_low\":0.0,\"clip_high\":0.0},\"src\":\"a\",\"seen\":[{\"path\":\"a\","
              "\"batch\":\"b\",\"device\":null,\"time\":null}],\"cluster\":null,\"label\":%s,"
              "\"split\":null,\"split_note\":null,\"group\":null,\"pixels\":%s}",
              widths[a], means[b], labels[c], extras[d]);
          parsed += same_as_jansson(line, (size_t)n, round++);
        }
  cr_assert_gt(parsed, 100);
}

Test(manifest, unknown_fields_are_kept_and_sorted)
{
  const char *line =
      "{\"zz\":[1,{\"b\":2,\"a\":1.50}],\"id\":\"0123456789abcdef0123456789abcdef\","
      "\"format\":\"png\",\"width\":1,\"height\":2,\"channels\":3,\"bytes\":4,"
      "\"phash\":\"00000000000000ff\",\"stats\":{\"clip_high\":1,\"clip_low\":0,\"saturation\":0,"
      "\"sharpness\":0,\"std\":0,\"mean\":-0.0},\"seen\":[],\"derived_from\":\"ab\"}";
  es_manifest m = {0};
  parse_ok(line, &m); /* also: no final newline, but complete, so it counts */
  cr_assert_eq(m.n, 1);
  cr_assert_eq(json_object_size(m.items[0].extra), 2);
  size_t len;
  char *s = serialize_ok(&m, &len);
  cr_assert_str_eq(s, "{\"id\":\"0123456789abcdef0123456789abcdef\",\"format\":\"png\","
                      "\"width\":1,\"height\":2,\"channels\":3,\"bytes\":4,"
                      "\"phash\":\"00000000000000ff\",\"stats\":{\"mean\":0.0,\"std\":0.0,"
                      "\"sharpness\":0.0,\"saturation\":0.0,\"clip_low\":0.0,\"clip_high\":1.0},"
                      "\"seen\":[],\"cluster\":null,\"label\":null,\"split\":null,"
                      "\"split_note\":null,\"group\":null,\"derived_from\":\"ab\","
                      "\"zz\":[1,{\"a\":1.5,\"b\":2}]}\n");
  free(s);
  es_manifest_free(&m);
}

Test(manifest, empty_input_and_find)
{
  es_manifest m = {0};
  parse_ok("", &m);
  cr_assert_eq(m.n, 0);
  size_t len = 99;
  char *s = serialize_ok(&m, &len);
  cr_assert_eq(len, 0);
  free(s);
  cr_assert_null(es_manifest_find(&m, "00112233445566778899aabbccddeeff"));
  es_item it;
  golden_item(&it);
  es_error err = {0};
  cr_assert_eq(es_manifest_add(&m, &it, &err), ES_OK);
  cr_assert_not_null(es_manifest_find(&m, "00112233445566778899aabbccddeeff"));
  cr_assert_null(es_manifest_find(&m, "00112233445566778899aabbccddeef0"));
  es_manifest_free(&m);
}

#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "1123456789abcdef0123456789abcdef"
#define STATS                                                                                 \
  "\"stats\":{\"mean\":0.0,\"std\":0.0,\"sharpness\":0.0,\"saturation\":0.0,\"clip_low\":0.0," \
  "\"clip_high\":0.0}"
#define LINE(id) "{\"id\":\"" id "\",\"format\":\"png\",\"width\":1,\"height\":1,\"channels\":1," \
                 "\"bytes\":1,\"phash\":\"0000000000000000\"," STATS ",\"seen\":[]}\n"

Test(manifest, malformed_lines_name_line_and_reason)
{
  static const struct {
    const char *text, *msg;
  } cases[] = {
      {LINE(ID1) "{\"id\":\n" LINE(ID2), "line 2: "},
      {LINE(ID1) "[1,2]\n", "line 2: not a JSON object"},
      {"\n\n{\"id\":7}\n", "line 3: field 'id' is not a string"},
      {"{\"id\":\"0123\"}\n", "line 1: field 'id' is not 32 lowercase hex digits"},
      {"{\"id\":\"0123456789ABCDEF0123456789ABCDEF\"}\n", "line 1: field 'id' is not 32"},
      {"{\"id\":\"" ID1 "\"}\n", "line 1: field 'format' is missing"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":-1}\n",
       "line 1: field 'width' is not an integer from 0 to 4294967295"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":4294967296}\n",
       "line 1: field 'width' is not an integer"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":1.5}\n", "field 'width' is not an integer"},
      {"{\"id\":\"" ID1 "\",\"format\":\"a-very-long-format-name\"}\n",
       "line 1: field 'format' is longer than 15 bytes"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":1,\"height\":1,\"channels\":1,"
       "\"bytes\":1,\"phash\":\"ABCDEF0000000000\"}\n",
       "line 1: field 'phash' is not 16 lowercase hex digits"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":1,\"height\":1,\"channels\":1,"
       "\"bytes\":1,\"phash\":12}\n",
       "line 1: field 'phash' is not a string"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":1,\"height\":1,\"channels\":1,"
       "\"bytes\":1,\"phash\":\"0000000000000000\",\"stats\":{\"mean\":0}}\n",
       "line 1: field 'stats.std' is missing"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":1,\"height\":1,\"channels\":1,"
       "\"bytes\":1,\"phash\":\"0000000000000000\",\"stats\":{\"mean\":\"dark\"}}\n",
       "line 1: field 'stats.mean' is not a number"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":1,\"height\":1,\"channels\":1,"
       "\"bytes\":1,\"phash\":\"0000000000000000\"," STATS "}\n",
       "line 1: field 'seen' is missing"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":1,\"height\":1,\"channels\":1,"
       "\"bytes\":1,\"phash\":\"0000000000000000\"," STATS ",\"seen\":[{\"batch\":\"b\"}]}\n",
       "line 1: field 'seen[0]' key 'path' is missing"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":1,\"height\":1,\"channels\":1,"
       "\"bytes\":1,\"phash\":\"0000000000000000\"," STATS
       ",\"seen\":[{\"path\":\"a\\\\q\",\"batch\":\"b\"}]}\n",
       "line 1: field 'seen[0].path': bad path 'a\\q'"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":1,\"height\":1,\"channels\":1,"
       "\"bytes\":1,\"phash\":\"0000000000000000\"," STATS
       ",\"seen\":[{\"path\":\"a\",\"batch\":\"b\",\"camera\":1}]}\n",
       "line 1: field 'seen[0]' has an unknown key 'camera'"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":1,\"height\":1,\"channels\":1,"
       "\"bytes\":1,\"phash\":\"0000000000000000\"," STATS
       ",\"src\":\"b\",\"seen\":[{\"path\":\"a\",\"batch\":\"b\"}]}\n",
       "line 1: field 'src' is not the path of seen[0]"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":1,\"height\":1,\"channels\":1,"
       "\"bytes\":1,\"phash\":\"0000000000000000\"," STATS ",\"src\":\"a\",\"seen\":[]}\n",
       "line 1: field 'src' is present but 'seen' is empty"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":1,\"height\":1,\"channels\":1,"
       "\"bytes\":1,\"phash\":\"0000000000000000\"," STATS ",\"seen\":[],\"cluster\":\"x\"}\n",
       "line 1: field 'cluster' is not null or an id"},
      {"{\"id\":\"" ID1 "\",\"format\":\"png\",\"width\":1,\"height\":1,\"channels\":1,"
       "\"bytes\":1,\"phash\":\"0000000000000000\"," STATS ",\"seen\":[],\"label\":3}\n",
       "line 1: field 'label' is not a string or null"},
      {"{\"id\":\"" ID1 "\",\"id\":\"" ID1 "\"}\n", "line 1: duplicate object key"},
      {LINE(ID1) LINE(ID2) LINE(ID1), "line 3: duplicate id '" ID1 "' (also on line 1)"},
      {LINE(ID1) "{\"id\":\"" ID2 "\",\"format\":\"png\"}", "line 2: field 'width' is missing"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    es_manifest m = {0};
    es_error err = {0};
    int rc = es_manifest_parse((const uint8_t *)cases[i].text, strlen(cases[i].text), &m, &err);
    cr_assert_eq(rc, ES_EFORMAT, "case %zu accepted", i);
    cr_assert(strstr(err.msg, cases[i].msg), "case %zu: got '%s', want '%s'", i, err.msg,
              cases[i].msg);
    cr_assert_eq(m.n, 0, "case %zu: items left after an error", i);
    cr_assert_null(m.items);
  }
  /* A torn (unparsable, unterminated) last line is an error like any other: skipping it would
   * lose its item (edgeset never writes one: the manifest is replaced atomically). */
  es_manifest m = {0};
  es_error err = {0};
  static const char torn[] = LINE(ID1) "{\"id\":\"" ID2 "\",\"form";
  cr_assert_eq(es_manifest_parse((const uint8_t *)torn, strlen(torn), &m, &err), ES_EFORMAT);
  cr_assert(strstr(err.msg, "line 2: torn line"), "%s", err.msg);
  cr_assert_eq(m.n, 0);
  cr_assert_null(m.items);
  /* Garbage in the middle names its line. */
  static const char mid[] = LINE(ID1) "#garbage\n" LINE(ID2);
  cr_assert_eq(es_manifest_parse((const uint8_t *)mid, strlen(mid), &m, &err), ES_EFORMAT);
  cr_assert(strstr(err.msg, "line 2: ") == err.msg, "%s", err.msg);
  /* Empty lines are not items; a complete last line without its newline is read. */
  static const char ok[] = "\n" LINE(ID1) "\n \t\n" LINE(ID2);
  parse_ok(ok, &m);
  cr_assert_eq(m.n, 2);
  es_manifest_free(&m);
  char *unterminated = strndup(ok, strlen(ok) - 1);
  parse_ok(unterminated, &m);
  cr_assert_eq(m.n, 2);
  es_manifest_free(&m);
  free(unterminated);
}

/* Mutated lines never crash the parser, and whatever it accepts is a fixed point of
 * serialize-then-parse (what the fuzz target checks, here on every run). */
Test(manifest, mutations_parse_or_fail_cleanly)
{
  es_manifest m = {0};
  es_item it;
  golden_item(&it);
  es_error err = {0};
  cr_assert_eq(es_manifest_add(&m, &it, &err), ES_OK);
  size_t len;
  char *base = serialize_ok(&m, &len);
  es_manifest_free(&m);
  uint64_t s = 7;
  int accepted = 0;
  char *buf = malloc(len + 8);
  for (int i = 0; i < 20000; i++) {
    memcpy(buf, base, len);
    size_t n = len;
    int edits = 1 + (int)(rng_next(&s) % 3);
    for (int e = 0; e < edits; e++) {
      size_t at = rng_next(&s) % n;
      uint64_t r = rng_next(&s);
      if (r % 3 == 0)
        buf[at] = (char)(r >> 8);
      else if (r % 3 == 1 && n > 1) {
        memmove(buf + at, buf + at + 1, n - at - 1);
        n--;
      } else
        buf[at] = "0123456789abcdef\\\"{}[],:.-x"[(r >> 8) % 28];
    }
    es_manifest p = {0};
    if (es_manifest_parse((const uint8_t *)buf, n, &p, &err) == ES_OK) {
      accepted++;
      size_t l1, l2;
      char *t1 = es_manifest_serialize(&p, &l1, &err);
      cr_assert_not_null(t1, "%s", err.msg);
      es_manifest q = {0};
      cr_assert_eq(es_manifest_parse((const uint8_t *)t1, l1, &q, &err), ES_OK, "%s", err.msg);
      char *t2 = es_manifest_serialize(&q, &l2, &err);
      cr_assert_str_eq(t1, t2);
      free(t1);
      free(t2);
      es_manifest_free(&q);
    }
    es_manifest_free(&p);
  }
  cr_log_info("%d of 20000 mutants parsed", accepted);
  free(buf);
  free(base);
}
