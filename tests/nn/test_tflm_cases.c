/* Cases ported from TensorFlow Lite Micro's kernel unit tests (tests/data/tflm/<name>.cases; the
 * format is tests/data/tflm/FORMAT.md). Each case is built as a one-operator model with the TFLite
 * builder, loaded, and run with every kernel variant this CPU supports; every output must match
 * the case's expected values within its tolerance, and a case marked `expect load-error` must be
 * refused. One run reports every failing case, variant and element, then fails with the count. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tflite.h"
#include "nn/nn.h"
#include "testutil.h"

/* Mismatching elements printed per output and variant before the rest are only counted. */
#define TC_MAX_REPORTED 8

enum { TC_IN, TC_CONST, TC_NONE, TC_OUT };

typedef struct tc_tensor {
  int kind; /* TC_* */
  int line;
  char *name;
  int type; /* ES_TFLITE_* */
  int rank;
  int32_t shape[ES_TFLITE_MAX_RANK];
  size_t count;
  size_t nq; /* scales and zero points; 0 = not quantized */
  float *scales;
  int64_t *zero_points;
  int qdim;
  bool has_values;
  double *values; /* count values (exact: int32 and float32 both fit a double) */
  double tol;     /* outputs: largest allowed |got - expected| */
} tc_tensor;

typedef struct tc_case {
  char *name;
  int line;
  int32_t op; /* builtin code; -1 until the op line */
  es_tflite_options opts;
  tc_tensor *tensors;
  size_t n_tensors, cap_tensors;
  bool expect_load_error;
} tc_case;

typedef struct tc_file {
  tc_case *cases;
  size_t n_cases, cap_cases;
} tc_file;

static void tc_case_free(tc_case *c)
{
  for (size_t i = 0; i < c->n_tensors; i++) {
    tc_tensor *t = &c->tensors[i];
    free(t->name);
    free(t->scales);
    free(t->zero_points);
    free(t->values);
  }
  free(c->tensors);
  free(c->name);
  free(c->opts.new_shape);
  free(c->opts.squeeze_dims);
}

static void tc_file_free(tc_file *f)
{
  for (size_t i = 0; i < f->n_cases; i++)
    tc_case_free(&f->cases[i]);
  free(f->cases);
  memset(f, 0, sizeof *f);
}

/* ---- parsing ------------------------------------------------------------------------------ */

typedef struct tc_parser {
  const char *path; /* as named in messages */
  int line;
  char *msg;
  size_t msgsz;
} tc_parser;

