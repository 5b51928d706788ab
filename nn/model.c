/* Loading a model: parse the flatbuffer, turn its tensors into checked descriptions (shape
 * products checked against int32, constant buffers big enough for their shapes), check the graph
 * (operators run in order; a tensor is read only after it is produced, produced once, never a
 * constant), find each operator's kernel in the registry, prepare it, total the MACs against
 * the limit, and plan the arena. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

void es_nn_limits_default(es_nn_limits *l)
{
  l->max_macs = UINT64_C(20000000000);
  l->max_arena_bytes = (size_t)1 << 30;
  l->max_tensor_bytes = (size_t)1 << 29;
  l->max_tensors = 10000;
  l->max_operators = 10000;
}

static int init_tensor(es_model *m, size_t i, es_error *err)
{
  const es_tflite_tensor *src = &m->fb->tensors[i];
  es__tensor *t = &m->tensors[i];
  t->src = src;
  t->index = (int)i;
  t->type = src->type;
  t->rank = src->rank;
  memcpy(t->shape, src->shape, sizeof t->shape);
  t->producer = -1;
  t->first_use = t->last_use = -1;
  size_t count = 1;
  /* The product of the dimensions other than 0 must fit an int32, as TFLite's element counts
   * (RuntimeShape::FlatSize) and the kernels' loop bounds are int: a tensor with no elements
   * is no exception, or [0, 2^31 - 1, 2^31 - 1] would overflow every product of its sizes. */
  uint64_t extent = 1;
  for (int d = 0; d < src->rank; d++) {
    if (src->shape[d] < 0)
      return es_error_set(err, ES_EFORMAT, "tensor %zu ('%s') has dimension %d of size %d", i,
                          src->name, d, (int)src->shape[d]);
    if (src->shape[d] > 0)
      extent *= (uint64_t)src->shape[d];
    if (extent > INT32_MAX)
      return es_error_set(err, ES_ELIMIT,
                          "tensor %zu ('%s') has too many elements: its dimensions multiply to "
                          "more than 2^31 - 1",
                          i, src->name);
    count *= (size_t)src->shape[d];
  }
  size_t esize = es_tflite_type_size(src->type);
  t->count = count;
  if (esize && count > m->limits.max_tensor_bytes / esize)
    return es_error_set(err, ES_ELIMIT, "tensor %zu ('%s') exceeds %zu bytes", i, src->name,
                        m->limits.max_tensor_bytes);
  t->bytes = count * esize;
  if (src->q.count) {
    t->scale = src->q.scale[0];
    if (src->q.zero_point[0] < INT32_MIN || src->q.zero_point[0] > INT32_MAX)
      return es_error_set(err, ES_EFORMAT, "tensor %zu ('%s') has zero point %lld", i, src->name,
                          (long long)src->q.zero_point[0]);
    t->zero_point = (int32_t)src->q.zero_point[0];
    /* a zero point outside the type's range is nonsense that would overflow int32 kernels */
    int64_t lo = INT32_MIN, hi = INT32_MAX;
    if (src->type == ES_TFLITE_INT8)
      lo = -128, hi = 127;
    else if (src->type == ES_TFLITE_UINT8)
      lo = 0, hi = 255;
    else if (src->type == ES_TFLITE_INT16)
      lo = -32768, hi = 32767;
    for (size_t k = 0; k < src->q.count; k++)
      if (src->q.zero_point[k] < lo || src->q.zero_point[k] > hi)
        return es_error_set(err, ES_EFORMAT, "tensor %zu ('%s') has zero point %lld outside %s",
                            i, src->name, (long long)src->q.zero_point[k],
                            es_tflite_type_name(src->type));
  }
  if (src->data) {
    if (src->data_len < t->bytes)
      return es_error_set(err, ES_EFORMAT,
                          "tensor %zu ('%s'): its buffer holds %zu bytes, its shape needs %zu", i,
                          src->name, src->data_len, t->bytes);
    t->const_data = src->data;
  }
  return ES_OK;
}

static void note_use(es__tensor *t, int op)
{
  if (t->first_use < 0 || op < t->first_use)
    t->first_use = op;
  if (op > t->last_use)
    t->last_use = op;
}

