/* The int8 TFLite interpreter. A model is loaded once (parsed, validated, every operator
 * prepared with TFLite Micro's integer parameters, the arena planned) and is immutable
 * afterwards; each es_interp owns its own arena, so several threads can each run one
 * interpreter of the same model. Results are bit-exact with TFLM's reference kernels. */
#ifndef ES_NN_NN_H
#define ES_NN_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "formats/tflite.h"

/* Limits that keep a hostile model from running for ever or allocating absurdly. Zero fields
 * take the defaults of es_nn_limits_default(). */
typedef struct es_nn_limits {
  uint64_t max_macs;        /* multiply-accumulates of one inference (default 2e10) */
  size_t max_arena_bytes;   /* planned activation memory (default 1 GiB) */
  size_t max_tensor_bytes;  /* any one tensor (default 512 MiB) */
  size_t max_tensors;       /* default 100000 */
  size_t max_operators;     /* default 100000 */
} es_nn_limits;

void es_nn_limits_default(es_nn_limits *l);

typedef struct es_model es_model;
typedef struct es_interp es_interp;

/* A tensor as the caller sees it. data is NULL for descriptions without storage. */
typedef struct es_tensor {
  int index; /* tensor index in subgraph 0 */
  const char *name;
  int type; /* ES_TFLITE_* */
  int rank;
  int32_t shape[ES_TFLITE_MAX_RANK];
  size_t count; /* elements */
  size_t bytes;
  float scale; /* first scale; 0 when not quantized */
  int32_t zero_point;
  void *data;
} es_tensor;

/* Loads a model from buf[0..len); the model keeps its own copy of the bytes. Caller frees with
 * es_model_free() (NULL-safe). Errors: ES_EFORMAT (malformed), ES_EUNSUPPORTED (an operator or
 * type edgeset does not run; the message names the operator, its index and why), ES_ELIMIT,
 * ES_ENOMEM. limits may be NULL. */
int es_model_load(const uint8_t *buf, size_t len, const es_nn_limits *limits, es_model **out,
                  es_error *err);
void es_model_free(es_model *m);

size_t es_model_input_count(const es_model *m);
size_t es_model_output_count(const es_model *m);
/* Descriptions (data == NULL) of model input / output i, or of any tensor. -1 when out of
 * range. */
int es_model_input(const es_model *m, size_t i, es_tensor *t);
int es_model_output(const es_model *m, size_t i, es_tensor *t);
int es_model_tensor(const es_model *m, int index, es_tensor *t);
size_t es_model_tensor_count(const es_model *m);

typedef struct es_op_info {
  int index;
  int32_t opcode;
  const char *name; /* "CONV_2D" ... */
  size_t n_inputs, n_outputs;
  const int32_t *inputs; /* tensor indices, -1 = omitted optional input */
  const int32_t *outputs;
  uint64_t params; /* elements of the constant tensors it reads */
  uint64_t macs;
} es_op_info;

typedef struct es_model_info {
  size_t n_ops;
  uint64_t params;
  uint64_t macs;
  size_t flash_bytes; /* model size */
  size_t arena_bytes; /* planned arena with no tensor kept */
} es_model_info;

void es_model_info_get(const es_model *m, es_model_info *info);
/* -1 when i is out of range. */
int es_model_op_info(const es_model *m, size_t i, es_op_info *info);

/* Kernel variants. Every variant gives bit-identical results; they differ only in speed.
 * AUTO = the EDGESET_ISA environment variable when set, else the best one this CPU runs.
 * Names (for EDGESET_ISA and es_nn_isa_parse): reference, portable, avx2, avxvnni, avx512vnni. */
