/* AVERAGE_POOL_2D and MAX_POOL_2D, int8: TFLM's reference_integer_ops::AveragePool (sum over
 * the part of the window inside the image, divided by that count with rounding half away from
 * zero) and MaxPool, both clamped to the fused activation range. */
#include <stdlib.h>

#include "nn/kernels/kernels.h"
#include "nn/quant.h"

typedef struct pool_params {
  int stride_w, stride_h, filter_w, filter_h, pad_w, pad_h;
  int32_t act_min, act_max;
} pool_params;

int es__pool_prepare(es_model *m, es__op *op, es_error *err)
{
  const es_tflite_options *o = &op->src->opts;
  int rc;
  if ((rc = es__check_io(m, op, 1, 1, 1, err)))
    return rc;
  const es__tensor *in = es__in(m, op, 0), *out = es__out(m, op, 0);
  if ((rc = es__check_type(op, out, ES_TFLITE_INT8, "output", err)) ||
      (rc = es__check_quantized(op, out, "output", err)))
    return rc;
  char s1[ES__SHAPE_STR], s2[ES__SHAPE_STR];
  if (in->rank != 4)
    return es__tensor_error(err, op, in, "input", ES_EFORMAT, "has shape %s: it must be 4-D",
                            es__shape_str(in, s1));
  if (out->rank != 4)
    return es__tensor_error(err, op, out, "output", ES_EFORMAT, "has shape %s: it must be 4-D",
                            es__shape_str(out, s1));
  if (in->shape[0] != out->shape[0] || in->shape[3] != out->shape[3])
    return es__tensor_error(err, op, out, "output", ES_EFORMAT,
                            "has shape %s: its batch or depth differs from the input's %s",
                            es__shape_str(out, s1), es__shape_str(in, s2));
  pool_params *p = calloc(1, sizeof *p);
  if (!p)
    return es__op_error(err, op, ES_ENOMEM, "out of memory");
  op->data = p;
  if ((rc = es__window(op, in, out, "height", o->padding, in->shape[1], out->shape[1],
                       o->filter_h, o->stride_h, 1, &p->pad_h, err)) ||
      (rc = es__window(op, in, out, "width", o->padding, in->shape[2], out->shape[2], o->filter_w,
                       o->stride_w, 1, &p->pad_w, err)))
    return rc;
  p->stride_w = o->stride_w;
  p->stride_h = o->stride_h;
  p->filter_w = o->filter_w;
  p->filter_h = o->filter_h;
  if ((rc = es__act_range(op, out, o->activation, &p->act_min, &p->act_max, err)))
    return rc;
  /* window reads: the window clipped to the image (a filter larger than the image reads it) */
  const uint64_t fw = (uint64_t)(o->filter_w < in->shape[2] ? o->filter_w : in->shape[2]);
  const uint64_t fh = (uint64_t)(o->filter_h < in->shape[1] ? o->filter_h : in->shape[1]);
  op->macs = (uint64_t)out->count * fw * fh;
  return ES_OK;
}

static void pool(const es__run *r, const es__op *op, int is_max)
{
  const es_model *m = r->m;
  const pool_params *p = op->data;
  const es__tensor *in_t = es__in(m, op, 0), *out_t = es__out(m, op, 0);
  const int8_t *input = es__in_data(r, op, 0);
  int8_t *output = es__out_data(r, op, 0);
  const int batches = in_t->shape[0], in_h = in_t->shape[1], in_w = in_t->shape[2],
            depth = in_t->shape[3];
  const int out_h = out_t->shape[1], out_w = out_t->shape[2];
  if (out_t->count == 0)
    return;
  for (int batch = 0; batch < batches; ++batch) {
    for (int out_y = 0; out_y < out_h; ++out_y) {
      for (int out_x = 0; out_x < out_w; ++out_x) {
        for (int channel = 0; channel < depth; ++channel) {
          const int in_x_origin = out_x * p->stride_w - p->pad_w;
          const int in_y_origin = out_y * p->stride_h - p->pad_h;
          /* the window clipped to the image */
          const int fx_start = in_x_origin < 0 ? -in_x_origin : 0;
          const int fx_end = p->filter_w < in_w - in_x_origin ? p->filter_w : in_w - in_x_origin;
          const int fy_start = in_y_origin < 0 ? -in_y_origin : 0;
          const int fy_end = p->filter_h < in_h - in_y_origin ? p->filter_h : in_h - in_y_origin;
          int64_t acc = is_max ? -128 : 0; /* 64 bits: a huge window cannot overflow */
          int filter_count = 0;
          for (int fy = fy_start; fy < fy_end; ++fy) {
            for (int fx = fx_start; fx < fx_end; ++fx) {
              const int in_x = in_x_origin + fx, in_y = in_y_origin + fy;
              const int64_t v =
                  input[(((size_t)batch * in_h + in_y) * in_w + in_x) * depth + channel];
              if (is_max)
                acc = v > acc ? v : acc;
              else
                acc += v;
              filter_count++;
            }
          }
          if (!is_max) {
            if (filter_count == 0)
              acc = 0; /* TFLM returns an error here; the geometry check makes it unreachable */
            else
              acc = acc > 0 ? (acc + filter_count / 2) / filter_count
                            : (acc - filter_count / 2) / filter_count;
          }
          acc = acc < p->act_min ? p->act_min : acc;
          acc = acc > p->act_max ? p->act_max : acc;
          output[(((size_t)batch * out_h + out_y) * out_w + out_x) * depth + channel] =
              (int8_t)acc;
        }
      }
    }
  }
}

void es__avgpool_eval_ref(const es__run *r, const es__op *op)
{
  pool(r, op, 0);
}

void es__maxpool_eval_ref(const es__run *r, const es__op *op)
{
  pool(r, op, 1);
}