/* Writes "path:line: message" and returns -1. */
static int perr(const tc_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(const tc_parser *p, const char *fmt, ...)
{
  int n = snprintf(p->msg, p->msgsz, "%s:%d: ", p->path, p->line);
  if (n >= 0 && (size_t)n < p->msgsz) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg + n, p->msgsz - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* Next space-separated token of *cur (NUL-terminated in place), or NULL at the end. */
static char *next_token(char **cur)
{
  char *s = *cur;
  while (*s == ' ' || *s == '\t')
    s++;
  if (!*s) {
    *cur = s;
    return NULL;
  }
  char *start = s;
  while (*s && *s != ' ' && *s != '\t')
    s++;
  if (*s)
    *s++ = '\0';
  *cur = s;
  return start;
}

static bool parse_ll(const char *s, long long lo, long long hi, long long *out)
{
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || *end || errno || v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
  long long v;
  if (!parse_ll(s, lo, hi, &v))
    return false;
  *out = (int)v;
  return true;
}

static bool parse_float(const char *s, float *out)
{
  char *end;
  errno = 0;
  float v = strtof(s, &end);
  if (end == s || *end || errno)
    return false;
  *out = v;
  return true;
}

/* Splits s at every `sep` (in place) into at most max pieces; returns the count, or -1 when there
 * are more pieces. */
static int split(char *s, char sep, char **pieces, int max)
{
  int n = 0;
  for (;;) {
    if (n == max)
      return -1;
    pieces[n++] = s;
    char *at = strchr(s, sep);
    if (!at)
      return n;
    *at = '\0';
    s = at + 1;
  }
}

static int parse_type(const char *s)
{
  static const struct {
    const char *name;
    int type;
  } types[] = {{"int8", ES_TFLITE_INT8},
               {"int16", ES_TFLITE_INT16},
               {"int32", ES_TFLITE_INT32},
               {"uint8", ES_TFLITE_UINT8},
               {"float32", ES_TFLITE_FLOAT32}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (!strcmp(s, types[i].name))
      return types[i].type;
  return -1;
}

/* Builtin code of an operator name, from es_tflite_op_name; -1 when unknown. */
static int32_t op_code(const char *name)
{
  char scratch[24];
  for (int32_t code = 0; code < 256; code++) {
    const char *n = es_tflite_op_name(code, scratch);
    if (n != scratch && !strcmp(n, name))
      return code;
  }
  return -1;
}

/* Range of an integer tensor type's values. */
static void type_range(int type, long long *lo, long long *hi)
{
  switch (type) {
  case ES_TFLITE_INT8:
    *lo = INT8_MIN, *hi = INT8_MAX;
    break;
  case ES_TFLITE_UINT8:
    *lo = 0, *hi = UINT8_MAX;
    break;
  case ES_TFLITE_INT16:
    *lo = INT16_MIN, *hi = INT16_MAX;
    break;
  default:
    *lo = INT32_MIN, *hi = INT32_MAX;
    break;
  }
}

static int parse_shape(tc_parser *p, char *s, tc_tensor *t)
{
  t->count = 1;
  if (!strcmp(s, "scalar")) {
    t->rank = 0;
    return 0;
  }
  char *dims[ES_TFLITE_MAX_RANK];
  int n = split(s, 'x', dims, ES_TFLITE_MAX_RANK);
  if (n < 0)
    return perr(p, "shape has more than %d dimensions", ES_TFLITE_MAX_RANK);
  for (int i = 0; i < n; i++) {
    int d;
    if (!parse_int(dims[i], 0, 1 << 24, &d))
      return perr(p, "bad dimension '%s' in the shape", dims[i]);
    t->shape[i] = d;
    t->count *= (size_t)d;
  }
  if (t->count > (size_t)1 << 26)
    return perr(p, "shape has %zu elements", t->count);
  t->rank = n;
  return 0;
}

/* "-", "q=SCALE:ZP" or "pc=QDIM:S1,S2,...:Z1,Z2,...". */
static int parse_quant(tc_parser *p, char *s, tc_tensor *t)
{
  if (!strcmp(s, "-"))
    return 0;
  char *parts[3];
  if (!strncmp(s, "q=", 2)) {
    if (split(s + 2, ':', parts, 2) != 2)
      return perr(p, "per-tensor quantization must be q=SCALE:ZP");
    t->nq = 1;
    t->scales = malloc(sizeof *t->scales);
    t->zero_points = malloc(sizeof *t->zero_points);
    cr_assert(t->scales && t->zero_points);
    long long zp;
    if (!parse_float(parts[0], &t->scales[0]))
      return perr(p, "bad scale '%s'", parts[0]);
    if (!parse_ll(parts[1], INT32_MIN, INT32_MAX, &zp))
      return perr(p, "bad zero point '%s'", parts[1]);
    t->zero_points[0] = zp;
    return 0;
  }
  if (!strncmp(s, "pc=", 3)) {
    if (split(s + 3, ':', parts, 3) != 3)
      return perr(p, "per-channel quantization must be pc=QDIM:S1,S2,...:Z1,Z2,...");
    if (!parse_int(parts[0], 0, ES_TFLITE_MAX_RANK - 1, &t->qdim))
      return perr(p, "bad quantized dimension '%s'", parts[0]);
    size_t ns = 1, nz = 1;
    for (const char *c = parts[1]; *c; c++)
      ns += *c == ',';
    for (const char *c = parts[2]; *c; c++)
      nz += *c == ',';
    if (ns != nz)
      return perr(p, "%zu scales but %zu zero points (the builder writes one count for both)",
                  ns, nz);
    t->nq = ns;
    t->scales = malloc(ns * sizeof *t->scales);
    t->zero_points = malloc(ns * sizeof *t->zero_points);
    cr_assert(t->scales && t->zero_points);
    char *cs = parts[1], *cz = parts[2];
    for (size_t i = 0; i < ns; i++) {
      char *s_end = strchr(cs, ','), *z_end = strchr(cz, ',');
      if (s_end)
        *s_end = '\0';
      if (z_end)
        *z_end = '\0';
      long long zp;
      if (!parse_float(cs, &t->scales[i]))
        return perr(p, "bad scale '%s'", cs);
      if (!parse_ll(cz, INT32_MIN, INT32_MAX, &zp))
        return perr(p, "bad zero point '%s'", cz);
      t->zero_points[i] = zp;
      cs = s_end ? s_end + 1 : cs;
      cz = z_end ? z_end + 1 : cz;
    }
    return 0;
  }
  return perr(p, "quantization '%s' is not -, q=SCALE:ZP or pc=QDIM:SCALES:ZERO_POINTS", s);
}

/* Values after ':' up to the end of the line. */
static int parse_values(tc_parser *p, char **cur, tc_tensor *t)
{
  t->values = malloc((t->count ? t->count : 1) * sizeof *t->values);
  cr_assert(t->values);
  long long lo, hi;
  type_range(t->type, &lo, &hi);
  size_t n = 0;
  for (char *tok; (tok = next_token(cur));) {
    if (n == t->count)
      return perr(p, "'%s' has more than the %zu values of its shape", t->name, t->count);
    if (t->type == ES_TFLITE_FLOAT32) {
      float v;
      if (!parse_float(tok, &v))
        return perr(p, "bad float32 value '%s' (value %zu of '%s')", tok, n, t->name);
      t->values[n++] = v;
    } else {
      long long v;
      if (!parse_ll(tok, lo, hi, &v))
        return perr(p, "bad %s value '%s' (value %zu of '%s')", es_tflite_type_name(t->type), tok,
                    n, t->name);
      t->values[n++] = (double)v;
    }
  }
  /* No values at all is allowed where none are needed (checked at the end of the case). */
  if (n != 0 && n != t->count)
    return perr(p, "'%s' has %zu values but its shape has %zu", t->name, n, t->count);
  t->has_values = n == t->count;
  return 0;
}

static tc_tensor *add_tensor(tc_case *c)
{
  if (c->n_tensors == c->cap_tensors) {
    c->cap_tensors = c->cap_tensors ? 2 * c->cap_tensors : 8;
    c->tensors = realloc(c->tensors, c->cap_tensors * sizeof *c->tensors);
    cr_assert(c->tensors);
  }
  tc_tensor *t = &c->tensors[c->n_tensors++];
  memset(t, 0, sizeof *t);
  return t;
}

/* in|const|out NAME TYPE SHAPE QUANT [tol=T] [: V...] */
static int parse_tensor(tc_parser *p, int kind, char **cur, tc_case *c)
{
  tc_tensor *t = add_tensor(c);
  t->kind = kind;
  t->line = p->line;
  char *name = next_token(cur), *type = next_token(cur), *shape = next_token(cur);
  char *quant = next_token(cur);
  if (!quant)
    return perr(p, "expected NAME TYPE SHAPE QUANT");
  t->name = strdup(name);
  cr_assert(t->name);
  if ((t->type = parse_type(type)) < 0)
    return perr(p, "unknown type '%s'", type);
  if (parse_shape(p, shape, t) || parse_quant(p, quant, t))
    return -1;
  char *tok = next_token(cur);
  if (kind == TC_OUT) {
    if (!tok || strncmp(tok, "tol=", 4))
      return perr(p, "an output needs tol=T after its quantization");
    char *end;
    t->tol = strtod(tok + 4, &end);
    if (end == tok + 4 || *end || !(t->tol >= 0))
      return perr(p, "bad tolerance '%s'", tok);
    tok = next_token(cur);
  }
  if (!tok)
    return 0;
  if (strcmp(tok, ":"))
    return perr(p, "unexpected '%s' (values follow a ':')", tok);
  return parse_values(p, cur, t);
}

/* "A,B,C" into a malloc'd array. */
static int parse_ints(char *s, int32_t **out, size_t *n)
{
  size_t cap = 1;
  for (const char *c = s; *c; c++)
    cap += *c == ',';
  *out = malloc(cap * sizeof **out);
  cr_assert(*out);
  *n = 0;
  while (s) {
    char *comma = strchr(s, ',');
    if (comma)
      *comma = '\0';
    int v;
    if (!parse_int(s, INT32_MIN, INT32_MAX, &v))
      return -1;
    (*out)[(*n)++] = v;
    s = comma ? comma + 1 : NULL;
  }
  return 0;
}

static int parse_opt(tc_parser *p, char *kv, es_tflite_options *o)
{
  char *eq = strchr(kv, '=');
  if (!eq)
    return perr(p, "option '%s' is not KEY=VALUE", kv);
  *eq = '\0';
  const char *key = kv;
  char *val = eq + 1;
  static const struct {
    const char *key;
    size_t offset;
  } ints[] = {
      {"stride_w", offsetof(es_tflite_options, stride_w)},
      {"stride_h", offsetof(es_tflite_options, stride_h)},
      {"dilation_w", offsetof(es_tflite_options, dilation_w)},
      {"dilation_h", offsetof(es_tflite_options, dilation_h)},
      {"depth_multiplier", offsetof(es_tflite_options, depth_multiplier)},
      {"filter_w", offsetof(es_tflite_options, filter_w)},
      {"filter_h", offsetof(es_tflite_options, filter_h)},
      {"axis", offsetof(es_tflite_options, axis)},
  };
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    if (!strcmp(key, ints[i].key)) {
      if (!parse_int(val, INT32_MIN, INT32_MAX, (int *)((char *)o + ints[i].offset)))
        return perr(p, "bad integer '%s' for %s", val, key);
      return 0;
    }
  if (!strcmp(key, "padding")) {
    if (!strcmp(val, "SAME"))
      o->padding = ES_PAD_SAME;
    else if (!strcmp(val, "VALID"))
      o->padding = ES_PAD_VALID;
    else
      return perr(p, "padding '%s' is not SAME or VALID", val);
    return 0;
  }
  if (!strcmp(key, "activation")) {
    static const char *const acts[] = {"NONE", "RELU", "RELU_N1_TO_1", "RELU6"};
    for (int a = 0; a < 4; a++)
      if (!strcmp(val, acts[a])) {
        o->activation = a; /* ES_ACT_* are the schema's values in this order */
        return 0;
      }
    return perr(p, "activation '%s' is not NONE, RELU, RELU_N1_TO_1 or RELU6", val);
  }
  if (!strcmp(key, "beta")) {
    if (!parse_float(val, &o->beta))
      return perr(p, "bad float '%s' for beta", val);
    return 0;
  }
  if (!strcmp(key, "keep_dims") || !strcmp(key, "keep_num_dims")) {
    int b;
    if (!parse_int(val, 0, 1, &b))
      return perr(p, "%s must be 0 or 1", key);
    *(!strcmp(key, "keep_dims") ? &o->keep_dims : &o->keep_num_dims) = b;
    return 0;
  }
  if (!strcmp(key, "new_shape")) {
    free(o->new_shape);
    o->new_shape = NULL;
    if (parse_ints(val, &o->new_shape, &o->n_new_shape))
      return perr(p, "bad new_shape list");
    o->has_new_shape = true;
    return 0;
  }
  if (!strcmp(key, "squeeze_dims")) {
    free(o->squeeze_dims);
    o->squeeze_dims = NULL;
    if (parse_ints(val, &o->squeeze_dims, &o->n_squeeze_dims))
      return perr(p, "bad squeeze_dims list");
    return 0;
  }
  return perr(p, "unknown option '%s'", key);
}

/* What a finished case must have. Messages name the line at fault; p's own line is kept. */
static int check_case(const tc_parser *p, const tc_case *c)
{
  tc_parser at = *p;
  at.line = c->line;
  if (c->op < 0)
    return perr(&at, "case '%s' has no op line", c->name);
  size_t outs = 0;
  for (size_t i = 0; i < c->n_tensors; i++) {
    const tc_tensor *t = &c->tensors[i];
    outs += t->kind == TC_OUT;
    at.line = t->line;
    if (t->kind == TC_CONST && !t->has_values)
      return perr(&at, "constant '%s' has no values", t->name);
    if ((t->kind == TC_IN || t->kind == TC_OUT) && !t->has_values && !c->expect_load_error)
      return perr(&at, "'%s' has no values (only an expect load-error case may omit them)",
                  t->name);
  }
  at.line = c->line;
  if (!outs)
    return perr(&at, "case '%s' has no out line", c->name);
  return 0;
}

/* Parses a whole .cases text (modified in place). On error writes "path:line: message" into msg
 * and returns -1; f holds what was parsed and must be freed either way. */
static int tc_parse(const char *path, char *text, tc_file *f, char *msg, size_t msgsz)
{
  tc_parser p = {path, 0, msg, msgsz};
  tc_case *c = NULL;
  for (char *line = text; line;) {
    char *nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r')
      line[len - 1] = '\0';
    p.line++;
    char *cur = line;
    char *kw = next_token(&cur);
    line = nl ? nl + 1 : NULL;
    if (!kw || kw[0] == '#')
      continue;
    if (!strcmp(kw, "case")) {
      if (c && check_case(&p, c))
        return -1;
      char *name = next_token(&cur);
      if (!name || next_token(&cur))
        return perr(&p, "expected 'case NAME'");
      if (f->n_cases == f->cap_cases) {
        f->cap_cases = f->cap_cases ? 2 * f->cap_cases : 16;
        f->cases = realloc(f->cases, f->cap_cases * sizeof *f->cases);
        cr_assert(f->cases);
      }
      c = &f->cases[f->n_cases++];
      memset(c, 0, sizeof *c);
      c->name = strdup(name);
      cr_assert(c->name);
      c->line = p.line;
      c->op = -1;
      es_tflite_options_default(&c->opts);
      continue;
    }
    if (!c)
      return perr(&p, "'%s' outside a case (a file starts with 'case NAME')", kw);
    if (!strcmp(kw, "op")) {
      char *name = next_token(&cur);
      if (!name || next_token(&cur))
        return perr(&p, "expected 'op OPNAME'");
      if (c->op >= 0)
        return perr(&p, "second op line in case '%s'", c->name);
      if ((c->op = op_code(name)) < 0)
        return perr(&p, "unknown operator '%s'", name);
    } else if (!strcmp(kw, "opt")) {
      for (char *kv; (kv = next_token(&cur));)
        if (parse_opt(&p, kv, &c->opts))
          return -1;
    } else if (!strcmp(kw, "in") || !strcmp(kw, "const") || !strcmp(kw, "out")) {
      int kind = kw[0] == 'i' ? TC_IN : kw[0] == 'c' ? TC_CONST : TC_OUT;
      if (parse_tensor(&p, kind, &cur, c))
        return -1;
    } else if (!strcmp(kw, "none")) {
      if (next_token(&cur))
        return perr(&p, "'none' takes nothing after it");
      tc_tensor *t = add_tensor(c);
      t->kind = TC_NONE;
      t->line = p.line;
    } else if (!strcmp(kw, "expect")) {
      char *what = next_token(&cur);
      if (!what || strcmp(what, "load-error") || next_token(&cur))
        return perr(&p, "expected 'expect load-error'");
      c->expect_load_error = true;
    } else {
      return perr(&p, "unknown line '%s'", kw);
    }
  }
  return c ? check_case(&p, c) : 0;
}

/* ---- building and running ----------------------------------------------------------------- */

/* The tensor's values as its type's bytes; caller frees. */
static void *pack(const tc_tensor *t, size_t *bytes)
{
  const size_t esz = es_tflite_type_size(t->type);
  *bytes = t->count * esz;
  uint8_t *buf = malloc(*bytes ? *bytes : 1);
  cr_assert(buf);
  for (size_t i = 0; i < t->count; i++) {
    const double v = t->values[i];
    uint8_t *dst = buf + i * esz;
    switch (t->type) {
    case ES_TFLITE_INT8: {
      int8_t x = (int8_t)v;
      memcpy(dst, &x, esz);
      break;
    }
    case ES_TFLITE_UINT8: {
      uint8_t x = (uint8_t)v;
      memcpy(dst, &x, esz);
      break;
    }
    case ES_TFLITE_INT16: {
      int16_t x = (int16_t)v;
      memcpy(dst, &x, esz);
      break;
    }
    case ES_TFLITE_INT32: {
      int32_t x = (int32_t)v;
      memcpy(dst, &x, esz);
      break;
    }
    default: {
      float x = (float)v;
      memcpy(dst, &x, esz);
      break;
    }
    }
  }
  return buf;
}

/* Element i of a tensor of the given type. */
static double element(const void *data, int type, size_t i)
{
  const uint8_t *p = (const uint8_t *)data + i * es_tflite_type_size(type);
  switch (type) {
  case ES_TFLITE_INT8: {
    int8_t x;
    memcpy(&x, p, sizeof x);
    return x;
  }
  case ES_TFLITE_UINT8:
    return *p;
  case ES_TFLITE_INT16: {
    int16_t x;
    memcpy(&x, p, sizeof x);
    return x;
  }
  case ES_TFLITE_INT32: {
    int32_t x;
    memcpy(&x, p, sizeof x);
    return x;
  }
  default: {
    float x;
    memcpy(&x, p, sizeof x);
    return x;
  }
  }
}

/* The one-operator model of a case. On failure writes why into msg and returns NULL. */
static uint8_t *build_model(const tc_case *c, size_t *len, char *msg, size_t msgsz)
{
  es_tflite_builder *b = es_tflite_builder_new();
  cr_assert(b);
  int32_t *op_in = malloc(c->n_tensors * sizeof *op_in);
  int32_t *op_out = malloc(c->n_tensors * sizeof *op_out);
  int32_t *model_in = malloc(c->n_tensors * sizeof *model_in);
  cr_assert(op_in && op_out && model_in);
  size_t n_op_in = 0, n_op_out = 0, n_model_in = 0;
  uint8_t *bytes = NULL;
  es_error err = {0};
  int rc;
  for (size_t i = 0; i < c->n_tensors; i++) {
    const tc_tensor *t = &c->tensors[i];
    if (t->kind == TC_NONE) {
      op_in[n_op_in++] = -1;
      continue;
    }
    int buffer = 0;
    if (t->kind == TC_CONST) {
      size_t nbytes;
      void *data = pack(t, &nbytes);
      buffer = es_tflite_builder_add_buffer(b, data, nbytes);
      free(data);
      if (buffer < 0) {
        snprintf(msg, msgsz, "add_buffer('%s') failed: %d", t->name, buffer);
        goto done;
      }
    }
    int idx = es_tflite_builder_add_tensor(b, t->name, t->type, t->shape, t->rank, buffer,
                                           t->scales, t->zero_points, t->nq, t->qdim);
    if (idx < 0) {
      snprintf(msg, msgsz, "add_tensor('%s') failed: %d", t->name, idx);
      goto done;
    }
    if (t->kind == TC_OUT)
      op_out[n_op_out++] = idx;
    else
      op_in[n_op_in++] = idx;
    if (t->kind == TC_IN)
      model_in[n_model_in++] = idx;
  }
  rc = es_tflite_builder_add_operator(b, c->op, op_in, n_op_in, op_out, n_op_out, &c->opts);
  if (rc < 0) {
    snprintf(msg, msgsz, "add_operator failed: %d", rc);
    goto done;
  }
  if ((rc = es_tflite_builder_set_io(b, model_in, n_model_in, op_out, n_op_out)) < 0) {
    snprintf(msg, msgsz, "set_io failed: %d", rc);
    goto done;
  }
  if (es_tflite_builder_finish(b, &bytes, len, &err) != ES_OK) {
    snprintf(msg, msgsz, "finish failed: %s", err.msg);
    bytes = NULL;
  }
done:
  es_tflite_builder_free(b);
  free(op_in);
  free(op_out);
  free(model_in);
  return bytes;
}

typedef struct tc_run {
  const char *file; /* base name, for messages */
  const tc_case *c;
  int failed; /* this case failed on some variant */
} tc_run;

static void fail(tc_run *r, const char *variant, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(tc_run *r, const char *variant, const char *fmt, ...)
{
  char what[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  fprintf(stderr, "FAIL %s:%d: %s [%s]: %s\n", r->file, r->c->line, r->c->name,
          variant ? variant : "-", what);
  r->failed = 1;
}

static void format_value(char *s, size_t n, int type, double v)
{
  if (type == ES_TFLITE_FLOAT32)
    snprintf(s, n, "%.9g", v);
  else
    snprintf(s, n, "%lld", (long long)v);
}

/* Fills the inputs, invokes and compares every output, with one variant. */
static void run_variant(tc_run *r, const es_model *m, int isa)
{
  const tc_case *c = r->c;
  const char *variant = es_nn_isa_name(isa);
  es_interp_opts opts = {.isa = isa};
  es_interp *ip = NULL;
  es_error err = {0};
  if (es_interp_new(m, &opts, &ip, &err) != ES_OK) {
    fail(r, variant, "es_interp_new: %s", err.msg);
    return;
  }
  size_t k_in = 0, k_out = 0;
  bool inputs_ok = true;
  for (size_t i = 0; i < c->n_tensors; i++) {
    const tc_tensor *t = &c->tensors[i];
    if (t->kind != TC_IN)
      continue;
    es_tensor view;
    size_t nbytes;
    void *data = pack(t, &nbytes);
    if (es_interp_input(ip, k_in++, &view) != 0 || view.type != t->type ||
        view.bytes != nbytes) {
      fail(r, variant, "input '%s' is not a %s of %zu bytes in the loaded model", t->name,
           es_tflite_type_name(t->type), nbytes);
      inputs_ok = false;
    } else {
      memcpy(view.data, data, nbytes);
    }
    free(data);
  }
  if (!inputs_ok)
    goto done;
  if (es_interp_invoke(ip, &err) != ES_OK) {
    fail(r, variant, "invoke: %s", err.msg);
    goto done;
  }
  for (size_t i = 0; i < c->n_tensors; i++) {
    const tc_tensor *t = &c->tensors[i];
    if (t->kind != TC_OUT)
      continue;
    es_tensor view;
    if (es_interp_output(ip, k_out++, &view) != 0 || view.type != t->type ||
        view.count != t->count) {
      fail(r, variant, "output '%s' is not a %s of %zu elements in the loaded model", t->name,
           es_tflite_type_name(t->type), t->count);
      continue;
    }
    size_t wrong = 0;
    for (size_t e = 0; e < t->count; e++) {
      const double got = element(view.data, t->type, e), want = t->values[e];
      if (fabs(got - want) <= t->tol)
        continue;
      if (wrong++ < TC_MAX_REPORTED) {
        char g[32], w[32];
        format_value(g, sizeof g, t->type, got);
        format_value(w, sizeof w, t->type, want);
        fail(r, variant, "output '%s' [%zu]: got %s, expected %s (tol %g)", t->name, e, g, w,
             t->tol);
      }
    }
    if (wrong > TC_MAX_REPORTED)
      fail(r, variant, "output '%s': %zu more elements differ (%zu of %zu in all)", t->name,
           wrong - TC_MAX_REPORTED, wrong, t->count);
  }
done:
  es_interp_free(ip);
}

/* Runs one case with every variant; returns 1 when it failed. */
static int run_case(const char *file, const tc_case *c, const int *isas, size_t n_isas)
{
  tc_run r = {file, c, 0};
  char msg[sizeof ((es_error *)0)->msg + 64];
  size_t len = 0;
  uint8_t *bytes = build_model(c, &len, msg, sizeof msg);
  if (!bytes) {
    fail(&r, NULL, "cannot build the model: %s", msg);
    return 1;
  }
  es_model *m = NULL;
  es_error err = {0};
  int rc = es_model_load(bytes, len, NULL, &m, &err);
  free(bytes);
  if (c->expect_load_error) {
    /* TFLM's Prepare refuses it: the load, or at the latest the interpreter, must fail. */
    for (size_t v = 0; rc == ES_OK && v < n_isas; v++) {
      es_interp_opts opts = {.isa = isas[v]};
      es_interp *ip = NULL;
      if (es_interp_new(m, &opts, &ip, &err) == ES_OK)
        fail(&r, es_nn_isa_name(isas[v]), "expected a load error, but the model loaded");
      es_interp_free(ip);
    }
  } else if (rc != ES_OK) {
    fail(&r, NULL, "es_model_load: %s", err.msg);
  } else {
    for (size_t v = 0; v < n_isas; v++)
      run_variant(&r, m, isas[v]);
  }
  es_model_free(m);
  return r.failed;
}

static int compare_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.cases file names of dir, sorted. Caller frees each and the array. */
static char **list_cases(const char *dir, size_t *n)
{
  DIR *d = opendir(dir);
  cr_assert(d, "cannot open %s", dir);
  char **names = NULL;
  size_t cap = 0;
  *n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len <= 6 || strcmp(e->d_name + len - 6, ".cases"))
      continue;
    if (*n == cap) {
      cap = cap ? 2 * cap : 16;
      names = realloc(names, cap * sizeof *names);
      cr_assert(names);
    }
    names[(*n)++] = strdup(e->d_name);
    cr_assert(names[*n - 1]);
  }
  closedir(d);
  if (*n)
    qsort(names, *n, sizeof *names, compare_names);
  return names;
}

Test(tflm_cases, every_case_with_every_variant, .timeout = 1200)
{
  int isas[ES_NN_ISA_COUNT];
  size_t n_isas = 0;
  char variants[128] = "";
  for (int isa = ES_NN_ISA_REFERENCE; isa < ES_NN_ISA_COUNT; isa++)
    if (es_nn_isa_supported(isa)) {
      isas[n_isas++] = isa;
      snprintf(variants + strlen(variants), sizeof variants - strlen(variants), "%s%s",
               n_isas > 1 ? " " : "", es_nn_isa_name(isa));
    }
  cr_assert(n_isas >= 2, "reference and portable always run");

  char *dir = tu_data("tflm");
  cr_assert(dir);
  size_t n_files = 0;
  char **files = list_cases(dir, &n_files);
  cr_assert(n_files > 0, "no *.cases file in %s", dir);

  size_t n_cases = 0, n_failed = 0, n_bad_files = 0;
  for (size_t i = 0; i < n_files; i++) {
    size_t plen = strlen(dir) + strlen(files[i]) + 2;
    char *path = malloc(plen);
    cr_assert(path);
    snprintf(path, plen, "%s/%s", dir, files[i]);
    size_t len = 0;
    uint8_t *raw = tu_read(path, &len);
    cr_assert(raw, "cannot read %s", path);
    char *text = malloc(len + 1);
    cr_assert(text);
    memcpy(text, raw, len);
    text[len] = '\0';
    free(raw);

    tc_file f = {0};
    char msg[512];
    if (tc_parse(files[i], text, &f, msg, sizeof msg)) {
      fprintf(stderr, "FAIL malformed case file %s\n", msg);
      n_bad_files++;
    } else if (f.n_cases == 0) {
      fprintf(stderr, "FAIL %s: no case in the file\n", files[i]);
      n_bad_files++;
    } else {
      for (size_t k = 0; k < f.n_cases; k++)
        n_failed += (size_t)run_case(files[i], &f.cases[k], isas, n_isas);
      n_cases += f.n_cases;
    }
    tc_file_free(&f);
    free(text);
    free(path);
    free(files[i]);
  }
  free(files);
  free(dir);

  printf("tflm cases: %zu files, %zu cases, %zu variants (%s): %zu failed cases, %zu bad files\n",
         n_files, n_cases, n_isas, variants, n_failed, n_bad_files);
  fflush(stdout);
  cr_assert(n_failed == 0 && n_bad_files == 0,
            "%zu of %zu TFLM cases failed and %zu of %zu case files are malformed or empty (each "
            "is listed above)",
            n_failed, n_cases, n_bad_files, n_files);
}

/* ---- the parser itself -------------------------------------------------------------------- */

static int parse_text(const char *text, tc_file *f, char *msg, size_t msgsz)
{
  char *copy = strdup(text);
  cr_assert(copy);
  int rc = tc_parse("t.cases", copy, f, msg, msgsz);
  free(copy);
  return rc;
}

Test(tflm_cases, parser_reads_a_case)
{
  tc_file f = {0};
  char msg[256] = "";
  int rc = parse_text("# a comment\n"
                      "\n"
                      "case conv_test.cc:X\n"
                      "op CONV_2D\n"
                      "opt padding=VALID stride_w=2 stride_h=2 activation=RELU6\n"
                      "in x int8 1x2x2x1 q=0.5:-1 : 1 2 3 -128\r\n"
                      "const w int8 2x1x1x1 pc=0:0.25,0.5:0,0 : 127 -127\n"
                      "none\n"
                      "out y int8 1x1x1x2 q=1:0 tol=1 : 5 6\n",
                      &f, msg, sizeof msg);
  cr_assert_eq(rc, 0, "%s", msg);
  cr_assert_eq(f.n_cases, 1);
  const tc_case *c = &f.cases[0];
  cr_assert_str_eq(c->name, "conv_test.cc:X");
  cr_assert_eq(c->line, 3);
  cr_assert_eq(c->op, ES_OP_CONV_2D);
  cr_assert_eq(c->opts.padding, ES_PAD_VALID);
  cr_assert_eq(c->opts.stride_w, 2);
  cr_assert_eq(c->opts.activation, ES_ACT_RELU6);
  cr_assert_eq(c->opts.dilation_w, 1, "schema default");
  cr_assert_eq(c->n_tensors, 4);
  cr_assert_eq(c->tensors[0].count, 4);
  cr_assert_eq(c->tensors[0].zero_points[0], -1);
  cr_assert_eq(c->tensors[0].values[3], -128);
  cr_assert_eq(c->tensors[1].nq, 2);
  cr_assert_eq(c->tensors[1].scales[1], 0.5f);
  cr_assert_eq(c->tensors[2].kind, TC_NONE);
  cr_assert_eq(c->tensors[3].tol, 1);
  tc_file_free(&f);

  /* the second case keeps its own line after the first is checked */
  rc = parse_text("case a\nop ADD\nin x int8 1 - : 1\nout y int8 1 - tol=0 : 1\n\n"
                  "case b\nop ADD\nin x int8 1 - : 1\nout y int8 1 - tol=0 : 1\n",
                  &f, msg, sizeof msg);
  cr_assert_eq(rc, 0, "%s", msg);
  cr_assert_eq(f.n_cases, 2);
  cr_assert_eq(f.cases[1].line, 6);
  cr_assert_eq(f.cases[1].tensors[1].line, 9);
  tc_file_free(&f);
}

Test(tflm_cases, parser_names_file_and_line_of_a_malformed_case)
{
  static const struct {
    const char *text, *where;
  } bad[] = {
      {"case a\nop CONV_2D\nin x int8 1x3 q=1:0 : 1 2\nout y int8 1 q=1:0 tol=0 : 1\n",
       "t.cases:3:"},
      {"case a\nop CONV_2D\nin x int8 2 - : 1 200\nout y int8 1 - tol=0 : 1\n", "t.cases:3:"},
      {"case a\nop NOT_AN_OP\n", "t.cases:2:"},
      {"case a\nop ADD\nin x int8 1 - : 1\nout y int8 1 - : 1\n", "t.cases:4:"},
      {"case a\nop ADD\nopt stride=2\n", "t.cases:3:"},
      {"case a\nop ADD\nin x int8 1 - : 1\n\ncase b\n", "t.cases:1:"},
      {"op ADD\n", "t.cases:1:"},
      {"case a\nop ADD\nin x int8 1 - : 1\nout y int8 1 - tol=0 : 1\n"
       "case b\nop ADD\nin x int8 2 - : 1\n",
       "t.cases:7:"},
      {"case a\nop ADD\nin x int8 1 - : 1\nout y int8 1 - tol=0\n", "t.cases:4:"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tc_file f = {0};
    char msg[256] = "";
    cr_expect_neq(parse_text(bad[i].text, &f, msg, sizeof msg), 0, "case %zu parsed", i);
    cr_expect(!strncmp(msg, bad[i].where, strlen(bad[i].where)), "case %zu: '%s' is not at %s",
              i, msg, bad[i].where);
    tc_file_free(&f);
  }
}
