/* Near-duplicate index: multi-index hashing over 64-bit phashes (Norouzi, Punjani and Fleet,
 * "Fast search in Hamming space with multi-index hashing", CVPR 2012).
 *
 * The 64 bits are cut into m contiguous chunks. Chunk c is given a search radius r_c >= -1 with
 * sum over c of (r_c + 1) = r + 1; if two hashes differ in at most r bits, the pigeonhole
 * principle says some chunk c differs in at most r_c bits (otherwise the distance would be at
 * least sum (r_c + 1) = r + 1). So a query enumerates, for each chunk with r_c >= 0, every
 * value within r_c bits of its own chunk value, looks it up in that chunk's table, and
 * computes the full distance of each item found there. That finds every item within r, so the
 * answer (nearest, ties to the smallest ref) is exactly the brute-force answer.
 *
 * How many chunks: more chunks mean shorter keys, fewer values to enumerate but fuller buckets.
 * plan_chunks() picks m from 4..8 (keys of 8 to 16 bits, so every chunk's directory is a
 * plain array of 2^bits buckets) minimising the expected cost of a query for uniformly spread
 * hashes: a bucket visit (a cache miss) counts as 25 candidate checks, a candidate check (a
 * popcount over a contiguous array) as 1. When the index has grown 4x since the last choice
 * the choice is made again and, if it changes, the buckets are rebuilt (amortised O(1) per
 * add, like a growing array).
 *
 * Storage: items in arrays (hash, ref) for rebuilding, and per chunk a directory of 2^bits
 * buckets, each one allocation holding the full hashes of its items contiguously followed by
 * their item numbers, so a bucket is scanned without chasing pointers. Per item: 12 bytes plus
 * 12 bytes (and growth slack) per chunk, about 60 to 90 bytes in practice (bench_near prints
 * it). Queries only read, so any number of threads may query while nobody adds.
 *
 * A nearest query searches at small radii first (STAGES) and stops as soon as the answer is
 * certain; the index holds the hashes with their bits shuffled (spread_bits()) so that chunks
 * are evenly filled. es_near_selfjoin() at the end is the clustering collect runs: blocks of
 * hashes queried in parallel, then decided in order. */
#include "core/near_index.h"

#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"

#define MIN_CHUNKS 4
#define MAX_CHUNKS 8

/* One bucket: h[0..cap) hashes, then cap uint32 item numbers, in one allocation. */
typedef struct bucket {
  uint64_t *h;
  uint32_t n, cap;
} bucket;

static inline uint32_t *bucket_items(const bucket *b)
{
  return (uint32_t *)(b->h + b->cap);
}

struct query;
typedef void (*scan_fn)(struct query *q, const bucket *b);

struct es_near_index {
  unsigned radius;
  scan_fn scan;                /* the bucket scan for this CPU (pick_scan(): core/cpu.h) */
  size_t n, cap;
  uint64_t *hash;
  uint32_t *ref;
  unsigned m;                  /* chunks in use */
  unsigned shift[MAX_CHUNKS];  /* chunk c is (h >> shift[c]) & mask(bits[c]) */
  unsigned bits[MAX_CHUNKS];
  int rad[MAX_CHUNKS];         /* -1: not probed */
  bucket *dir[MAX_CHUNKS];     /* 2^bits[c] buckets, allocated with the first item */
  size_t planned_for;          /* item count the current m was chosen for */
  uint64_t spread[8][256];     /* the bit permutation, byte by byte (spread_bits()) */
};

/* The index works on the hashes with their bits permuted (the same fixed permutation for
 * entries and queries, so distances are unchanged): phash bit k belongs to DCT coefficient
 * (k % 8, k / 8), so contiguous chunks would hold the low frequencies together, whose bits
 * are the most alike across pictures, and their buckets would be crowded. A fixed shuffle
 * spreads every chunk over all frequencies (22% fewer candidates on bench_near's data). */
