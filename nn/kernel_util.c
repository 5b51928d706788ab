/* Checks and parameter helpers shared by the kernels' prepare functions: operand counts and
 * types, constant operands, TFLM's activation range and convolution padding arithmetic. Every
 * failure names the operator, its index and the reason. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "nn/nn_internal.h"
#include "nn/quant.h"

int es__op_error(es_error *err, const es__op *op, int code, const char *fmt, ...)
{
  char why[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  return es_error_set(err, code, "operator %d (%s): %s", op->index, op->name, why);
}

int es__tensor_error(es_error *err, const es__op *op, const es__tensor *t, const char *role,
                     int code, const char *fmt, ...)
{
  char why[640];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  return es_error_set(err, code, "operator %d (%s): %s (tensor %d '%.60s') %s", op->index,
                      op->name, role, t->index, t->src->name, why);
}

const char *es__shape_str(const es__tensor *t, char buf[ES__SHAPE_STR])
{
  size_t n = 0;
  buf[n++] = '[';
  buf[n] = '\0';
  for (int d = 0; d < t->rank && n < ES__SHAPE_STR; d++)
    n += (size_t)snprintf(buf + n, ES__SHAPE_STR - n, "%s%d", d ? "," : "", (int)t->shape[d]);
  if (n < ES__SHAPE_STR - 1)
    snprintf(buf + n, ES__SHAPE_STR - n, "]");
  return buf;
}

const char *es__scale_str(const es__tensor *t, const char *role, char buf[ES__SCALE_STR])
{
  snprintf(buf, ES__SCALE_STR, "%s (tensor %d '%.40s') scale %g", role, t->index, t->src->name,
           (double)t->scale);
  return buf;
}


int es__check_io(const es_model *m, const es__op *op, size_t min_in, size_t max_in,
                 size_t n_out, es_error *err)
{
  (void)m;
  if (op->n_in < min_in || op->n_in > max_in) {
    if (min_in == max_in)
      return es__op_error(err, op, ES_EFORMAT, "has %zu inputs, expected %zu", op->n_in, min_in);
    return es__op_error(err, op, ES_EFORMAT, "has %zu inputs, expected %zu to %zu", op->n_in,
                        min_in, max_in);
  }
  if (op->n_out != n_out)
    return es__op_error(err, op, ES_EFORMAT, "has %zu outputs, expected %zu", op->n_out, n_out);
  for (size_t k = 0; k < min_in; k++)
    if (op->in[k] < 0)
      return es__op_error(err, op, ES_EFORMAT, "required input %zu is missing", k);
  return ES_OK;
}

int es__check_type(const es__op *op, const es__tensor *t, int type, const char *what,
                   es_error *err)
{
  if (t->type != type)
    return es__tensor_error(err, op, t, what, ES_EUNSUPPORTED, "is %s, expected %s",
                            es_tflite_type_name(t->type), es_tflite_type_name(type));
  return ES_OK;
}

int es__check_quantized(const es__op *op, const es__tensor *t, const char *what, es_error *err)
{
  if (t->src->q.count == 0)
    return es__tensor_error(err, op, t, what, ES_EUNSUPPORTED, "has no quantization parameters");
  for (size_t k = 0; k < t->src->q.count; k++) {
    const float s = t->src->q.scale[k];
    if (!(k == 0 ? s > 0.0f : s >= 0.0f) || !isfinite(s))
      return es__tensor_error(err, op, t, what, ES_EFORMAT,
                              "has scale %g (must be positive and finite)", (double)s);
  }
  return ES_OK;
}

int es__check_const(const es__op *op, const es__tensor *t, const char *what, es_error *err)
{
  if (!t->const_data)
    return es__tensor_error(err, op, t, what, ES_EUNSUPPORTED, "must be a constant tensor");
  return ES_OK;
}

int es__act_range(const es__op *op, const es__tensor *out, int activation, int32_t *lo,
                  int32_t *hi, es_error *err)
{
  int32_t qmin, qmax;
  switch (out->type) {
  case ES_TFLITE_INT8:
    qmin = -128, qmax = 127;
    break;
  case ES_TFLITE_UINT8:
    qmin = 0, qmax = 255;
    break;
  case ES_TFLITE_INT16:
    qmin = -32768, qmax = 32767;
    break;
  default:
    return es__op_error(err, op, ES_EUNSUPPORTED, "output type %s has no quantized range",
                        es_tflite_type_name(out->type));
  }
  if (activation != ES_ACT_NONE && activation != ES_ACT_RELU && activation != ES_ACT_RELU6 &&
      activation != ES_ACT_RELU_N1_TO_1)
    return es__op_error(err, op, ES_EUNSUPPORTED, "fused activation %d is not supported",
                        activation);
  if (es_q_activation_range(activation, out->scale, out->zero_point, qmin, qmax, lo, hi))
    return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                            "has scale %g: the fused activation's range overflows int32",
                            (double)out->scale);
  return ES_OK;
}

int64_t es__out_size(int padding, int64_t in, int64_t filter, int64_t stride, int64_t dilation)
{
  const int64_t effective = (filter - 1) * dilation + 1;
  if (stride <= 0)
    return 0;
  if (padding == ES_PAD_SAME)
    return (in + stride - 1) / stride;
  if (padding == ES_PAD_VALID)
    return (in + stride - effective) / stride;
  return 0;
}

int64_t es__padding(int64_t stride, int64_t dilation, int64_t in, int64_t filter, int64_t out)
{
  const int64_t effective = (filter - 1) * dilation + 1;
  int64_t total = (out - 1) * stride + effective - in;
  total = total > 0 ? total : 0;
  return total / 2;
}

int es__window(const es__op *op, const es__tensor *in, const es__tensor *out, const char *axis,
               int padding, int64_t in_size, int64_t out_size, int64_t filter, int64_t stride,
               int64_t dilation, int *pad, es_error *err)
{
  if (stride <= 0 || dilation <= 0 || stride > 65536 || dilation > 65536)
    return es__op_error(err, op, ES_EFORMAT, "%s: stride %lld and dilation %lld must be 1 to 65536",
                        axis, (long long)stride, (long long)dilation);
  if (filter <= 0)
    return es__op_error(err, op, ES_EFORMAT, "%s: filter size %lld must be positive", axis,
                        (long long)filter);
  const int64_t effective = (filter - 1) * dilation + 1;
  if (effective > (INT64_C(1) << 30))
    return es__op_error(err, op, ES_EFORMAT, "%s: the dilated filter spans %lld values", axis,
                        (long long)effective);
  if (padding != ES_PAD_SAME && padding != ES_PAD_VALID)
    return es__op_error(err, op, ES_EUNSUPPORTED, "padding %d is not SAME or VALID", padding);
  /* the kernels form in - pad + (out - 1) * stride + (filter - 1) * dilation and in + pad in
   * int; every one of them is below in + effective + stride */
  if (in_size + effective + stride > INT32_MAX)
    return es__tensor_error(err, op, in, "input", ES_EFORMAT,
                            "has %s %lld: with a window of %lld and stride %lld its indices "
                            "overflow int32",
                            axis, (long long)in_size, (long long)effective, (long long)stride);
  const int64_t want = es__out_size(padding, in_size, filter, stride, dilation);
  if (want != out_size) {
    char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR];
    return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                            "has %s %lld but the window gives %lld (input %s, output %s, filter "
                            "%lld, stride %lld, dilation %lld, %s padding)",
                            axis, (long long)out_size, (long long)want, es__shape_str(in, s1),
                            es__shape_str(out, s2), (long long)filter, (long long)stride,
                            (long long)dilation, padding == ES_PAD_SAME ? "SAME" : "VALID");
  }
  *pad = (int)es__padding(stride, dilation, in_size, filter, out_size);
  return ES_OK;
}

int es__quantize_scale(const es__op *op, double real, int min_shift, int max_shift,
                       const char *what, int32_t *multiplier, int *shift, es_error *err)
{
  if (!(real >= 0.0) || !isfinite(real))
    return es__op_error(err, op, ES_EFORMAT, "%s: the effective scale %g is not a finite "
                        "non-negative number", what, real);
  es_q_quantize_multiplier(real, multiplier, shift);
  if (*shift > max_shift)
    return es__op_error(err, op, ES_EUNSUPPORTED,
                        "%s: the effective scale %g needs a left shift of %d, more than the %d "
                        "the int32 arithmetic supports",
                        what, real, *shift, max_shift);
  if (*shift < min_shift)
    return es__op_error(err, op, ES_EUNSUPPORTED,
                        "%s: the effective scale %g needs a shift of %d, below the %d the "
                        "integer arithmetic supports",
                        what, real, *shift, min_shift);
  return ES_OK;
}
