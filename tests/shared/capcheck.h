/* Runs one computation under every EDGESET_ISA cap (core/cpu.h) and checks that each gives the
 * bytes of the `portable` run: how the tests force each SIMD user's variants. */
#ifndef ES_TESTS_CAPCHECK_H
#define ES_TESTS_CAPCHECK_H

#include <stddef.h>

/* fn(out, ctx) writes its result into out (n bytes, zeroed before each run); it runs once per
 * cap (portable, avx2, avxvnni, avx512vnni), the cap set with es__cpu_set_cap(), and every run
 * must equal the portable one (a Criterion expectation naming `what`, the cap and the first
 * differing byte). The previous cap is restored. On a CPU without some feature two caps may run
 * the same code. */
void cap_same_bytes(void (*fn)(void *out, void *ctx), void *ctx, size_t n, const char *what);

#endif