static void spread_init(es_near_index *idx)
{
  unsigned perm[64];
  for (unsigned k = 0; k < 64; k++)
    perm[k] = k;
  uint64_t st = 0x9E3779B97F4A7C15ull;
  for (unsigned k = 63; k > 0; k--) {
    st ^= st << 13;
    st ^= st >> 7;
    st ^= st << 17;
    unsigned j = (unsigned)(st % (k + 1)), t = perm[k];
    perm[k] = perm[j];
    perm[j] = t;
  }
  for (unsigned b = 0; b < 8; b++)
    for (unsigned v = 0; v < 256; v++) {
      uint64_t out = 0;
      for (unsigned bit = 0; bit < 8; bit++)
        if (v >> bit & 1)
          out |= (uint64_t)1 << perm[8 * b + bit];
      idx->spread[b][v] = out;
    }
}

static inline uint64_t spread_bits(const es_near_index *idx, uint64_t h)
{
  uint64_t out = 0;
  for (unsigned b = 0; b < 8; b++)
    out |= idx->spread[b][(h >> (8 * b)) & 255];
  return out;
}

static inline uint32_t chunk_of(const es_near_index *idx, unsigned c, uint64_t h)
{
  return (uint32_t)((h >> idx->shift[c]) & (((uint64_t)1 << idx->bits[c]) - 1));
}

/* Number of values within Hamming distance r of a b-bit value, as a double (it can be large). */
static double ball_volume(unsigned b, int r)
{
  double v = 0, term = 1;
  for (int k = 0; k <= r && k <= (int)b; k++) {
    v += term;
    term = term * (double)(b - (unsigned)k) / (double)(k + 1);
  }
  return v;
}

/* m chunks of the 64 bits whose widths differ by at most one bit, and the r + 1 units of
 * radius budget given one by one to chunks in order, wider chunks first (rad[c] = -1: chunk c
 * is not probed). By the pigeonhole principle two hashes within r bits agree within rad[c] bits
 * on some chunk c. */
static void near_layout(unsigned m, unsigned radius, unsigned bits[], int rad[], unsigned shift[])
{
  unsigned pos = 0;
  for (unsigned c = 0; c < m; c++) {
    bits[c] = 64 / m + (c < 64 % m);
    shift[c] = pos;
    pos += bits[c];
    rad[c] = (int)((radius + 1) / m + (c < (radius + 1) % m)) - 1;
  }
}

static unsigned plan_chunks(unsigned radius, size_t n)
{
  unsigned best_m = MIN_CHUNKS;
  double best = -1;
  for (unsigned m = MIN_CHUNKS; m <= MAX_CHUNKS; m++) {
    unsigned bits[MAX_CHUNKS], shift[MAX_CHUNKS];
    int rad[MAX_CHUNKS];
    near_layout(m, radius, bits, rad, shift);
    double cost = 0;
    for (unsigned c = 0; c < m; c++) {
      if (rad[c] < 0)
        continue;
      double probes = ball_volume(bits[c], rad[c]);
      cost += probes * (25.0 + (double)n / (double)((uint64_t)1 << bits[c]));
    }
    if (best < 0 || cost < best) {
      best = cost;
      best_m = m;
    }
  }
  return best_m;
}

static scan_fn pick_scan(void);

es_near_index *es_near_index_new(unsigned radius, es_error *err)
{
  if (radius > 32) {
    es_error_set(err, ES_EUSAGE, "near-duplicate radius %u is out of range (0..32)", radius);
    return NULL;
  }
  es_near_index *idx = calloc(1, sizeof *idx);
  if (!idx) {
    es_error_set(err, ES_ENOMEM, "out of memory for a near-duplicate index");
    return NULL;
  }
  idx->radius = radius;
  idx->scan = pick_scan();
  spread_init(idx);
  idx->planned_for = 1024;
  idx->m = plan_chunks(radius, idx->planned_for);
  near_layout(idx->m, radius, idx->bits, idx->rad, idx->shift);
  return idx;
}

static void free_buckets(es_near_index *idx)
{
  for (unsigned c = 0; c < MAX_CHUNKS; c++) {
    if (idx->dir[c]) {
      size_t nb = (size_t)1 << idx->bits[c];
      for (size_t k = 0; k < nb; k++)
        free(idx->dir[c][k].h);
      free(idx->dir[c]);
      idx->dir[c] = NULL;
    }
  }
}

void es_near_index_free(es_near_index *idx)
{
  if (!idx)
    return;
  free_buckets(idx);
  free(idx->hash);
  free(idx->ref);
  free(idx);
}

