/* RESHAPE and SQUEEZE: the output tensor's declared shape is authoritative (as in TFLM, whose
 * Prepare only checks that the element counts agree); the data is copied unchanged. */
#include <string.h>

#include "nn/kernels/kernels.h"

int es__reshape_prepare(es_model *m, es__op *op, es_error *err)
{
  int rc;
  if ((rc = es__check_io(m, op, 1, op->opcode == ES_OP_RESHAPE ? 2 : 1, 1, err)))
    return rc;
  const es__tensor *in = es__in(m, op, 0), *out = es__out(m, op, 0);
  char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR];
  if (in->type != out->type)
    return es__tensor_error(err, op, out, "output", ES_EFORMAT, "is %s, the input %s",
                            es_tflite_type_name(out->type), es_tflite_type_name(in->type));
  if (in->count != out->count) /* the kernel copies out->bytes */
    return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                            "has shape %s (%zu values), the input %s has %zu", es__shape_str(out, s1),
                            out->count, es__shape_str(in, s2), in->count);
  return ES_OK;
}

void es__copy_eval_ref(const es__run *r, const es__op *op)
{
  const es__tensor *out = es__out(r->m, op, 0);
  const void *src = es__in_data(r, op, 0);
  void *dst = es__out_data(r, op, 0);
  if (src != dst && out->bytes)
    memmove(dst, src, out->bytes);
}