static int check_graph(es_model *m, es_error *err)
{
  for (size_t k = 0; k < m->fb->n_inputs; k++) {
    es__tensor *t = &m->tensors[m->fb->inputs[k]];
    if (t->const_data)
      return es_error_set(err, ES_EFORMAT, "model input %zu is a constant tensor", k);
    t->is_input = true;
    note_use(t, 0);
  }
  for (size_t i = 0; i < m->n_ops; i++) {
    es__op *op = &m->ops[i];
    for (size_t k = 0; k < op->n_in; k++) {
      if (op->in[k] < 0)
        continue;
      es__tensor *t = &m->tensors[op->in[k]];
      /* a tensor with no elements holds nothing to produce (a converter writes a reshape to a
       * scalar with an empty shape tensor of shape [0]): TFLM gives it an empty slot */
      if (!t->const_data && !t->is_input && t->producer < 0 && t->count > 0)
        return es__op_error(err, op, ES_EFORMAT,
                            "reads tensor %d before any operator produces it", (int)op->in[k]);
      if (!t->const_data)
        note_use(t, (int)i);
    }
    for (size_t k = 0; k < op->n_out; k++) {
      es__tensor *t = &m->tensors[op->out[k]];
      if (t->const_data || t->is_input || t->producer >= 0)
        return es__op_error(err, op, ES_EFORMAT,
                            "writes tensor %d, which is a constant, a model input or already "
                            "produced",
                            (int)op->out[k]);
      t->producer = (int)i;
      note_use(t, (int)i);
    }
  }
  for (size_t k = 0; k < m->fb->n_outputs; k++) {
    es__tensor *t = &m->tensors[m->fb->outputs[k]];
    if (!t->const_data && !t->is_input && t->producer < 0)
      return es_error_set(err, ES_EFORMAT, "model output %zu (tensor %d) is never produced", k,
                          (int)m->fb->outputs[k]);
    t->is_output = true;
    if (!t->const_data)
      note_use(t, (int)m->n_ops);
  }
  return ES_OK;
}

static int find_kernel(es__op *op, const es_model *m, es_error *err)
{
  if (op->opcode == ES_OP_CUSTOM) {
    const char *cc = m->fb->opcodes[op->src->opcode_index].custom_code;
    return es__op_error(err, op, ES_EUNSUPPORTED, "custom operator '%s' is not supported",
                        cc ? cc : "");
  }
  int type = -1;
  for (size_t k = 0; k < op->n_in && type < 0; k++)
    if (op->in[k] >= 0)
      type = m->tensors[op->in[k]].type;
  if (!es__kernel_has_opcode(op->opcode))
    return es__op_error(err, op, ES_EUNSUPPORTED, "operator is not supported");
  op->kernel = es__kernel_find(op->opcode, type);
  if (!op->kernel)
    return es__op_error(err, op, ES_EUNSUPPORTED, "%s input is not supported",
                        type < 0 ? "missing" : es_tflite_type_name(type));
  return ES_OK;
}