size_t es_near_index_count(const es_near_index *idx)
{
  return idx ? idx->n : 0;
}

size_t es_near_index_memory(const es_near_index *idx)
{
  if (!idx)
    return 0;
  size_t b = sizeof *idx + idx->cap * (sizeof *idx->hash + sizeof *idx->ref);
  for (unsigned c = 0; c < idx->m; c++) {
    if (!idx->dir[c])
      continue;
    size_t nb = (size_t)1 << idx->bits[c];
    b += nb * sizeof(bucket);
    for (size_t k = 0; k < nb; k++)
      if (idx->dir[c][k].cap)
        b += idx->dir[c][k].cap * (sizeof(uint64_t) + sizeof(uint32_t)) + 16; /* + malloc */
  }
  return b;
}

static int bucket_push(bucket *b, uint64_t h, uint32_t item, es_error *err)
{
  if (b->n == b->cap) {
    uint32_t ncap = b->cap < 4 ? b->cap + 2 : b->cap + b->cap / 2;
    uint64_t *nh = malloc((size_t)ncap * (sizeof(uint64_t) + sizeof(uint32_t)));
    if (!nh)
      return es_error_set(err, ES_ENOMEM, "out of memory growing the near-duplicate index");
    if (b->n) {
      memcpy(nh, b->h, b->n * sizeof(uint64_t));
      memcpy((uint32_t *)(nh + ncap), bucket_items(b), b->n * sizeof(uint32_t));
    }
    free(b->h);
    b->h = nh;
    b->cap = ncap;
  }
  b->h[b->n] = h;
  bucket_items(b)[b->n] = item;
  b->n++;
  return ES_OK;
}

/* Puts item i into its bucket of every chunk; all or nothing. */
static int link_item(es_near_index *idx, size_t i, es_error *err)
{
  int rc = ES_OK;
  unsigned c = 0;
  for (; c < idx->m; c++) {
    if (!idx->dir[c]) {
      idx->dir[c] = calloc((size_t)1 << idx->bits[c], sizeof(bucket));
      if (!idx->dir[c]) {
        rc = es_error_set(err, ES_ENOMEM, "out of memory for the near-duplicate index");
        break;
      }
    }
    bucket *b = &idx->dir[c][chunk_of(idx, c, idx->hash[i])];
    rc = bucket_push(b, idx->hash[i], (uint32_t)i, err);
    if (rc)
      break;
  }
  if (rc) /* the item is the last entry of its bucket in every chunk before c */
    while (c-- > 0)
      idx->dir[c][chunk_of(idx, c, idx->hash[i])].n--;
  return rc;
}

/* Chooses the chunking again for the current size and rebuilds the buckets if it changed.
 * The new buckets are built beside the old ones; without memory for them the old chunking,
 * still correct, is kept. */
static void replan(es_near_index *idx)
{
  idx->planned_for = idx->n * 4;
  unsigned m = plan_chunks(idx->radius, idx->planned_for);
  if (m == idx->m)
    return;
  es_near_index old = *idx;
  memset(idx->dir, 0, sizeof idx->dir);
  idx->m = m;
  near_layout(m, idx->radius, idx->bits, idx->rad, idx->shift);
  for (size_t i = 0; i < idx->n; i++)
    if (link_item(idx, i, NULL) != ES_OK) {
      free_buckets(idx);
      memcpy(idx->dir, old.dir, sizeof idx->dir);
      memcpy(idx->bits, old.bits, sizeof idx->bits);
      memcpy(idx->rad, old.rad, sizeof idx->rad);
      memcpy(idx->shift, old.shift, sizeof idx->shift);
      idx->m = old.m;
      return;
    }
  free_buckets(&old);
}

int es_near_index_add(es_near_index *idx, uint64_t h, uint32_t ref, es_error *err)
{
  if (idx->n >= UINT32_MAX - 1)
    return es_error_set(err, ES_ELIMIT, "near-duplicate index is full (%zu items)", idx->n);
  if (idx->n == idx->cap) {
    size_t ncap = idx->cap ? idx->cap * 2 : 1024;
    uint64_t *hash = realloc(idx->hash, ncap * sizeof *hash);
    if (hash)
      idx->hash = hash;
    uint32_t *refs = realloc(idx->ref, ncap * sizeof *refs);
    if (refs)
      idx->ref = refs;
    if (!hash || !refs)
      return es_error_set(err, ES_ENOMEM, "out of memory growing the near-duplicate index");
    idx->cap = ncap;
  }
  size_t i = idx->n;
  idx->hash[i] = spread_bits(idx, h);
  idx->ref[i] = ref;
  int rc = link_item(idx, i, err);
  if (rc)
    return rc;
  idx->n++;
  if (idx->n >= idx->planned_for)
    replan(idx);
  return ES_OK;
}

