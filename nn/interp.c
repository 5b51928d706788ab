/* An interpreter instance: its own arena (planned for the tensors it was asked to keep), the
 * data pointer of every tensor, and each operator's eval function, chosen once here from the
 * variant the interpreter was created with: the operator's fast variant for that ISA (falling
 * back along es__isa_fallback()) when its fast prepare set one, else its reference eval.
 * invoke calls the chosen functions in order. No state is shared between instances, so threads
 * can each run one. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/nn_internal.h"

struct es_interp {
  const es_model *m;
  uint8_t *arena;
  size_t arena_bytes;
  uint8_t **data; /* per tensor; NULL for tensors without storage */
  bool *kept;
  uint8_t *scratch;   /* the largest working memory of the chosen eval functions */
  es__eval_fn *eval; /* per operator, chosen at creation */
  int isa;           /* ES_NN_ISA_*, resolved */
  int threads;       /* inside one inference, >= 1 */
  size_t scratch_stride;
};

/* The eval function op runs with ISA slot kisa, and the scratch it needs. */
static es__eval_fn choose(const es__op *op, int kisa, size_t *scratch)
{
  for (int k = kisa; op->fast_variants && k != ES__ISA_REF; k = es__isa_fallback(k))
    if (op->fast_variants->eval[k]) {
      *scratch = op->fast_scratch_bytes;
      return op->fast_variants->eval[k];
    }
  *scratch = op->scratch_bytes;
  return op->kernel->eval;
}

int es_interp_new(const es_model *m, const es_interp_opts *opts, es_interp **out, es_error *err)
{
  int rc = ES_OK;
  size_t n = m->n_tensors ? m->n_tensors : 1;
  size_t *offsets = malloc(n * sizeof *offsets);
  es_interp *ip = calloc(1, sizeof *ip);
  *out = NULL;
  if (!ip || !offsets || !(ip->data = calloc(n, sizeof *ip->data)) ||
      !(ip->kept = calloc(n, sizeof *ip->kept)) ||
      !(ip->eval = calloc(m->n_ops ? m->n_ops : 1, sizeof *ip->eval))) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory creating an interpreter");
    goto cleanup;
  }
  ip->m = m;
  if ((rc = es_nn_isa_resolve(opts ? opts->isa : ES_NN_ISA_AUTO, &ip->isa, err)))
    goto cleanup;
  for (size_t k = 0; opts && k < opts->n_keep; k++) {
    int t = opts->keep[k];
    if (t < 0 || (size_t)t >= m->n_tensors) {
      rc = es_error_set(err, ES_EUSAGE, "cannot keep tensor %d: the model has %zu tensors", t,
                        m->n_tensors);
      goto cleanup;
    }
    ip->kept[t] = true;
  }
  if ((rc = es__plan(m, ip->kept, offsets, &ip->arena_bytes, err)))
    goto cleanup;
  /* 16-byte alignment for whatever vector code later kernels use */
  ip->arena = aligned_alloc(16, ip->arena_bytes ? (ip->arena_bytes + 15) / 16 * 16 : 16);
  if (!ip->arena) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory allocating a %zu-byte arena",
                      ip->arena_bytes);
    goto cleanup;
  }
  memset(ip->arena, 0, ip->arena_bytes);
  size_t scratch = 0;
  for (size_t i = 0; i < m->n_ops; i++) {
    size_t need;
    ip->eval[i] = choose(&m->ops[i], ip->isa - 1, &need); /* ES_NN_ISA_X is slot X - 1 */
    scratch = need > scratch ? need : scratch;
  }
  ip->threads = opts && opts->threads > 1 ? opts->threads : 1;
  if (ip->threads > 256)
    ip->threads = 256;
  ip->scratch_stride = (scratch + 63) / 64 * 64;
  if (scratch) {
    ip->scratch = aligned_alloc(64, ip->scratch_stride * (size_t)ip->threads);
    if (!ip->scratch) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory allocating %zu bytes of scratch",
                        ip->scratch_stride * (size_t)ip->threads);
      goto cleanup;
    }
  }
  for (size_t t = 0; t < m->n_tensors; t++) {
    if (m->tensors[t].const_data)
      ip->data[t] = (uint8_t *)m->tensors[t].const_data; /* kernels never write inputs */
    else if (offsets[t] != SIZE_MAX)
      ip->data[t] = ip->arena + offsets[t];
  }
  *out = ip;
  ip = NULL;
