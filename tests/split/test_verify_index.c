/* Unit tests of es_split_verify (each kind of leak, built by hand) and of the binary index
 * (round trip, damage, staleness). */
#include <criterion/criterion.h>
#include <string.h>

#include "core/isotime.h"
#include "mkmanifest.h"
#include "split/split.h"

/* synthetic phashes without signatures: the relation of a version 1 dataset at radius 10 */
static const es_split_near PHASH10 = {{10, 0, 0}, NULL};

static int has_kind(const json_t *p, const char *kind, const char *key, const char *want)
{
  for (size_t i = 0; i < json_array_size(p); i++) {
    const json_t *e = json_array_get(p, i);
    if (strcmp(json_string_value(json_object_get(e, "kind")), kind))
      continue;
    if (!key || !strcmp(json_string_value(json_object_get(e, key)), want))
      return 1;
  }
  return 0;
}

Test(split_verify, finds_each_kind_of_leak)
{
  es_manifest m = {0};
  es_error err = {0};
  uint64_t h = mk_hash(5);
  /* clean part */
  for (unsigned k = 0; k < 30; k++)
    mk_add(&m, &(mk_item){k, mk_hash(100 + k), "a", -1, NULL, -1, k % 3 ? "train" : "test", -1,
                          NULL});
  /* a cluster across train and val */
  mk_add(&m, &(mk_item){50, h, "a", -1, NULL, -1, "train", -1, NULL});
  mk_add(&m, &(mk_item){51, mk_flip(h, 2, 0), "a", 50, NULL, -1, "val", -1, NULL});
  /* a train item 3 bits from a test item, in different clusters */
  uint64_t g = mk_hash(6);
  mk_add(&m, &(mk_item){60, g, "a", -1, NULL, -1, "test", -1, NULL});
  mk_add(&m, &(mk_item){61, mk_flip(g, 3, 20), "a", -1, NULL, -1, "train", -1, NULL});
  /* an augmented item in train whose source is in test2 */
  mk_add(&m, &(mk_item){70, mk_hash(7), "a", -1, NULL, -1, "test2", -1, NULL});
  mk_add(&m, &(mk_item){71, mk_hash(8), "a", -1, NULL, -1, "train", 70, NULL});
  es_index ix;
  mk_index(&m, &ix);
  /* a group across splits: two items share a group name */
  uint32_t gs;
  cr_assert_eq(es_index_intern(&ix, "device:cam9", &gs, &err), ES_OK);
  ix.items[mk_find(&ix, 1)].group = gs; /* train */
  ix.items[mk_find(&ix, 3)].group = gs; /* test */
  json_t *p = es_split_verify(&ix, &PHASH10, 2, &err);
  cr_assert_not_null(p, "%s", err.msg);
  char id[33];
  mk_id(50, id);
  cr_assert(has_kind(p, "cluster-spans-splits", "cluster", id), "%s", json_dumps(p, 0));
  cr_assert(has_kind(p, "group-spans-splits", "group", "device:cam9"), "%s", json_dumps(p, 0));
  mk_id(61, id);
  cr_assert(has_kind(p, "near-held-out", "item", id), "%s", json_dumps(p, 0));
  mk_id(71, id);
  cr_assert(has_kind(p, "augmented-outside-source", "item", id), "%s", json_dumps(p, 0));
  cr_assert_eq(json_array_size(p), 4, "%s", json_dumps(p, 0));
  json_decref(p);
  /* the same result with one thread */
  p = es_split_verify(&ix, &PHASH10, 1, &err);
  cr_assert_eq(json_array_size(p), 4);
  json_decref(p);
  es_index_free(&ix);
  es_manifest_free(&m);
}

Test(index, round_trip_and_damage)
{
  es_manifest m = {0};
  es_error err = {0};
  for (unsigned k = 0; k < 40; k++)
    mk_add(&m, &(mk_item){k, mk_hash(k), k % 2 ? "cat" : NULL, k % 5 ? (int)(k - k % 5) : -1,
                          k % 3 ? "cam1" : NULL, k % 7 ? (long long)k * 60 : -1,
                          k % 4 ? "train" : NULL, k == 39 ? 1 : -1, NULL});
  es_manifest_sort(&m);
  es_index ix, back;
  cr_assert_eq(es_index_from_manifest(&m, 1234, "0123456789abcdef0123456789abcdef", &ix, &err),
               ES_OK);
  size_t len;
  uint8_t *b = es_index_serialize(&ix, &len, &err);
  cr_assert_not_null(b);
  cr_assert_eq(es_index_parse(b, len, &back, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(back.n, ix.n);
  cr_assert_eq(back.manifest_size, 1234);
  cr_assert_str_eq(back.manifest_hash, "0123456789abcdef0123456789abcdef");
  for (size_t i = 0; i < ix.n; i++) {
    cr_assert_eq(memcmp(back.items[i].id, ix.items[i].id, 16), 0);
    cr_assert_eq(back.items[i].phash, ix.items[i].phash);
    cr_assert_eq(back.items[i].time, ix.items[i].time);
    cr_assert_eq(back.items[i].cluster, ix.items[i].cluster);
    cr_assert_eq(back.items[i].derived_from, ix.items[i].derived_from);
    const char *a = es_index_str(&ix, ix.items[i].label), *c = es_index_str(&back, back.items[i].label);
    cr_assert((!a && !c) || (a && c && !strcmp(a, c)));
    a = es_index_str(&ix, ix.items[i].split);
    c = es_index_str(&back, back.items[i].split);
    cr_assert((!a && !c) || (a && c && !strcmp(a, c)));
    cr_assert_eq(memcmp(back.items[i].stats, ix.items[i].stats, sizeof ix.items[i].stats), 0);
  }
  es_index_free(&back);
  /* every single damaged byte and every truncation is refused */
  for (size_t k = 0; k < len; k += 7) {
    b[k] ^= 0x40;
    cr_assert_eq(es_index_parse(b, len, &back, &err), ES_EFORMAT, "byte %zu", k);
    b[k] ^= 0x40;
  }
  for (size_t l = 0; l < len; l += 13)
    cr_assert_eq(es_index_parse(b, l, &back, &err), ES_EFORMAT, "length %zu", l);
  free(b);
  es_index_free(&ix);
  es_manifest_free(&m);
}

Test(index, iso_times)
{
  int64_t t;
  cr_assert_eq(es_time_seconds("1970-01-01T00:00:00Z", &t), 0);
  cr_assert_eq(t, 0);
  cr_assert_eq(es_time_seconds("2024-06-01T10:00:00+02:00", &t), 0);
  cr_assert_eq(t, 1717228800);
  cr_assert_eq(es_time_seconds("2024-06-01T08:00:00.123", &t), 0);
  cr_assert_eq(t, 1717228800);
  cr_assert_eq(es_time_seconds("2024-06-01T08:00:00-05:30", &t), 0);
  cr_assert_eq(t, 1717228800 + 5 * 3600 + 1800);
  cr_assert_eq(es_time_seconds("2024-13-01T08:00:00", &t), -1);
  cr_assert_eq(es_time_seconds("2024-06-01 08:00", &t), -1);
  cr_assert_eq(es_time_seconds("2024-06-01T08:00:00Zjunk", &t), -1);
}