/* Buckets are visited in batches, in a two-step pipeline: while a batch's directory entries
 * are being fetched the next batch is collected; then the first batch's bucket contents are
 * requested and the batch before it, whose contents were requested one step earlier, is
 * scanned. So the cache misses of a batch overlap one another and a batch's worth of work. */
#define PROBE_BATCH 32

typedef struct query {
  const es_near_index *idx;
  uint64_t h;
  unsigned best_d; /* starts at radius + 1: nothing found yet */
  uint32_t best_ref;
  uint64_t examined;
  const bucket *batch[2][PROBE_BATCH]; /* [cur]: collecting; [!cur]: contents requested */
  unsigned nbatch[2], cur;
} query;

/* The smallest distance from h to any of hs[0..n) (64 when n = 0): a loop the compiler
 * vectorises, built into each CPU variant of the scans below. */
static inline __attribute__((always_inline)) unsigned least_body(const uint64_t *hs, size_t n,
                                                                 uint64_t h)
{
  unsigned least = 64;
  for (size_t k = 0; k < n; k++) {
    unsigned d = (unsigned)__builtin_popcountll(hs[k] ^ h);
    least = d < least ? d : least;
  }
  return least;
}

/* The scan is where queries spend their time. It first takes the smallest distance in the
 * bucket with a loop the compiler vectorises, and only when that is within reach looks at
 * refs. On x86-64 there are variants for AVX-512 VPOPCNTDQ and for POPCNT (baseline x86-64
 * has neither, and GCC then calls a slow libgcc routine), chosen when the index is created;
 * every variant gives the same answer. */