cleanup:
  free(offsets);
  es_interp_free(ip);
  return rc;
}

void es_interp_free(es_interp *ip)
{
  if (!ip)
    return;
  free(ip->arena);
  free(ip->scratch);
  free(ip->data);
  free(ip->kept);
  free(ip->eval);
  free(ip);
}

static void view(es_interp *ip, int index, es_tensor *t)
{
  es_model_tensor(ip->m, index, t);
  t->data = ip->data[index];
}

int es_interp_input(es_interp *ip, size_t i, es_tensor *t)
{
  if (i >= ip->m->fb->n_inputs)
    return -1;
  view(ip, ip->m->fb->inputs[i], t);
  return 0;
}

int es_interp_output(es_interp *ip, size_t i, es_tensor *t)
{
  if (i >= ip->m->fb->n_outputs)
    return -1;
  view(ip, ip->m->fb->outputs[i], t);
  return 0;
}

int es_interp_tensor(es_interp *ip, int index, es_tensor *t, es_error *err)
{
  if (index < 0 || (size_t)index >= ip->m->n_tensors)
    return es_error_set(err, ES_EUSAGE, "no tensor %d (the model has %zu)", index,
                        ip->m->n_tensors);
  const es__tensor *x = &ip->m->tensors[index];
  if (!x->const_data && !x->is_input && !x->is_output && !ip->kept[index])
    return es_error_set(err, ES_EUSAGE,
                        "tensor %d is an intermediate that was not kept (ask for it when "
                        "creating the interpreter)",
                        index);
  view(ip, index, t);
  return ES_OK;
}

int es_interp_invoke(es_interp *ip, es_error *err)
{
  es__run r = {ip->m, ip->data, ip->scratch, ip->threads, ip->scratch_stride};
  (void)err; /* no eval function fails: everything that can was refused at load */
  for (size_t i = 0; i < ip->m->n_ops; i++)
    ip->eval[i](&r, &ip->m->ops[i]);
  return ES_OK;
}

int es_interp_invoke_profile(es_interp *ip, double *op_seconds, es_error *err)
{
  es__run r = {ip->m, ip->data, ip->scratch, ip->threads, ip->scratch_stride};
  (void)err;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (size_t i = 0; i < ip->m->n_ops; i++) {
    ip->eval[i](&r, &ip->m->ops[i]);
    clock_gettime(CLOCK_MONOTONIC, &b);
    op_seconds[i] += (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    a = b;
  }
  return ES_OK;
}

int es_interp_clone(const es_interp *ip, es_interp **out, es_error *err)
{
  size_t n = 0;
  int rc;
  int *keep = malloc((ip->m->n_tensors ? ip->m->n_tensors : 1) * sizeof *keep);
  if (!keep)
    return es_error_set(err, ES_ENOMEM, "out of memory cloning an interpreter");
  for (size_t t = 0; t < ip->m->n_tensors; t++)
    if (ip->kept[t])
      keep[n++] = (int)t;
  es_interp_opts o = {keep, n, ip->isa, ip->threads};
  rc = es_interp_new(ip->m, &o, out, err);
  free(keep);
  return rc;
}

int es_interp_isa(const es_interp *ip)
{
  return ip->isa;
}

int es_interp_threads(const es_interp *ip)
{
  return ip->threads;
}

size_t es_interp_arena_bytes(const es_interp *ip)
{
  return ip->arena_bytes;
}
