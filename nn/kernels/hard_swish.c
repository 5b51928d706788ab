/* HARD_SWISH, int8: TFLM's reference_ops::HardSwish on 16-bit fixed point. The input (minus its
 * zero point) is moved to a "hires" scale (x * 128); an output multiplier (hires scale / output
 * scale) and a "reluish" multiplier (hires scale / (3 / 32768)) are QuantizeMultiplier results
 * cut to 16 bits by DownScaleInt32ToInt16Multiplier. The reluish value is rescaled with careful
 * saturation, mapped from [-1, 1] to [0, 1] and multiplied (truncating, not rounding) with the
 * pre-shift output value. The float32 scale products are computed in float, as TFLM does. */
#include <stdio.h>
#include <stdlib.h>

#include "nn/kernels/kernels.h"
#include "nn/quant.h"

typedef struct hs_params {
  int32_t input_zp, output_zp;
  int16_t output_multiplier, reluish_multiplier;
  int output_exponent, reluish_exponent;
} hs_params;

static int16_t downscale_to_16(int32_t m)
{
  const int32_t rounding = 1 << 15;
  if (m >= INT32_MAX - rounding)
    return INT16_MAX;
  return (int16_t)((m + rounding) >> 16);
}

int es__hard_swish_prepare(es_model *m, es__op *op, es_error *err)
{
  int rc;
  if ((rc = es__check_io(m, op, 1, 1, 1, err)))
    return rc;
  const es__tensor *in = es__in(m, op, 0), *out = es__out(m, op, 0);
  if ((rc = es__check_type(op, out, ES_TFLITE_INT8, "output", err)) ||
      (rc = es__check_quantized(op, in, "input", err)) ||
      (rc = es__check_quantized(op, out, "output", err)))
    return rc;
  char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR];
  if (in->count != out->count) /* the kernel reads and writes out->count values */
    return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                            "has shape %s (%zu values), the input %s has %zu", es__shape_str(out, s1),
                            out->count, es__shape_str(in, s2), in->count);
  hs_params *p = calloc(1, sizeof *p);
  if (!p)
    return es__op_error(err, op, ES_ENOMEM, "out of memory");
  op->data = p;
  p->input_zp = in->zero_point;
  p->output_zp = out->zero_point;
  const float hires_input_scale = (1.0f / 128.0f) * in->scale;
  const float reluish_scale = 3.0f / 32768.0f;
  char si[ES__SCALE_STR], so[ES__SCALE_STR], what[3 * ES__SCALE_STR];
  es__scale_str(in, "input", si);
  es__scale_str(out, "output", so);
  int32_t m32;
  /* TFLM requires input_scale / 128 <= output_scale (no left shift); the int16
   * RoundingDivideByPOT takes 0 .. 31 */
  snprintf(what, sizeof what, "%s / 128 / %s (TFLM requires input_scale / 128 <= output_scale)",
           si, so);
  if ((rc = es__quantize_scale(op, (double)(hires_input_scale / out->scale), -31, 0, what, &m32,
                               &p->output_exponent, err)))
    return rc;
  p->output_multiplier = downscale_to_16(m32);
  /* the reluish shift: a saturating left shift (at most 31) or RoundingDivideByPOT (0 .. 31) */
  snprintf(what, sizeof what, "%s / 128 / (3 / 32768)", si);
  if ((rc = es__quantize_scale(op, (double)(hires_input_scale / reluish_scale), -31, 31, what,
                               &m32, &p->reluish_exponent, err)))
    return rc;
  p->reluish_multiplier = downscale_to_16(m32);
  op->macs = out->count;
  return ES_OK;
}

static int16_t sat_left_shift16(int16_t v, int amount)
{
  int64_t r = (int64_t)v * ((int64_t)1 << amount);
  r = r > INT16_MAX ? INT16_MAX : r < INT16_MIN ? INT16_MIN : r;
  return (int16_t)r;
}

/* gemmlowp::SaturatingRoundingDoublingHighMul for int16 */
static int16_t srdhm16(int16_t a, int16_t b)
{
  if (a == b && a == INT16_MIN)
    return INT16_MAX;
  const int32_t ab = (int32_t)a * (int32_t)b;
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return (int16_t)((ab + nudge) / (1 << 15));
}

/* SaturatingDoublingHighMul: the same, truncating */
static int16_t sdhm16(int16_t a, int16_t b)
{
  if (a == b && a == INT16_MIN)
    return INT16_MAX;
  return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

/* gemmlowp::RoundingDivideByPOT on int16 (mask and threshold in int16, as the template does) */
static int16_t rdbpot16(int16_t x, int exponent)
{
  const int16_t mask = (int16_t)((1LL << exponent) - 1);
  const int16_t remainder = (int16_t)(x & mask);
  const int16_t threshold = (int16_t)((mask >> 1) + (x < 0 ? 1 : 0));
  return (int16_t)((x >> exponent) + (remainder > threshold ? 1 : 0));
}

void es__hard_swish_eval_ref(const es__run *r, const es__op *op)
{
  const hs_params *p = op->data;
  const int8_t *in = es__in_data(r, op, 0);
  int8_t *out = es__out_data(r, op, 0);
  const size_t n = es__out(r->m, op, 0)->count;
  for (size_t i = 0; i < n; i++) {
    const int16_t input_value = (int16_t)(in[i] - p->input_zp);
    const int16_t hires = (int16_t)(input_value * (1 << 7));
    const int16_t preshift_out = srdhm16(hires, p->output_multiplier);
    int16_t reluish = hires;
    if (p->reluish_exponent > 0)
      reluish = sat_left_shift16(reluish, p->reluish_exponent - 1);
    reluish = srdhm16(reluish, p->reluish_multiplier);
    if (p->reluish_exponent > 0)
      reluish = sat_left_shift16(reluish, 1);
    if (p->reluish_exponent < 0)
      reluish = rdbpot16(reluish, -p->reluish_exponent);
    reluish = (int16_t)((reluish + (1 << 15)) >> 1);
    const int16_t preshift_value = sdhm16(reluish, preshift_out);
    int16_t v = rdbpot16(preshift_value, -p->output_exponent);
    int32_t o = (int16_t)(v + p->output_zp);
    o = o > 127 ? 127 : o < -128 ? -128 : o;
    out[i] = (int8_t)o;
  }
}
