/* A union-find over item numbers, the smaller number always the root, so that roots (and
 * everything numbered from them) do not depend on the order of the unions. Used by split (groups)
 * and drift (units of evidence). p[x] == x for a root; initialise p[i] = i. */
#ifndef ES_CORE_UNIONFIND_H
#define ES_CORE_UNIONFIND_H

#include <stdint.h>

static inline uint32_t es_uf_find(uint32_t *p, uint32_t x)
{
  while (p[x] != x) {
    p[x] = p[p[x]]; /* path halving */
    x = p[x];
  }
  return x;
}

static inline void es_uf_union(uint32_t *p, uint32_t a, uint32_t b)
{
  a = es_uf_find(p, a);
  b = es_uf_find(p, b);
  if (a != b)
    p[a > b ? a : b] = a < b ? a : b;
}

#endif