enum {
  ES_NN_ISA_AUTO = 0,
  ES_NN_ISA_REFERENCE, /* TFLM's plain loops */
  ES_NN_ISA_PORTABLE,  /* blocked plain C that compilers vectorize; any CPU */
  ES_NN_ISA_AVX2,
  ES_NN_ISA_AVXVNNI,    /* AVX2 + AVX-VNNI (vpdpbusd on 256 bits) */
  ES_NN_ISA_AVX512VNNI, /* AVX-512BW + AVX512-VNNI */
  ES_NN_ISA_COUNT
};
/* "reference" ... for a variant, "auto" for ES_NN_ISA_AUTO, NULL otherwise. */
const char *es_nn_isa_name(int isa);
/* Does this CPU run the variant? (AUTO, reference and portable: always.) */
bool es_nn_isa_supported(int isa);
/* The fastest variant this CPU runs. */
int es_nn_isa_best(void);
/* Name -> variant; ES_EUSAGE naming the value when it is unknown or this CPU cannot run it. */
int es_nn_isa_parse(const char *name, int *isa, es_error *err);
/* What AUTO resolves to: EDGESET_ISA when set (ES_EUSAGE if it is bad), else es_nn_isa_best(). */
int es_nn_isa_resolve(int isa, int *out, es_error *err);

/* The int8 multiply-accumulate rate of one core on the instruction variant isa's kernels are
 * built on (avx512vnni: vpdpbusd zmm, avxvnni: vpdpbusd ymm, avx2: vpmaddwd ymm), measured by a
 * register-only loop for about `seconds` (the best of short slices), in GMAC/s; *instr (when
 * not NULL) names the instruction. 0 (and NULL) for reference and portable, and for a variant
 * this CPU does not run. */
double es_nn_peak_gmacs(int isa, double seconds, const char **instr);

/* Interpreter options: tensors to keep readable after invoke (e.g. the penultimate layer), so
 * the planner does not reuse their memory (NULL = none); the kernel variant (0 = AUTO). */
typedef struct es_interp_opts {
  const int *keep;
  size_t n_keep;
  int isa;     /* ES_NN_ISA_* */
  int threads; /* threads inside one inference (0 and 1: one): the fast convolutions split
                  their output rows among them; the results do not depend on it */
} es_interp_opts;

/* Caller frees with es_interp_free() (NULL-safe). The model must outlive the interpreter.
 * Threads: an es_model is read-only after loading and may be shared; an es_interp is not
 * thread-safe, so give each thread its own (es_interp_new per thread, or es_interp_clone).
 * Results never depend on how many interpreters or threads there are. Errors: ES_EUSAGE for a
 * bad keep index or an unusable ISA (EDGESET_ISA included), ES_ENOMEM. */
int es_interp_new(const es_model *m, const es_interp_opts *opts, es_interp **out, es_error *err);
/* A new interpreter of the same model with the same options (kept tensors, variant) and its own
 * arena; inputs are not copied. Caller frees with es_interp_free(). */
int es_interp_clone(const es_interp *ip, es_interp **out, es_error *err);
/* The variant this interpreter runs (never AUTO), and its threads inside one inference. */
int es_interp_isa(const es_interp *ip);
int es_interp_threads(const es_interp *ip);
void es_interp_free(es_interp *ip);
/* Views whose data points into the interpreter's arena: write inputs before invoke, read
 * outputs after. -1 when i is out of range. */
int es_interp_input(es_interp *ip, size_t i, es_tensor *t);
int es_interp_output(es_interp *ip, size_t i, es_tensor *t);
/* Any tensor: constants, inputs, outputs and kept intermediates; ES_EUSAGE for an
 * intermediate that was not kept. */
int es_interp_tensor(es_interp *ip, int index, es_tensor *t, es_error *err);
int es_interp_invoke(es_interp *ip, es_error *err);
/* The same, adding each operator's wall time in seconds to op_seconds[i] (one per operator of
 * the model, es_model_info_get's n_ops). */
int es_interp_invoke_profile(es_interp *ip, double *op_seconds, es_error *err);
/* Planned arena bytes of this interpreter (depends on the kept tensors). */
size_t es_interp_arena_bytes(const es_interp *ip);

#endif
