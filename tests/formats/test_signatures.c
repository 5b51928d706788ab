/* es_sigs_sort: sorted by id, one entry per id, the signature put last winning, whatever the
 * shape of the input (already sorted; a sorted file plus a few new puts, with ids the file has;
 * mostly unsorted): checked against a plain model on random cases. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "core/hash.h"
#include "formats/signatures.h"

static uint64_t rng(uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  return z ^ (z >> 31);
}

static void id_of(unsigned k, char hex[33])
{
  char key[16];
  snprintf(key, sizeof key, "%u", k);
  es_hash_hex(key, strlen(key), hex);
}

Test(signatures, sort_keeps_the_last_put_of_each_id)
{
  uint64_t seed = 7;
  for (int round = 0; round < 300; round++) {
    es_sigs s = {0};
    es_error err;
    unsigned universe = 5 + (unsigned)(rng(&seed) % 200);
    unsigned last[256]; /* the value put last for each key, 0: none */
    memset(last, 0, sizeof last);
    /* a sorted "file" first (every key once, or a sample), then puts in any order */
    unsigned file = (unsigned)(rng(&seed) % universe), puts = (unsigned)(rng(&seed) % 40);
    if (round % 3 == 2)
      puts += universe * 2; /* mostly unsorted */
    char hex[33];
    for (unsigned k = 0; k < file; k++) {
      es_near_sig g = {.side = (uint16_t)(1000 + k)};
      id_of(k, hex);
      cr_assert_eq(es_sigs_put(&s, hex, &g, &err), ES_OK);
      last[k] = 1000 + k;
    }
    cr_assert_eq(es_sigs_sort(&s, &err), ES_OK);
    for (unsigned q = 0; q < puts; q++) {
      unsigned k = (unsigned)(rng(&seed) % universe);
      es_near_sig g = {.side = (uint16_t)(2000 + q)};
      id_of(k, hex);
      cr_assert_eq(es_sigs_put(&s, hex, &g, &err), ES_OK);
      last[k] = 2000 + q;
    }
    cr_assert_eq(es_sigs_sort(&s, &err), ES_OK);
    size_t want = 0;
    for (unsigned k = 0; k < universe; k++)
      want += last[k] != 0;
    cr_assert_eq(s.n, want, "round %d: %zu entries, want %zu", round, s.n, want);
    for (size_t i = 1; i < s.n; i++)
      cr_assert_lt(memcmp(s.id[i - 1], s.id[i], 16), 0, "round %d: not sorted at %zu", round, i);
    for (unsigned k = 0; k < universe; k++) {
      id_of(k, hex);
      const es_near_sig *g = es_sigs_find(&s, hex);
      if (!last[k])
        cr_assert_null(g);
      else
        cr_assert(g && g->side == last[k], "round %d key %u: %u, want %u", round, k,
                  g ? g->side : 0, last[k]);
    }
    es_sigs_free(&s);
  }
}
