/* Kernel variant selection: names, what this CPU runs (core/cpu.c detects it once, so one
 * binary runs everywhere and picks at run time), the EDGESET_ISA override and the fallback
 * chain a kernel without a given variant follows. Here EDGESET_ISA names the variant itself
 * (reference differs from portable, and a value this CPU cannot run is an error); for the other
 * SIMD users core/cpu.c reads the same value as a cap. Nothing here keeps state. */
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "nn/nn_internal.h"

static const char *const names[ES_NN_ISA_COUNT] = {"auto",    "reference", "portable",
                                                   "avx2",    "avxvnni",   "avx512vnni"};

const char *es_nn_isa_name(int isa)
{
  return isa >= 0 && isa < ES_NN_ISA_COUNT ? names[isa] : NULL;
}

/* Whether the CPU runs a variant: what it has, not what the EDGESET_ISA cap allows (a variant
 * named in EDGESET_ISA is the variant this CPU must run). */
bool es_nn_isa_supported(int isa)
{
  unsigned need;
  switch (isa) {
  case ES_NN_ISA_AUTO:
  case ES_NN_ISA_REFERENCE:
  case ES_NN_ISA_PORTABLE:
    return true;
  case ES_NN_ISA_AVX2:
    need = ES_CPU_AVX2 | ES_CPU_FMA;
    break;
  case ES_NN_ISA_AVXVNNI:
    need = ES_CPU_AVX2 | ES_CPU_AVXVNNI;
    break;
  case ES_NN_ISA_AVX512VNNI:
    need = ES_CPU_AVX512F | ES_CPU_AVX512BW | ES_CPU_AVX512VL | ES_CPU_AVX512VNNI;
    break;
  default:
    return false;
  }
  return (es_cpu_detected() & need) == need;
}

int es_nn_isa_best(void)
{
  for (int isa = ES_NN_ISA_COUNT - 1; isa > ES_NN_ISA_PORTABLE; isa--)
    if (es_nn_isa_supported(isa))
      return isa;
  return ES_NN_ISA_PORTABLE;
}

int es_nn_isa_parse(const char *name, int *isa, es_error *err)
{
  for (int i = 0; i < ES_NN_ISA_COUNT; i++) {
    if (strcmp(name, names[i]) != 0)
      continue;
    if (!es_nn_isa_supported(i))
      return es_error_set(err, ES_EUSAGE, "kernel variant '%s' is not supported by this CPU",
                          name);
    *isa = i;
    return ES_OK;
  }
  return es_error_set(err, ES_EUSAGE,
                      "unknown kernel variant '%s' (known: auto, reference, portable, avx2, "
                      "avxvnni, avx512vnni)",
                      name);
}

int es_nn_isa_resolve(int isa, int *out, es_error *err)
{
  if (isa < 0 || isa >= ES_NN_ISA_COUNT)
    return es_error_set(err, ES_EUSAGE, "kernel variant %d does not exist", isa);
  if (isa == ES_NN_ISA_AUTO) {
    const char *env = getenv("EDGESET_ISA");
    if (env && *env) {
      int rc = es_nn_isa_parse(env, &isa, err);
      if (rc) {
        es_error_prefix(err, "EDGESET_ISA");
        return rc;
      }
    }
    if (isa == ES_NN_ISA_AUTO)
      isa = es_nn_isa_best();
  } else if (!es_nn_isa_supported(isa)) {
    return es_error_set(err, ES_EUSAGE, "kernel variant '%s' is not supported by this CPU",
                        names[isa]);
  }
  *out = isa;
  return ES_OK;
}

int es__isa_fallback(int isa)
{
  switch (isa) {
  case ES__ISA_AVX512VNNI:
  case ES__ISA_AVXVNNI:
    return ES__ISA_AVX2;
  case ES__ISA_AVX2:
    return ES__ISA_PORTABLE;
  default:
    return ES__ISA_REF;
  }
}
