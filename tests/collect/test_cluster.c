/* Deriving clusters from a manifest: canonical order, no chaining, variants with their source. */
#include <criterion/criterion.h>
#include <string.h>

#include "formats/clusters.h"

static void add(es_manifest *m, const char *id, uint64_t phash, const char *batch,
                const char *derived)
{
  es_item it;
  memset(&it, 0, sizeof it);
  snprintf(it.id, sizeof it.id, "%s", id);
  snprintf(it.format, sizeof it.format, "png");
  it.width = it.height = it.channels = 1;
  it.phash = phash;
  if (batch)
    cr_assert_eq(es_item_add_seen(&it, id, batch, NULL, NULL, NULL), ES_OK);
  if (derived) {
    it.extra = json_object();
    json_object_set_new(it.extra, "derived_from", json_string(derived));
  }
  cr_assert_eq(es_manifest_add(m, &it, NULL), ES_OK);
}

#define ID(c) c "0000000000000000000000000000000"

Test(cluster, canonical_order_no_chaining_and_variants)
{
  es_manifest m = {0};
  es_strmap seq = {0};
  es_strmap_put(&seq, "b1", 0, NULL);
  es_strmap_put(&seq, "b2", 1, NULL);
  /* a: rep of batch 1; c is 8 bits from a; d is 8 bits from c but 16 from a: no chaining. */
  add(&m, ID("a"), 0x0ULL, "b1", NULL);
  add(&m, ID("c"), 0xffULL, "b2", NULL);
  add(&m, ID("d"), 0xffffULL, "b2", NULL);
  /* v: a variant of d whose pixels (hash) are far from everything. */
  add(&m, ID("f"), 0xffffffff00000000ULL, NULL, ID("d"));
  /* b is in batch 2 but within reach of a: joins a, however its id sorts. */
  add(&m, ID("b"), 0x3ULL, "b2", NULL);
  es_manifest_sort(&m);
  size_t n = 0;
  const es_near_rel rel = {10, 0, 0}; /* a version 1 dataset: the phash alone */
  cr_assert_eq(es_clusters_derive(&m, &rel, NULL, &seq, 0, 2, &n, NULL), ES_OK);
  cr_assert_str_eq(es_manifest_find(&m, ID("a"))->cluster, ID("a"));
  cr_assert_str_eq(es_manifest_find(&m, ID("b"))->cluster, ID("a"));
  cr_assert_str_eq(es_manifest_find(&m, ID("c"))->cluster, ID("a"));
  cr_assert_str_eq(es_manifest_find(&m, ID("d"))->cluster, ID("d"), "d must not chain via c");
  cr_assert_str_eq(es_manifest_find(&m, ID("f"))->cluster, ID("d"), "a variant joins its source");
  cr_assert_eq(n, 2);
  es_manifest_free(&m);
  es_strmap_free(&seq);
}
