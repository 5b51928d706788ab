/* edgeset-eval --profile: where one inference spends its time, operator by operator, against
 * the measured peak of the kernel variant that runs it (nn/peak.c). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "eval/eval.h"

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* "1x112x112x32" for the operator's first output */
static void shape_text(const es_model *m, const es_op_info *op, char *buf, size_t n)
{
  buf[0] = '\0';
  es_tensor t;
  if (!op->n_outputs || es_model_tensor(m, op->outputs[0], &t))
    return;
  size_t used = 0;
  for (int d = 0; d < t.rank && used < n; d++)
    used += (size_t)snprintf(buf + used, n - used, "%s%d", d ? "x" : "", (int)t.shape[d]);
}

int es_eval_profile(const es_model *m, es_interp *ip, double seconds, bool json, FILE *out,
                    es_error *err)
{
  es_model_info mi;
  es_model_info_get(m, &mi);
  double *secs = calloc(mi.n_ops ? mi.n_ops : 1, sizeof *secs);
  if (!secs)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  int rc = es_interp_invoke(ip, err); /* warm: caches, page faults of the arena */
  long runs = 0;
  double t0 = now();
  while (!rc && (runs < 5 || now() - t0 < seconds)) {
    rc = es_interp_invoke_profile(ip, secs, err);
    runs++;
  }
  if (rc) {
    free(secs);
    return rc;
  }
  const char *instr = NULL;
  const int isa = es_interp_isa(ip), threads = es_interp_threads(ip);
  /* the peak of the cores the inference may use */
  double peak = es_nn_peak_gmacs(isa, 0.2, &instr) * threads, total = 0;
  for (size_t i = 0; i < mi.n_ops; i++)
    total += secs[i] /= (double)runs;
  json_t *ops = json_array();
  if (!json) {
    fprintf(out, "%zu operators, %.1f M MACs; variant %s, %d thread%s; %ld inferences, %.3f ms "
            "each\n", mi.n_ops, (double)mi.macs / 1e6, es_nn_isa_name(isa), threads,
            threads == 1 ? "" : "s", runs, total * 1e3);
    if (peak > 0)
      fprintf(out, "measured peak: %.1f GMAC/s (%s, %d core%s)\n", peak, instr, threads,
              threads == 1 ? "" : "s");
    else
      fprintf(out, "no peak for this variant (plain C): shares of peak are not given\n");
    fprintf(out, "%4s  %-20s %-16s %10s %10s %7s %8s %8s\n", "op", "operator", "output",
            "MACs", "time us", "share", "GMAC/s", "of peak");
  }
  for (size_t i = 0; i < mi.n_ops; i++) {
    es_op_info op;
    es_model_op_info(m, i, &op);
    char shape[64];
    shape_text(m, &op, shape, sizeof shape);
    double g = secs[i] > 0 ? (double)op.macs / secs[i] / 1e9 : 0;
    if (json) {
      json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:f, s:f, s:f}", "index", (json_int_t)i,
                            "operator", op.name, "output_shape", shape, "macs",
                            (json_int_t)op.macs, "seconds", secs[i], "share",
                            total > 0 ? secs[i] / total : 0.0, "gmacs", g);
      if (o && peak > 0 && op.macs)
        json_object_set_new(o, "peak_share", json_real(g / peak));
      json_array_append_new(ops, o);
    } else {
      fprintf(out, "%4zu  %-20s %-16s %10.2fM %10.1f %6.1f%% %8.2f", i, op.name, shape,
              (double)op.macs / 1e6, secs[i] * 1e6, total > 0 ? 100 * secs[i] / total : 0, g);
      if (peak > 0 && op.macs)
        fprintf(out, " %7.1f%%", 100 * g / peak);
      fputc('\n', out);
    }
  }
  double gt = total > 0 ? (double)mi.macs / total / 1e9 : 0;
  if (json) {
    json_t *doc = json_pack("{s:s, s:i, s:I, s:I, s:f, s:f}", "variant", es_nn_isa_name(isa),
                            "threads", threads, "inferences", (json_int_t)runs, "macs",
                            (json_int_t)mi.macs, "seconds", total, "gmacs", gt);
    if (doc && peak > 0) {
      json_object_set_new(doc, "peak_gmacs", json_real(peak));
      json_object_set_new(doc, "peak_instruction", json_string(instr));
      json_object_set_new(doc, "peak_share", json_real(gt / peak));
    }
    if (doc)
      json_object_set_new(doc, "operators", ops);
    else
      json_decref(ops);
    if (!doc) {
      free(secs);
      return es_error_set(err, ES_ENOMEM, "out of memory");
    }
    json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                             JSON_REAL_PRECISION(ES_FLOAT_DIGITS));
    fputc('\n', out);
    json_decref(doc);
  } else {
    json_decref(ops);
    fprintf(out, "%4s  %-20s %-16s %10.2fM %10.1f %6.1f%% %8.2f", "", "total", "",
            (double)mi.macs / 1e6, total * 1e6, 100.0, gt);
    if (peak > 0)
      fprintf(out, " %7.1f%%", 100 * gt / peak);
    fputc('\n', out);
  }
  free(secs);
  return ES_OK;
}