int es_model_load(const uint8_t *buf, size_t len, const es_nn_limits *limits, es_model **out,
                  es_error *err)
{
  int rc;
  *out = NULL;
  es_model *m = calloc(1, sizeof *m);
  if (!m)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  es_nn_limits_default(&m->limits);
  if (limits) {
    if (limits->max_macs)
      m->limits.max_macs = limits->max_macs;
    if (limits->max_arena_bytes)
      m->limits.max_arena_bytes = limits->max_arena_bytes;
    if (limits->max_tensor_bytes)
      m->limits.max_tensor_bytes = limits->max_tensor_bytes;
    if (limits->max_tensors)
      m->limits.max_tensors = limits->max_tensors;
    if (limits->max_operators)
      m->limits.max_operators = limits->max_operators;
  }
  m->bytes = malloc(len ? len : 1);
  if (!m->bytes) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory copying a %zu-byte model", len);
    goto cleanup;
  }
  if (len)
    memcpy(m->bytes, buf, len);
  m->len = len;
  es_tflite_limits fl = {m->limits.max_tensors, m->limits.max_operators};
  if ((rc = es_tflite_parse(m->bytes, len, &fl, &m->fb, err)))
    goto cleanup;
  if (m->fb->n_subgraphs != 1) {
    rc = es_error_set(err, ES_EUNSUPPORTED, "model has %zu subgraphs (only 1 is supported)",
                      m->fb->n_subgraphs);
    goto cleanup;
  }
  m->n_tensors = m->fb->n_tensors;
  m->n_ops = m->fb->n_operators;
  m->tensors = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *m->tensors);
  m->ops = calloc(m->n_ops ? m->n_ops : 1, sizeof *m->ops);
  if (!m->tensors || !m->ops) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  for (size_t i = 0; i < m->n_tensors; i++)
    if ((rc = init_tensor(m, i, err)))
      goto cleanup;
  for (size_t i = 0; i < m->n_ops; i++) {
    es__op *op = &m->ops[i];
    const es_tflite_operator *src = &m->fb->operators[i];
    op->index = (int)i;
    op->src = src;
    op->opcode = src->builtin_code;
    static const char unknown[] = "unknown operator";
    char scratch[24];
    const char *nm = es_tflite_op_name(op->opcode, scratch);
    op->name = nm == scratch ? unknown : nm;
    op->in = src->inputs;
    op->n_in = src->n_inputs;
    op->out = src->outputs;
    op->n_out = src->n_outputs;
  }
  if ((rc = check_graph(m, err)))
    goto cleanup;
  for (size_t i = 0; i < m->n_ops; i++) {
    es__op *op = &m->ops[i];
    /* the reference prepare, then the fast one, which packs op->fast and sets
     * op->fast_variants or leaves the operator on the reference eval */
    if ((rc = find_kernel(op, m, err)) || (rc = op->kernel->prepare(m, op, err)) ||
        (op->kernel->fast_prepare && (rc = op->kernel->fast_prepare(m, op, err))))
      goto cleanup;
    if (op->macs > m->limits.max_macs - m->macs) {
      rc = es_error_set(err, ES_ELIMIT, "the model needs more than %llu MACs (limit)",
                        (unsigned long long)m->limits.max_macs);
      goto cleanup;
    }
    m->macs += op->macs;
    m->params += op->params;
  }
  size_t *offsets = malloc((m->n_tensors ? m->n_tensors : 1) * sizeof *offsets);
  if (!offsets) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  rc = es__plan(m, NULL, offsets, &m->arena_bytes, err);
  free(offsets);
  if (rc)
    goto cleanup;
  *out = m;
  m = NULL;
cleanup:
  es_model_free(m);
  return rc;
}

void es_model_free(es_model *m)
{
  if (!m)
    return;
  for (size_t i = 0; m->ops && i < m->n_ops; i++) {
    free(m->ops[i].data);
    free(m->ops[i].fast);
  }
  free(m->ops);
  free(m->tensors);
  es_tflite_free(m->fb);
  free(m->bytes);
  free(m);
}

static void describe(const es_model *m, int index, es_tensor *t)
{
  const es__tensor *x = &m->tensors[index];
  memset(t, 0, sizeof *t);
  t->index = index;
  t->name = x->src->name;
  t->type = x->type;
  t->rank = x->rank;
  memcpy(t->shape, x->shape, sizeof t->shape);
  t->count = x->count;
  t->bytes = x->bytes;
  t->scale = x->scale;
  t->zero_point = x->zero_point;
}

size_t es_model_input_count(const es_model *m)
{
  return m->fb->n_inputs;
}

size_t es_model_output_count(const es_model *m)
{
  return m->fb->n_outputs;
}

size_t es_model_tensor_count(const es_model *m)
{
  return m->n_tensors;
}

int es_model_input(const es_model *m, size_t i, es_tensor *t)
{
  if (i >= m->fb->n_inputs)
    return -1;
  describe(m, m->fb->inputs[i], t);
  return 0;
}

int es_model_output(const es_model *m, size_t i, es_tensor *t)
{
  if (i >= m->fb->n_outputs)
    return -1;
  describe(m, m->fb->outputs[i], t);
  return 0;
}

int es_model_tensor(const es_model *m, int index, es_tensor *t)
{
  if (index < 0 || (size_t)index >= m->n_tensors)
    return -1;
  describe(m, index, t);
  return 0;
}

void es_model_info_get(const es_model *m, es_model_info *info)
{
  info->n_ops = m->n_ops;
  info->params = m->params;
  info->macs = m->macs;
  info->flash_bytes = m->len;
  info->arena_bytes = m->arena_bytes;
}

int es_model_op_info(const es_model *m, size_t i, es_op_info *info)
{
  if (i >= m->n_ops)
    return -1;
  const es__op *op = &m->ops[i];
  info->index = op->index;
  info->opcode = op->opcode;
  info->name = op->name;
  info->n_inputs = op->n_in;
  info->n_outputs = op->n_out;
  info->inputs = op->in;
  info->outputs = op->out;
  info->params = op->params;
  info->macs = op->macs;
  return 0;
}
