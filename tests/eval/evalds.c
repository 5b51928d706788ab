/* Helpers for the dataset-evaluation tests (see evalds.h). */
#include "evalds.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/tflite.h"
#include "nn/nn_testmodel.h"
#include "testutil.h"

char *ed_model(const char *dir, const char *name, int classes, bool softmax, int bias)
{
  es_tflite_builder *b = es_tflite_builder_new();
  cr_assert(b);
  int32_t in_shape[4] = {1, 4, 4, 3}, fshape[2] = {classes, 48}, oshape[2] = {1, classes};
  int in = tm_act(b, "image", in_shape, 4, 1.0f / 255, -128);
  int8_t w[144] = {0};
  for (int k = 0; k < classes; k++)
    for (int p = 0; p < 16; p++)
      w[k * 48 + p * 3 + k] = (int8_t)(k == 0 ? 1 + bias : 1);
  float fs = 1.0f;
  int f = tm_const(b, "w", ES_TFLITE_INT8, fshape, 2, w, (size_t)classes * 48, &fs, 1, 0);
  int fc = tm_act(b, "fc", oshape, 2, 16.0f / 255, -128);
  int32_t ins[2] = {in, f}, outs[1] = {fc};
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_FULLY_CONNECTED, ins, 2, outs, 1, NULL) >= 0);
  int last = fc;
  if (softmax) {
    int sm = tm_act(b, "prob", oshape, 2, 1.0f / 256, -128);
    int32_t si[1] = {fc}, so[1] = {sm};
    cr_assert(es_tflite_builder_add_operator(b, ES_OP_SOFTMAX, si, 1, so, 1, NULL) >= 0);
    last = sm;
  }
  cr_assert_eq(es_tflite_builder_set_io(b, &in, 1, &last, 1), 0);
  size_t len;
  uint8_t *bytes = tm_finish(b, &len);
  char *path = du_fmt("%s/%s", dir, name);
  cr_assert_eq(tu_write(path, bytes, len), 0);
  free(bytes);
  return path;
}

void ed_ppm(const char *path, int r, int g, int b, unsigned seed)
{
  char head[32];
  int n = snprintf(head, sizeof head, "P6\n16 16\n255\n");
  uint8_t buf[32 + 16 * 16 * 3];
  memcpy(buf, head, (size_t)n);
  unsigned s = seed * 2654435761u + 12345u;
  const int base[3] = {r, g, b};
  for (int i = 0; i < 16 * 16; i++)
    for (int c = 0; c < 3; c++) {
      s = s * 1103515245u + 12345u;
      int v = base[c] + (int)((s >> 16) % 31) - 15;
      buf[n + i * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  cr_assert_eq(tu_write(path, buf, (size_t)n + 16 * 16 * 3), 0);
}

json_t *ed_manifest(const char *ds)
{
  char *p = du_fmt("%s/manifest.jsonl", ds);
  char *text = du_slurp(p);
  cr_assert(text, "no manifest in %s", ds);
  json_t *arr = json_array();
  for (char *line = text; *line;) {
    char *nl = strchr(line, '\n');
    cr_assert(nl);
    json_error_t je;
    json_t *o = json_loadb(line, (size_t)(nl - line), 0, &je);
    cr_assert(o, "%s", je.text);
    json_array_append_new(arr, o);
    line = nl + 1;
  }
  free(text);
  free(p);
  return arr;
}

void ed_manifest_write(const char *ds, json_t *items)
{
  char *p = du_fmt("%s/manifest.jsonl", ds), *idx = du_fmt("%s/index.bin", ds);
  FILE *f = fopen(p, "w");
  cr_assert(f);
  for (size_t i = 0; i < json_array_size(items); i++) {
    char *s = json_dumps(json_array_get(items, i), JSON_COMPACT | JSON_PRESERVE_ORDER);
    fprintf(f, "%s\n", s);
    free(s);
  }
  fclose(f);
  unlink(idx);
  free(p);
  free(idx);
}