static inline __attribute__((always_inline)) void scan_body(query *q, const bucket *b)
{
  const uint64_t *h = b->h;
  const uint64_t x = q->h;
  const uint32_t n = b->n;
  q->examined += n;
  if (least_body(h, n, x) > q->best_d)
    return;
  for (uint32_t j = 0; j < n; j++) {
    unsigned d = (unsigned)__builtin_popcountll(h[j] ^ x);
    if (d <= q->best_d) {
      uint32_t r = q->idx->ref[bucket_items(b)[j]];
      if (d < q->best_d || r < q->best_ref) {
        q->best_d = d;
        q->best_ref = r;
      }
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ES_SCAN_VARIANTS 1
__attribute__((target("popcnt"))) static void scan_popcnt(query *q, const bucket *b)
{
  scan_body(q, b);
}

__attribute__((target("avx512vpopcntdq,avx512f,popcnt"), optimize("tree-vectorize"))) static void
scan_vpopcnt(query *q, const bucket *b)
{
  scan_body(q, b);
}
#endif

static void scan_plain(query *q, const bucket *b)
{
  scan_body(q, b);
}

static scan_fn pick_scan(void)
{
#ifdef ES_SCAN_VARIANTS
  if (es_cpu_has(ES_CPU_AVX512VPOPCNTDQ | ES_CPU_AVX512F))
    return scan_vpopcnt;
  if (es_cpu_has(ES_CPU_POPCNT))
    return scan_popcnt;
#endif
  return scan_plain;
}

static inline void scan_bucket(query *q, const bucket *b)
{
  q->idx->scan(q, b);
}

/* One pipeline step: request the contents of the batch being collected, scan the other. */
static void step_batch(query *q)
{
  const unsigned c = q->cur, o = !c;
  for (unsigned k = 0; k < q->nbatch[c]; k++)
    if (q->batch[c][k]->n)
      __builtin_prefetch(q->batch[c][k]->h);
  for (unsigned k = 0; k < q->nbatch[o]; k++)
    scan_bucket(q, q->batch[o][k]);
  q->nbatch[o] = 0;
  q->cur = o;
}

/* Scans everything visited so far. */
static void flush_batch(query *q)
{
  step_batch(q);
  step_batch(q);
}

static inline void visit(query *q, const bucket *b)
{
  __builtin_prefetch(b);
  q->batch[q->cur][q->nbatch[q->cur]++] = b;
  if (q->nbatch[q->cur] == PROBE_BATCH)
    step_batch(q);
}

/* Every value within `left` more flipped bits of key, flipping bits at positions >= from. */
static void probe(query *q, const bucket *dir, unsigned nbits, uint32_t key, unsigned from,
                  int left)
{
  visit(q, &dir[key]);
  if (left == 0)
    return;
  for (unsigned b = from; b < nbits; b++)
    probe(q, dir, nbits, key ^ ((uint32_t)1 << b), b + 1, left - 1);
}

/* Radii of the searches a nearest query makes in turn, before the full radius. A search at
 * radius s over the same chunks (budget s + 1, near_layout()) finds every entry within s,
 * so when its nearest is within s it is the answer, ties included; only queries with nothing
 * that close go on. Near duplicates are mostly a few bits apart, and the small searches probe
 * far fewer buckets (with 4 chunks of 16 bits: 4 at radius 3, 68 at 7, 428 at 10). */
static const unsigned STAGES[] = {3, 7};

int es_near_index_nearest(const es_near_index *idx, uint64_t h, uint32_t *ref, unsigned *dist,
                          uint64_t *examined)
{
  return es_near_index_nearest_r(idx, h, idx->radius, ref, dist, examined);
}

int es_near_index_nearest_r(const es_near_index *idx, uint64_t h, unsigned radius,
                            uint32_t *ref, unsigned *dist, uint64_t *examined)
{
  if (radius > idx->radius)
    radius = idx->radius;
  query q;
  q.idx = idx;
  q.h = spread_bits(idx, h);
  q.best_d = radius + 1;
  q.best_ref = UINT32_MAX;
  q.examined = 0;
  q.nbatch[0] = q.nbatch[1] = 0;
  q.cur = 0;
  for (size_t s = 0; idx->n > 0 && s <= sizeof STAGES / sizeof STAGES[0]; s++) {
    unsigned r = s < sizeof STAGES / sizeof STAGES[0] ? STAGES[s] : radius;
    if (r > radius)
      r = radius;
    unsigned bits[MAX_CHUNKS], shift[MAX_CHUNKS];
    int rad[MAX_CHUNKS];
    near_layout(idx->m, r, bits, rad, shift);
    for (unsigned c = 0; c < idx->m; c++)
      if (rad[c] >= 0)
        probe(&q, idx->dir[c], idx->bits[c], chunk_of(idx, c, q.h), 0, rad[c]);
    flush_batch(&q);
    if (q.best_d <= r || r == radius)
      break;
  }
  if (examined)
    *examined += q.examined;
  if (q.best_d > radius)
    return 0;
  if (ref)
    *ref = q.best_ref;
  if (dist)
    *dist = q.best_d;
  return 1;
}

/* ---- every entry within the radius ---- */

typedef struct within_query {
  const es_near_index *idx;
  uint64_t h;
  unsigned chunk;
  void (*fn)(void *ctx, uint32_t ref, unsigned dist);
  void *ctx;
  void (*scan)(const struct within_query *q, const bucket *b);
  const bucket *batch[PROBE_BATCH];
  unsigned nbatch;
} within_query;

/* An entry is reported by the first chunk whose probe reaches it, so no entry is reported
 * twice: a later chunk skips entries an earlier probed chunk already found. */
static inline __attribute__((always_inline)) int found_earlier(const within_query *q,
                                                                uint64_t x)
{
  const es_near_index *idx = q->idx;
  for (unsigned c = 0; c < q->chunk; c++)
    if (idx->rad[c] >= 0 &&
        (int)__builtin_popcount(chunk_of(idx, c, x) ^ chunk_of(idx, c, q->h)) <= idx->rad[c])
      return 1;
  return 0;
}

/* Reports the entries of one bucket within the radius. Like scan_body() it first takes the
 * bucket's smallest distance with a loop the compiler vectorises and looks no further when
 * that is out of reach, which is the common case. */
static inline __attribute__((always_inline)) void within_body(const within_query *q,
                                                              const bucket *b)
{
  const uint64_t *h = b->h;
  const uint64_t x = q->h;
  const uint32_t n = b->n;
  if (least_body(h, n, x) > q->idx->radius)
    return;
  for (uint32_t j = 0; j < n; j++) {
    unsigned d = (unsigned)__builtin_popcountll(h[j] ^ x);
    if (d <= q->idx->radius && !found_earlier(q, h[j]))
      q->fn(q->ctx, q->idx->ref[bucket_items(b)[j]], d);
  }
}

static void within_plain(const within_query *q, const bucket *b)
{
  within_body(q, b);
}

#ifdef ES_SCAN_VARIANTS
__attribute__((target("popcnt"))) static void within_popcnt(const within_query *q,
                                                            const bucket *b)
{
  within_body(q, b);
}

__attribute__((target("avx512vpopcntdq,avx512f,popcnt"), optimize("tree-vectorize"))) static void
within_vpopcnt(const within_query *q, const bucket *b)
{
  within_body(q, b);
}
#endif

/* Buckets are scanned in batches with prefetches, as in the nearest query: the directory
 * entries and the buckets' hashes of a batch are requested before any is read, so that their
 * cache misses overlap. */
static void flush_within(within_query *q)
{
  for (unsigned k = 0; k < q->nbatch; k++)
    if (q->batch[k]->n)
      __builtin_prefetch(q->batch[k]->h);
  for (unsigned k = 0; k < q->nbatch; k++)
    if (q->batch[k]->n)
      q->scan(q, q->batch[k]);
  q->nbatch = 0;
}

static void probe_within(within_query *q, const bucket *dir, unsigned nbits, uint32_t key,
                         unsigned from, int left)
{
  __builtin_prefetch(&dir[key]);
  q->batch[q->nbatch++] = &dir[key];
  if (q->nbatch == PROBE_BATCH)
    flush_within(q);
  if (left == 0)
    return;
  for (unsigned bit = from; bit < nbits; bit++)
    probe_within(q, dir, nbits, key ^ ((uint32_t)1 << bit), bit + 1, left - 1);
}

void es_near_index_within(const es_near_index *idx, uint64_t h,
                          void (*fn)(void *ctx, uint32_t ref, unsigned dist), void *ctx)
{
  if (idx->n == 0)
    return;
  within_query q = {idx, spread_bits(idx, h), 0, fn, ctx, within_plain, {NULL}, 0};
#ifdef ES_SCAN_VARIANTS
  /* the same CPU choice pick_scan() made for nearest queries */
  if (idx->scan == scan_vpopcnt)
    q.scan = within_vpopcnt;
  else if (idx->scan == scan_popcnt)
    q.scan = within_popcnt;
#endif
  for (unsigned c = 0; c < idx->m; c++)
    if (idx->rad[c] >= 0) {
      q.chunk = c; /* a batch never mixes chunks: found_earlier() depends on the chunk */
      probe_within(&q, idx->dir[c], idx->bits[c], chunk_of(idx, c, q.h), 0, idx->rad[c]);
      flush_within(&q);
    }
}

/* ---- the self-join ---- */

/* Blocks are resolved one after another: BLOCK hashes are first queried against the
 * representatives of earlier blocks in parallel, then decided in order against each other. */
#define BLOCK 4096
/* How many preceding hashes a hash looks back at for a close one (bursts are consecutive) */
#define LOOKBACK 64
/* "Close": within the middle stage radius */
#define CLOSE 7

typedef struct join_ans {
  uint32_t ref;   /* nearest earlier representative found in the index, if found */
  uint8_t found;
  uint8_t dist;
  uint8_t done;   /* the index was searched completely up to this radius */
  /* The dry run's answer from the block's own new representatives: */
  uint8_t list_rep;   /* this hash became one */
  uint8_t list_dist;  /* distance to the nearest of those before it (radius + 1: none) */
  uint16_t list_at;   /* its position in the list */
} join_ans;

/* Loops over distances in the join, built for POPCNT too where the compiler can (baseline
 * x86-64 has no popcount instruction, and GCC then calls a slow libgcc routine). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ES_POPCNT_CLONES __attribute__((target_clones("popcnt", "default")))
#else
#define ES_POPCNT_CLONES
#endif

/* The smallest distance from h to any of hs[0..n) (64 when n = 0), and in *from the start of
 * the first run of LEAST_RUN hashes that holds one at that distance: the vectorised loop runs
 * over the whole list, the scalar search for the position (first_at()) over one run only. */
#define LEAST_RUN 64

static inline __attribute__((always_inline)) unsigned least_from_body(const uint64_t *hs,
                                                                      size_t n, uint64_t h,
                                                                      size_t *from)
{
  unsigned best = 64;
  *from = 0;
  for (size_t s = 0; s < n; s += LEAST_RUN) {
    unsigned d = least_body(hs + s, n - s < LEAST_RUN ? n - s : LEAST_RUN, h);
    if (d < best) {
      best = d;
      *from = s;
    }
  }
  return best;
}

typedef unsigned (*least_fn)(const uint64_t *hs, size_t n, uint64_t h, size_t *from);

static unsigned least_plain(const uint64_t *hs, size_t n, uint64_t h, size_t *from)
{
  return least_from_body(hs, n, h, from);
}

#ifdef ES_SCAN_VARIANTS
__attribute__((target("popcnt"))) static unsigned least_popcnt(const uint64_t *hs, size_t n,
                                                               uint64_t h, size_t *from)
{
  return least_from_body(hs, n, h, from);
}

__attribute__((target("avx512vpopcntdq,avx512f,popcnt"), optimize("tree-vectorize"))) static unsigned
least_vpopcnt(const uint64_t *hs, size_t n, uint64_t h, size_t *from)
{
  return least_from_body(hs, n, h, from);
}
#endif

/* The variant for the CPU the index's scan was picked for. */
static least_fn pick_least(const es_near_index *idx)
{
#ifdef ES_SCAN_VARIANTS
  if (idx->scan == scan_vpopcnt)
    return least_vpopcnt;
  if (idx->scan == scan_popcnt)
    return least_popcnt;
#endif
  (void)idx;
  return least_plain;
}

/* The position of the first of hs[] at distance d from h (there must be one). */
ES_POPCNT_CLONES static size_t first_at(const uint64_t *hs, uint64_t h, unsigned d)
{
  size_t k = 0;
  while (es_phash_distance(hs[k], h) != d)
    k++;
  return k;
}

/* The first of hs[0..n) at the smallest distance to h, within radius: its position in *at. */
static int nearest_in_list(least_fn least, const uint64_t *hs, size_t n, uint64_t h,
                           unsigned radius, size_t *at, unsigned *dist)
{
  size_t from;
  unsigned best = least(hs, n, h, &from);
  *dist = best;
  if (best > radius)
    return 0;
  *at = from + first_at(hs + from, h, best);
  return 1;
}

/* 1 when one of h[from..i) is within `close` of h[i], looking back from i. */
ES_POPCNT_CLONES static int close_before(const uint64_t *h, size_t from, size_t i,
                                         unsigned close)
{
  for (size_t j = i; j-- > from;)
    if (es_phash_distance(h[j], h[i]) <= close)
      return 1;
  return 0;
}

/* Searches the index for h[i] up to lim into a. */
static uint64_t join_query(const es_near_index *idx, uint64_t h, unsigned lim, join_ans *a)
{
  unsigned d = 0;
  uint64_t x = 0;
  a->found = (uint8_t)es_near_index_nearest_r(idx, h, lim, &a->ref, &d, &x);
  a->dist = (uint8_t)d;
  a->done = (uint8_t)lim;
  return x;
}

int es_near_selfjoin(const uint64_t *h, size_t n, unsigned radius, int threads,
                     uint32_t *assign, size_t *n_reps, uint64_t *examined, es_error *err)
{
  if (n > UINT32_MAX - 1)
    return es_error_set(err, ES_ELIMIT, "%zu hashes: more than the index supports", n);
  es_near_index *idx = es_near_index_new(radius, err);
  join_ans *ans = malloc(BLOCK * sizeof *ans);
  uint32_t *blk = malloc(BLOCK * sizeof *blk);
  uint64_t *blk_h = malloc(BLOCK * sizeof *blk_h);
  uint8_t *unfinished = malloc(BLOCK);
  int rc = ES_OK;
  uint64_t ex = 0;
  size_t reps = 0;
  if (!idx || !ans || !blk || !blk_h || !unfinished) {
    rc = idx ? es_error_set(err, ES_ENOMEM, "out of memory for the near-duplicate join")
             : (err ? err->code : ES_ENOMEM);
    goto cleanup;
  }
  const unsigned close = radius < CLOSE ? radius : CLOSE;
  const int nt = threads > 0 ? threads : 1;
  const least_fn least = pick_least(idx);
  for (size_t s = 0; s < n; s += BLOCK) {
    const size_t e = n - s < BLOCK ? n : s + BLOCK;
    const int par = nt > 1 && e - s > 256;
    /* In parallel: each hash against the representatives of earlier blocks, completely up to
     * the radius, except that a hash with a close predecessor in its block (a burst member,
     * most likely joining that predecessor's cluster) is searched only up to `close`. */
    uint64_t bex = 0;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 64) reduction(+ : bex) if (par)
    for (size_t i = s; i < e; i++) {
      size_t from = i - s > LOOKBACK ? i - LOOKBACK : s;
      bex += join_query(idx, h[i], close_before(h, from, i, close) ? close : radius,
                        &ans[i - s]);
    }
    /* ... then completely for those the ordered pass below would have to finish: a dry run
     * of it, taking a hash that found nothing as a representative, tells which. Only a hash
     * whose unfinished search would have found something changes what follows, so a few may
     * still be finished in order; the dry run only moves work into parallel, never changes a
     * result. */
    size_t nd = 0;
    for (size_t i = s; i < e; i++) {
      join_ans *a = &ans[i - s];
      unsigned d = a->found ? a->dist : radius + 1, bd;
      size_t at = 0;
      if (!nearest_in_list(least, blk_h, nd, h[i], radius, &at, &bd))
        bd = radius + 1;
      a->list_dist = (uint8_t)bd;
      a->list_at = (uint16_t)at;
      if (bd < d)
        d = bd;
      unfinished[i - s] = a->done < radius && d > a->done;
      a->list_rep = d > radius;
      if (d > radius)
        blk_h[nd++] = h[i];
    }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16) reduction(+ : bex) if (par)
    for (size_t i = s; i < e; i++)
      if (unfinished[i - s])
        bex += join_query(idx, h[i], radius, &ans[i - s]);
    ex += bex;
    /* In order: against the block's own new representatives (a linear scan, they are few),
     * finishing the index search where the partial one cannot decide. The index answers win
     * ties, their refs being smaller; so the result is exactly the sequential join's. Until
     * a decision differs from the dry run's, the list is the dry run's, and so is its
     * answer. */
    size_t nb = 0;
    int as_dry = 1;
    for (size_t i = s; i < e; i++) {
      join_ans *a = &ans[i - s];
      uint32_t ref = a->ref;
      unsigned d = a->found ? a->dist : radius + 1, bd = a->list_dist;
      int found = a->found;
      size_t at = a->list_at;
      if (!as_dry && !nearest_in_list(least, blk_h, nb, h[i], radius, &at, &bd))
        bd = radius + 1;
      if (bd < d) {
        ref = blk[at];
        d = bd;
        found = 1;
      }
      ex += nb;
      if (a->done < radius && (!found || d > a->done)) {
        /* nothing within what was searched: the index may still hold something nearer */
        uint32_t r2;
        unsigned d2;
        if (es_near_index_nearest_r(idx, h[i], found ? d : radius, &r2, &d2, &ex) &&
            (!found || d2 <= d)) {
          ref = r2;
          d = d2;
          found = 1;
        }
      }
      if (found != !a->list_rep)
        as_dry = 0;
      if (found) {
        assign[i] = ref;
        continue;
      }
      assign[i] = (uint32_t)i;
      blk[nb] = (uint32_t)i;
      blk_h[nb++] = h[i];
      reps++;
    }
    for (size_t k = 0; k < nb; k++)
      if ((rc = es_near_index_add(idx, blk_h[k], blk[k], err)))
        goto cleanup;
  }
  if (n_reps)
    *n_reps = reps;
  if (examined)
    *examined += ex;
cleanup:
  es_near_index_free(idx);
  free(ans);
  free(blk);
  free(blk_h);
  free(unfinished);
  return rc;
}
