/* The eval stage's library: loading a model file, running raw input tensors through it and
 * printing the outputs (--dump-outputs), and describing a model (--info). Output goes to the
 * FILE the program passes; nothing here exits. */
#ifndef ES_EVAL_H
#define ES_EVAL_H

#include <stdbool.h>
#include <stdio.h>

#include "core/error.h"
#include "nn/nn.h"


/* Runs N inferences (one at a time, on `threads` threads inside each), where input file k holds
 * N tensors of model input k back to back, and prints for each run one line per output tensor (integers in decimal, floats with %.9g),
 * values separated by one space. ES_EUSAGE when the number of files differs from the model's
 * inputs, a file's size is not a multiple of its tensor's size, or the files hold different
 * numbers of tensors. */
int es_eval_dump_outputs(const es_model *m, const char *const *paths, size_t n_paths,
                         int threads, FILE *out, es_error *err);

/* Copies the first tensor of each raw input file (as --dump-outputs reads them) into ip's
 * inputs. */
int es_eval_fill_raw(const es_model *m, es_interp *ip, const char *const *paths, size_t n_paths,
                     es_error *err);

/* --profile: runs the inference ip holds inputs for repeatedly (at least 5 times and about
 * `seconds`) with a clock around each operator, and prints per operator its mean time, share,
 * MACs, GMAC/s and share of the measured peak (es_nn_peak_gmacs of ip's kernel variant, times
 * the threads ip uses inside an inference), as text or one JSON object. */
int es_eval_profile(const es_model *m, es_interp *ip, double seconds, bool json, FILE *out,
                    es_error *err);

/* Prints operators (index, name, input/output shapes, parameters, MACs) and totals (parameters,
 * MACs, flash bytes, planned arena bytes) as text, or as one JSON object when json is set. */
int es_eval_info(const es_model *m, const char *model_path, bool json, FILE *out, es_error *err);

#endif
