/* split's near-duplicate join (split/near_join.c: plain, POPCNT or AVX-512 VPOPCNTDQ scan,
 * picked within the EDGESET_ISA cap) finds the same pairs in the same order under every cap as
 * under `portable`. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "capcheck.h"
#include "mkmanifest.h"
#include "split/split.h"
#include "split/split_internal.h"

enum { N = 6000, MAXPAIRS = 200000 };

typedef struct join_ctx {
  es_index ix;
  uint32_t build[N], qs[N];
  size_t nb, nq;
} join_ctx;

typedef struct join_out {
  size_t np[5];
  es__near_pair pairs[MAXPAIRS];
} join_out;

/* The join built under the cap, so it picks the cap's scan. */
static void join_all(void *out, void *ctx)
{
  join_ctx *x = ctx;
  join_out *o = out;
  size_t at = 0;
  es_error err = {0};
  for (unsigned r = 0, k = 0; r <= 16; r += 4, k++) {
    es__near_join *j = es__near_join_build(&x->ix, x->build, x->nb, &(es_split_near){{r, 0, 0}, NULL}, &err);
    cr_assert_not_null(j, "%s", err.msg);
    es__near_pair *p = NULL;
    size_t np = 0;
    cr_assert_eq(es__near_join_pairs(j, &x->ix, x->qs, x->nq, 2, &p, &np, &err), ES_OK, "%s",
                 err.msg);
    cr_assert_leq(at + np, MAXPAIRS);
    o->np[k] = np;
    for (size_t i = 0; i < np; i++) /* field by field: no padding bytes compared */
      o->pairs[at + i] = (es__near_pair){.q = p[i].q, .ref = p[i].ref, .dist = p[i].dist};
    at += np;
    free(p);
    es__near_join_free(j);
  }
}

Test(cpu_cap, near_join_same_under_every_cap)
{
  es_manifest m = {0};
  for (unsigned k = 0; k < N; k++) /* bursts: a base and three copies 0..12 bits away */
    mk_add(&m, &(mk_item){k, k % 4 ? mk_flip(mk_hash(k - k % 4), (k * 5) % 13, k) : mk_hash(k),
                          "a", -1, NULL, -1, NULL, -1, NULL});
  join_ctx *x = calloc(1, sizeof *x);
  cr_assert(x);
  mk_index(&m, &x->ix);
  for (uint32_t i = 0; i < N; i++) {
    if (i % 3)
      x->build[x->nb++] = i;
    else
      x->qs[x->nq++] = i;
  }
  cap_same_bytes(join_all, x, sizeof(join_out), "near join");
  es_index_free(&x->ix);
  free(x);
  es_manifest_free(&m);
}
