/* The synthetic standard architectures (tests/shared/nn_arch.c: MobileNetV2 1.0 at 224,
 * ResNet-8 at 32x32x3, MobileNetV1 0.25 at 96x96x3) load, and every kernel variant this CPU runs
 * gives the reference kernels' output bytes on random inputs, and so does the best variant with
 * two threads inside one inference. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "nn_arch.h"

static void fill(es_tensor *t, unsigned k)
{
  uint32_t s = 2654435761u * (k + 7);
  for (size_t i = 0; i < t->bytes; i++) {
    s = s * 1103515245u + 12345u;
    ((uint8_t *)t->data)[i] = (uint8_t)(s >> 24);
  }
}

Test(arch, every_variant_matches_reference, .timeout = 300)
{
  for (int a = 0; nn_arch_names[a]; a++) {
    es_error err = {0};
    size_t len = 0;
    uint8_t *bytes = nn_arch_build(nn_arch_names[a], 1 + (uint64_t)a, &len, &err);
    cr_assert(bytes, "%s: %s", nn_arch_names[a], err.msg);
    es_model *m = NULL;
    cr_assert_eq(es_model_load(bytes, len, NULL, &m, &err), ES_OK, "%s: %s", nn_arch_names[a],
                 err.msg);
    free(bytes);
    for (unsigned k = 0; k < 2; k++) {
      uint8_t *ref = NULL;
      size_t n = 0;
      for (int run = 0; run < ES_NN_ISA_COUNT + 1; run++) {
        /* every variant, then the best one with two threads inside the inference */
        const int isa = run < ES_NN_ISA_COUNT ? run : es_nn_isa_best();
        if (isa == 0 || !es_nn_isa_supported(isa))
          continue;
        es_interp *ip = NULL;
        es_interp_opts o = {.isa = isa, .threads = run < ES_NN_ISA_COUNT ? 1 : 2};
        cr_assert_eq(es_interp_new(m, &o, &ip, &err), ES_OK, "%s", err.msg);
        es_tensor t;
        es_interp_input(ip, 0, &t);
        fill(&t, k);
        cr_assert_eq(es_interp_invoke(ip, &err), ES_OK);
        es_interp_output(ip, 0, &t);
        if (!ref) {
          n = t.bytes;
          ref = malloc(n);
          memcpy(ref, t.data, n);
          /* the outputs are spread, not one saturated value */
          int distinct = 0;
          for (size_t i = 1; i < n; i++)
            distinct += ref[i] != ref[0];
          cr_assert_gt(distinct, 0, "%s: every output is %d", nn_arch_names[a], (int8_t)ref[0]);
        } else {
          cr_assert(!memcmp(t.data, ref, n), "%s, input %u: %s differs from the reference",
                    nn_arch_names[a], k, es_nn_isa_name(isa));
        }
        es_interp_free(ip);
      }
      free(ref);
    }
    es_model_free(m);
  }
}
