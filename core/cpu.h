/* The CPU features the SIMD code may use: detected once per process (thread-safe), and capped
 * by the EDGESET_ISA environment variable (docs/nn.md, "Kernel variants (ISA)"). Every file with
 * a SIMD path asks here instead of asking the CPU itself, so one variable caps them all:
 *
 *   EDGESET_ISA           features es_cpu_has() may report
 *   reference, portable   none: the portable C everywhere
 *   avx2                  SSE2, SSE4.1, POPCNT, AVX2, FMA
 *   avxvnni               those and AVX-VNNI
 *   avx512vnni            everything (as when the variable is unset, empty or "auto")
 *
 * A cap never adds a feature the CPU lacks. A value that names no level caps nothing here (nn,
 * which reads the same variable to choose its kernel variant, reports it as a usage error). Every
 * variant computes the same bytes as the portable code; the cap changes only the speed. */
#ifndef ES_CORE_CPU_H
#define ES_CORE_CPU_H

#include <stdbool.h>

enum {
  ES_CPU_SSE2 = 1u << 0, /* the x86-64 baseline; 0 elsewhere */
  ES_CPU_SSE41 = 1u << 1,
  ES_CPU_POPCNT = 1u << 2,
  ES_CPU_AVX2 = 1u << 3,
  ES_CPU_FMA = 1u << 4,
  ES_CPU_AVXVNNI = 1u << 5, /* AVX-VNNI (256-bit vpdpbusd), with the AVX state usable */
  ES_CPU_AVX512F = 1u << 6,
  ES_CPU_AVX512BW = 1u << 7,
  ES_CPU_AVX512VL = 1u << 8,
  ES_CPU_AVX512VNNI = 1u << 9,
  ES_CPU_AVX512VBMI = 1u << 10,
  ES_CPU_AVX512VPOPCNTDQ = 1u << 11,
};

/* Caps, in increasing order; the names are nn's kernel variant names. */
enum {
  ES_CPU_CAP_PORTABLE = 0, /* "reference" and "portable" */
  ES_CPU_CAP_AVX2,
  ES_CPU_CAP_AVXVNNI,
  ES_CPU_CAP_AVX512VNNI, /* "avx512vnni", "auto", unset: no cap */
};

/* ES_CPU_* bits of what this CPU (and OS) runs, ignoring EDGESET_ISA. */
unsigned es_cpu_detected(void);
/* es_cpu_detected() less what the EDGESET_ISA cap excludes: what SIMD code may use. */
unsigned es_cpu_features(void);
/* Whether every feature of `features` (ES_CPU_* bits) may be used. */
bool es_cpu_has(unsigned features);
/* The cap in force (ES_CPU_CAP_*), and its name ("portable" ... "avx512vnni"). */
int es_cpu_cap(void);
const char *es_cpu_cap_name(int cap);
/* EDGESET_ISA value -> cap; -1 when the value names none (NULL or "" -> no cap). */
int es_cpu_cap_parse(const char *isa);

/* For tests only: sets the cap (ES_CPU_CAP_*) in place of EDGESET_ISA's, for code run after it
 * (e.g. to run one computation under each cap and compare bytes). Returns the previous cap.
 * Not thread-safe: call it while no other thread uses this API. */
int es__cpu_set_cap(int cap);

#endif
