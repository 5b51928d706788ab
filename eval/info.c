/* --info: what a model is made of and what it costs to run: per operator its inputs and
 * outputs with shapes, parameter count and MACs; totals with flash (model bytes) and the
 * planned arena. Text for people, JSON (jansson) for scripts; both carry the same numbers. */
#include <jansson.h>
#include <stdlib.h>

#include "core/show.h"
#include "eval/eval.h"

static void shape_text(const es_tensor *t, char *buf, size_t cap)
{
  size_t n = (size_t)snprintf(buf, cap, "%s[", es_tflite_type_name(t->type));
  for (int d = 0; d < t->rank && n < cap; d++)
    n += (size_t)snprintf(buf + n, cap - n, d ? ",%d" : "%d", (int)t->shape[d]);
  if (n < cap)
    snprintf(buf + n, cap - n, "]");
}

static json_t *tensor_json(const es_tensor *t)
{
  json_t *shape = json_array();
  for (int d = 0; d < t->rank; d++)
    json_array_append_new(shape, json_integer(t->shape[d]));
  json_t *o = json_object();
  json_object_set_new(o, "tensor", json_integer(t->index));
  json_object_set_new(o, "name", json_string(t->name));
  json_object_set_new(o, "type", json_string(es_tflite_type_name(t->type)));
  json_object_set_new(o, "shape", shape);
  if (t->scale > 0.0f) {
    json_object_set_new(o, "scale", json_real((double)t->scale));
    json_object_set_new(o, "zero_point", json_integer(t->zero_point));
  }
  return o;
}

static json_t *tensor_list_json(const es_model *m, const int32_t *idx, size_t n)
{
  json_t *a = json_array();
  for (size_t k = 0; k < n; k++) {
    es_tensor t;
    if (idx[k] < 0 || es_model_tensor(m, idx[k], &t)) {
      json_array_append_new(a, json_null());
      continue;
    }
    json_array_append_new(a, tensor_json(&t));
  }
  return a;
}

static int info_json(const es_model *m, const char *path, FILE *out, es_error *err)
{
  es_model_info info;
  es_model_info_get(m, &info);
  json_t *root = json_object(), *ops = json_array();
  if (!root || !ops) {
    json_decref(root);
    json_decref(ops);
    return es_error_set(err, ES_ENOMEM, "out of memory");
  }
  json_object_set_new(root, "model", json_string(path));
  for (size_t i = 0; i < info.n_ops; i++) {
    es_op_info oi;
    es_model_op_info(m, i, &oi);
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer(oi.index));
    json_object_set_new(o, "name", json_string(oi.name));
    json_object_set_new(o, "opcode", json_integer(oi.opcode));
    json_object_set_new(o, "inputs", tensor_list_json(m, oi.inputs, oi.n_inputs));
    json_object_set_new(o, "outputs", tensor_list_json(m, oi.outputs, oi.n_outputs));
    json_object_set_new(o, "params", json_integer((json_int_t)oi.params));
    json_object_set_new(o, "macs", json_integer((json_int_t)oi.macs));
    json_array_append_new(ops, o);
  }
  json_t *ins = json_array(), *outs = json_array();
  for (size_t k = 0; k < es_model_input_count(m); k++) {
    es_tensor t;
    es_model_input(m, k, &t);
    json_array_append_new(ins, tensor_json(&t));
  }
  for (size_t k = 0; k < es_model_output_count(m); k++) {
    es_tensor t;
    es_model_output(m, k, &t);
    json_array_append_new(outs, tensor_json(&t));
  }
  json_object_set_new(root, "inputs", ins);
  json_object_set_new(root, "outputs", outs);
  json_object_set_new(root, "operators", ops);
  json_t *tot = json_object();
  json_object_set_new(tot, "operators", json_integer((json_int_t)info.n_ops));
  json_object_set_new(tot, "params", json_integer((json_int_t)info.params));
  json_object_set_new(tot, "macs", json_integer((json_int_t)info.macs));
  json_object_set_new(tot, "flash_bytes", json_integer((json_int_t)info.flash_bytes));
  json_object_set_new(tot, "arena_bytes", json_integer((json_int_t)info.arena_bytes));
  json_object_set_new(root, "totals", tot);
  int rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  fputc('\n', out);
  json_decref(root);
  return rc ? es_error_set(err, ES_EIO, "cannot write JSON") : ES_OK;
}

static void list_text(const es_model *m, const int32_t *idx, size_t n, FILE *out)
{
  for (size_t k = 0; k < n; k++) {
    es_tensor t;
    char buf[160];
    if (k)
      fputs(", ", out);
    if (idx[k] < 0 || es_model_tensor(m, idx[k], &t)) {
      fputs("-", out);
      continue;
    }
    shape_text(&t, buf, sizeof buf);
    fprintf(out, "%s", buf);
  }
}

int es_eval_info(const es_model *m, const char *model_path, bool json, FILE *out, es_error *err)
{
  if (json)
    return info_json(m, model_path, out, err);
  es_model_info info;
  es_model_info_get(m, &info);
  fprintf(out, "model %s\n", es_show(model_path));
  for (size_t k = 0; k < es_model_input_count(m); k++) {
    es_tensor t;
    char buf[160];
    es_model_input(m, k, &t);
    shape_text(&t, buf, sizeof buf);
    fprintf(out, "input %zu: %s scale %.9g zero point %d\n", k, buf, (double)t.scale,
            (int)t.zero_point);
  }
  for (size_t k = 0; k < es_model_output_count(m); k++) {
    es_tensor t;
    char buf[160];
    es_model_output(m, k, &t);
    shape_text(&t, buf, sizeof buf);
    fprintf(out, "output %zu: %s scale %.9g zero point %d\n", k, buf, (double)t.scale,
            (int)t.zero_point);
  }
  fprintf(out, "%5s  %-20s %12s %14s  %s\n", "op", "name", "params", "MACs", "inputs -> outputs");
  for (size_t i = 0; i < info.n_ops; i++) {
    es_op_info oi;
    es_model_op_info(m, i, &oi);
    fprintf(out, "%5d  %-20s %12llu %14llu  ", oi.index, oi.name, (unsigned long long)oi.params,
            (unsigned long long)oi.macs);
    list_text(m, oi.inputs, oi.n_inputs, out);
    fputs(" -> ", out);
    list_text(m, oi.outputs, oi.n_outputs, out);
    fputc('\n', out);
  }
  fprintf(out, "total: %zu operators, %llu parameters, %llu MACs, flash %zu bytes, arena %zu bytes\n",
          info.n_ops, (unsigned long long)info.params, (unsigned long long)info.macs,
          info.flash_bytes, info.arena_bytes);
  return ES_OK;
}
