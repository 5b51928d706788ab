/* edgeset-eval --image end to end: tiny models built with the TFLite writer whose outputs are
 * the mean of each image quadrant (or of each colour channel), real PGM/PPM/PNG/JPEG files,
 * the JSONL schema (file, top, index, label, score/probability), --preprocess modes, --top,
 * --labels, unreadable and undecodable files, exit statuses, and identical output for any -j. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tflite.h"
#include "nn/nn_testmodel.h"
#include "dsutil.h"
#include "testutil.h"

/* Input int8 1x4x4x1 (scale 1/255, zero point -128: raw = pixel - 128); FULLY_CONNECTED with
 * filter scale 1 and weight 1 on the four pixels of quadrant k (0 top left, 1 top right,
 * 2 bottom left, 3 bottom right), output scale 4/255: output k = quadrant mean - 128, so its
 * score is mean * 4/255. With softmax, a SOFTMAX (1/256, -128) follows. */
static uint8_t *model_quadrants(bool softmax, size_t *len)
{
  es_tflite_builder *b = es_tflite_builder_new();
  cr_assert(b);
  int32_t in_shape[4] = {1, 4, 4, 1}, fshape[2] = {4, 16}, oshape[2] = {1, 4};
  int in = tm_act(b, "image", in_shape, 4, 1.0f / 255, -128);
  int8_t w[64] = {0};
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 4; x++)
      w[((y / 2) * 2 + x / 2) * 16 + y * 4 + x] = 1;
  float fs = 1.0f;
  int f = tm_const(b, "w", ES_TFLITE_INT8, fshape, 2, w, sizeof w, &fs, 1, 0);
  int fc = tm_act(b, "fc", oshape, 2, 4.0f / 255, -128);
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
  return tm_finish(b, len);
}

/* Input int8 1x4x4x3; output k = mean of channel k over the 16 pixels - 128 (scale 16/255). */
static uint8_t *model_channels(size_t *len)
{
  es_tflite_builder *b = es_tflite_builder_new();
  cr_assert(b);
  int32_t in_shape[4] = {1, 4, 4, 3}, fshape[2] = {3, 48}, oshape[2] = {1, 3};
  int in = tm_act(b, "image", in_shape, 4, 1.0f / 255, -128);
  int8_t w[144] = {0};
  for (int k = 0; k < 3; k++)
    for (int p = 0; p < 16; p++)
      w[k * 48 + p * 3 + k] = 1;
  float fs = 1.0f;
  int f = tm_const(b, "w", ES_TFLITE_INT8, fshape, 2, w, sizeof w, &fs, 1, 0);
  int out = tm_act(b, "fc", oshape, 2, 16.0f / 255, -128);
  int32_t ins[2] = {in, f}, outs[1] = {out};
  cr_assert(es_tflite_builder_add_operator(b, ES_OP_FULLY_CONNECTED, ins, 2, outs, 1, NULL) >= 0);
  cr_assert_eq(es_tflite_builder_set_io(b, &in, 1, &out, 1), 0);
  return tm_finish(b, len);
}

static char *write_model(const char *dir, const char *name, uint8_t *bytes, size_t len)
{
  char *path = du_fmt("%s/%s", dir, name);
  cr_assert_eq(tu_write(path, bytes, len), 0);
  free(bytes);
  return path;
}

/* A w x h PGM (c = 1) or PPM (c = 3) of the given samples. */
static char *write_pnm(const char *dir, const char *name, int w, int h, int c, const uint8_t *px)
{
  char *path = du_fmt("%s/%s", dir, name);
  char head[64];
  int n = snprintf(head, sizeof head, "P%d\n%d %d\n255\n", c == 1 ? 5 : 6, w, h);
  size_t size = (size_t)w * h * c;
  uint8_t *buf = malloc((size_t)n + size);
  memcpy(buf, head, (size_t)n);
  memcpy(buf + n, px, size);
  cr_assert_eq(tu_write(path, buf, (size_t)n + size), 0);
  free(buf);
  return path;
}

/* Converts with netpbm's pnmtopng or libjpeg-turbo's cjpeg (quality 95). */
static char *convert(const char *pnm, const char *dir, const char *name, const char *tool)
{
  char *path = du_fmt("%s/%s", dir, name);
  char *cmd = strcmp(tool, "cjpeg") ? du_fmt("pnmtopng '%s' > '%s'", pnm, path)
                                    : du_fmt("cjpeg -quality 95 '%s' > '%s'", pnm, path);
  cr_assert_eq(system(cmd), 0, "%s failed", cmd);
  free(cmd);
  return path;
}

/* 4x4 gray quadrants (top left, top right, bottom left, bottom right), scaled by s. */
static void quadrants(uint8_t *px, int s, const int q[4])
{
  int n = 4 * s;
  for (int y = 0; y < n; y++)
    for (int x = 0; x < n; x++)
      px[y * n + x] = (uint8_t)q[(y / (2 * s)) * 2 + x / (2 * s)];
}

static int eval(const char *const *args, char **out, char **err)
{
  char *bin = tu_bin("edgeset-eval");
  const char *argv[64];
  size_t n = 0;
  argv[n++] = bin;
  for (; *args; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  int st = tu_run((char *const *)argv, NULL, out, err);
  free(bin);
  return st;
}

/* Parses JSONL into an array. */
static json_t *lines(const char *text)
{
  json_t *arr = json_array();
  const char *p = text;
  while (*p) {
    const char *nl = strchr(p, '\n');
    cr_assert(nl, "unterminated line in '%s'", text);
    json_error_t je;
    json_t *o = json_loadb(p, (size_t)(nl - p), 0, &je);
    cr_assert(o, "bad JSON line: %.*s (%s)", (int)(nl - p), p, je.text);
    json_array_append_new(arr, o);
    p = nl + 1;
  }
  return arr;
}

static char *score(double mean, double scale)
{
  return du_fmt("%.6g", mean * (double)(float)scale);
}

/* Checks line's top list: indices idx[0..n) and their score strings. */
static void expect_top(json_t *line, const char *key, const size_t *idx, const char *const *vals,
                       size_t n)
{
  json_t *top = json_object_get(line, "top");
  cr_assert(json_is_array(top), "no top in %s", json_dumps(line, 0));
  cr_assert_eq(json_array_size(top), n);
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(top, i);
    cr_expect_eq((size_t)json_integer_value(json_object_get(e, "index")), idx[i], "entry %zu", i);
    json_t *v = json_object_get(e, key);
    cr_assert(json_is_number(v), "entry %zu has no %s", i, key);
    if (vals) {
      char *got = du_fmt("%.6g", json_number_value(v));
      cr_expect_str_eq(got, vals[i], "entry %zu", i);
      free(got);
    }
  }
}

Test(cli_image, png_scores_labels_and_top)
{
  char *dir = tu_tmpdir();
  size_t len;
  uint8_t *model_bytes = model_quadrants(false, &len);
  char *model = write_model(dir, "q.tflite", model_bytes, len);
  uint8_t px[16];
  quadrants(px, 1, (const int[]){10, 200, 50, 120});
  char *pgm = write_pnm(dir, "q.pgm", 4, 4, 1, px);
  char *png = convert(pgm, dir, "q.png", "pnmtopng");
  char *labels = du_fmt("%s/labels.txt", dir);
  cr_assert_eq(tu_write(labels, "tl\ntr\r\nbl\nbr", 12), 0);

  char *out = NULL, *err = NULL;
  const char *args[] = {"--model", model, "--image", png, pgm, NULL};
  cr_assert_eq(eval(args, &out, &err), 0, "%s", err);
  json_t *arr = lines(out);
  cr_assert_eq(json_array_size(arr), 2);
  char *s[4] = {score(200, 4.0 / 255), score(120, 4.0 / 255), score(50, 4.0 / 255),
                score(10, 4.0 / 255)};
  for (size_t i = 0; i < 2; i++) {
    json_t *l = json_array_get(arr, i);
    cr_expect_str_eq(json_string_value(json_object_get(l, "file")), i ? pgm : png);
    expect_top(l, "score", (const size_t[]){1, 3, 2, 0}, (const char *const *)s, 4);
    cr_expect_null(json_object_get(json_array_get(json_object_get(l, "top"), 0), "label"));
  }
  json_decref(arr);
  free(out);
  free(err);

  const char *args2[] = {"--model", model, "--image", png, "--labels", labels, "--top", "2",
                         NULL};
  cr_assert_eq(eval(args2, &out, &err), 0, "%s", err);
  arr = lines(out);
  json_t *top = json_object_get(json_array_get(arr, 0), "top");
  cr_assert_eq(json_array_size(top), 2);
  cr_expect_str_eq(json_string_value(json_object_get(json_array_get(top, 0), "label")), "tr");
  cr_expect_str_eq(json_string_value(json_object_get(json_array_get(top, 1), "label")), "br");
  /* the whole line, byte for byte */
  char *want = du_fmt("{\"file\":\"%s\",\"top\":[{\"index\":1,\"label\":\"tr\",\"score\":%s},"
                   "{\"index\":3,\"label\":\"br\",\"score\":%s}]}\n",
                   png, s[0], s[1]);
  cr_expect_str_eq(out, want);
  free(want);
  json_decref(arr);
  free(out);
  free(err);
  for (int i = 0; i < 4; i++)
    free(s[i]);
  free(labels);
  free(png);
  free(pgm);
  free(model);
  free(dir);
}

Test(cli_image, softmax_output_is_probability)
{
  char *dir = tu_tmpdir();
  size_t len;
  uint8_t *model_bytes = model_quadrants(true, &len);
  char *model = write_model(dir, "s.tflite", model_bytes, len);
  uint8_t px[16];
  quadrants(px, 1, (const int[]){0, 255, 40, 100});
  char *pgm = write_pnm(dir, "s.pgm", 4, 4, 1, px);
  char *out = NULL, *err = NULL;
  const char *args[] = {"--model", model, "--image", pgm, "--top", "9", NULL};
  cr_assert_eq(eval(args, &out, &err), 0, "%s", err);
  json_t *arr = lines(out);
  json_t *l = json_array_get(arr, 0);
  expect_top(l, "probability", (const size_t[]){1, 3, 2, 0}, NULL, 4);
  double sum = 0;
  json_t *top = json_object_get(l, "top");
  for (size_t i = 0; i < 4; i++)
    sum += json_number_value(json_object_get(json_array_get(top, i), "probability"));
  cr_expect(sum > 0.97 && sum < 1.03, "probabilities sum to %g", sum);
  cr_expect_null(json_object_get(json_array_get(top, 0), "score"));
  json_decref(arr);
  free(out);
  free(err);
  free(pgm);
  free(model);
  free(dir);
}

Test(cli_image, resize_modes)
{
  char *dir = tu_tmpdir();
  size_t len;
  uint8_t *model_bytes = model_quadrants(false, &len);
  char *model = write_model(dir, "q.tflite", model_bytes, len);
  /* 8x8: each quadrant a 4x4 block; area-averaged to 4x4 the means are unchanged */
  uint8_t px8[64];
  quadrants(px8, 2, (const int[]){30, 60, 90, 250});
  char *big = write_pnm(dir, "big.pgm", 8, 8, 1, px8);
  /* 8x4, wide: the centre 4x4 holds quadrants 11, 22 / 33, 44, the outer columns 255 */
  uint8_t wide[32];
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 8; x++)
      wide[y * 8 + x] = x < 2 || x > 5 ? 255 : (uint8_t)((y / 2) * 22 + ((x - 2) / 2) * 11 + 11);
  char *wpath = write_pnm(dir, "wide.pgm", 8, 4, 1, wide);

  char *out = NULL, *err = NULL;
  const char *a1[] = {"--model", model, "--image", big, "--top", "1", NULL};
  cr_assert_eq(eval(a1, &out, &err), 0, "%s", err);
  json_t *arr = lines(out);
  char *s = score(250, 4.0 / 255);
  expect_top(json_array_get(arr, 0), "score", (const size_t[]){3}, (const char *const *)&s, 1);
  free(s);
  json_decref(arr);
  free(out);
  free(err);

  /* crop: exactly the centre */
  const char *a2[] = {"--model", model, "--image", wpath, "--preprocess", "resize=crop", NULL};
  cr_assert_eq(eval(a2, &out, &err), 0, "%s", err);
  arr = lines(out);
  char *c[4] = {score(44, 4.0 / 255), score(33, 4.0 / 255), score(22, 4.0 / 255),
                score(11, 4.0 / 255)};
  expect_top(json_array_get(arr, 0), "score", (const size_t[]){3, 2, 1, 0},
             (const char *const *)c, 4);
  for (int i = 0; i < 4; i++)
    free(c[i]);
  json_decref(arr);
  free(out);
  free(err);

  /* stretch pairs columns: rows [255, 11, 22, 255] and [255, 33, 44, 255]; quadrant sums
   * 532, 554, 576, 598 -> means 133, 138.5, 144, 149.5, the halves rounded up by the
   * requantization */
  const char *a4[] = {"--model", model, "--image", wpath, NULL};
  cr_assert_eq(eval(a4, &out, &err), 0, "%s", err);
  arr = lines(out);
  char *t[4] = {score(150, 4.0 / 255), score(144, 4.0 / 255), score(139, 4.0 / 255),
                score(133, 4.0 / 255)};
  expect_top(json_array_get(arr, 0), "score", (const size_t[]){3, 2, 1, 0},
             (const char *const *)t, 4);
  for (int i = 0; i < 4; i++)
    free(t[i]);
  json_decref(arr);
  free(out);
  free(err);
  free(big);
  free(wpath);
  free(model);
  free(dir);
}

Test(cli_image, letterbox_exact)
{
  char *dir = tu_tmpdir();
  size_t len;
  uint8_t *model_bytes = model_quadrants(false, &len);
  char *model = write_model(dir, "q.tflite", model_bytes, len);
  /* 4x2 picture: rows [40 80 120 160] and [200 0 0 20]; letterboxed into rows 1..2 of 4x4 with
   * pad=100: quadrant means TL (100+100+40+80)/4 = 80, TR (100+100+120+160)/4 = 120,
   * BL (200+0+100+100)/4 = 100, BR (0+20+100+100)/4 = 55 */
  static const uint8_t px[8] = {40, 80, 120, 160, 200, 0, 0, 20};
  char *pgm = write_pnm(dir, "lb.pgm", 4, 2, 1, px);
  char *out = NULL, *err = NULL;
  const char *args[] = {"--model", model, "--image", pgm, "--preprocess", "resize=pad,pad=100",
                        NULL};
  cr_assert_eq(eval(args, &out, &err), 0, "%s", err);
  json_t *arr = lines(out);
  char *s[4] = {score(120, 4.0 / 255), score(100, 4.0 / 255), score(80, 4.0 / 255),
                score(55, 4.0 / 255)};
  expect_top(json_array_get(arr, 0), "score", (const size_t[]){1, 2, 0, 3},
             (const char *const *)s, 4);
  for (int i = 0; i < 4; i++)
    free(s[i]);
  json_decref(arr);
  free(out);
  free(err);
  free(pgm);
  free(model);
  free(dir);
}

Test(cli_image, channel_orders_and_gray_from_rgb)
{
  char *dir = tu_tmpdir();
  size_t len;
  uint8_t *rgbm_bytes = model_channels(&len);
  char *rgbm = write_model(dir, "rgb.tflite", rgbm_bytes, len);
  uint8_t *graym_bytes = model_quadrants(false, &len);
  char *graym = write_model(dir, "q.tflite", graym_bytes, len);
  uint8_t px[48];
  for (int i = 0; i < 16; i++) {
    px[3 * i] = 10;
    px[3 * i + 1] = 200;
    px[3 * i + 2] = 60;
  }
  char *ppm = write_pnm(dir, "c.ppm", 4, 4, 3, px);
  char *out = NULL, *err = NULL;
  const char *a1[] = {"--model", rgbm, "--image", ppm, NULL};
  cr_assert_eq(eval(a1, &out, &err), 0, "%s", err);
  json_t *arr = lines(out);
  char *s[3] = {score(200, 16.0 / 255), score(60, 16.0 / 255), score(10, 16.0 / 255)};
  expect_top(json_array_get(arr, 0), "score", (const size_t[]){1, 2, 0}, (const char *const *)s,
             3);
  json_decref(arr);
  free(out);
  free(err);
  const char *a2[] = {"--model", rgbm, "--image", ppm, "--preprocess", "channels=bgr", NULL};
  cr_assert_eq(eval(a2, &out, &err), 0, "%s", err);
  arr = lines(out);
  expect_top(json_array_get(arr, 0), "score", (const size_t[]){1, 0, 2}, NULL, 3);
  json_decref(arr);
  free(out);
  free(err);
  /* gray model, RGB picture: BT.601 luma (77*10 + 150*200 + 29*60 + 128) >> 8 = 127 */
  const char *a3[] = {"--model", graym, "--image", ppm, "--top", "1", NULL};
  cr_assert_eq(eval(a3, &out, &err), 0, "%s", err);
  arr = lines(out);
  char *g = score(127, 4.0 / 255);
  expect_top(json_array_get(arr, 0), "score", (const size_t[]){0}, (const char *const *)&g, 1);
  free(g);
  json_decref(arr);
  free(out);
  free(err);
  /* rgb into a gray model is refused before any image is read */
  const char *a4[] = {"--model", graym, "--image", ppm, "--preprocess", "channels=rgb", NULL};
  cr_assert_eq(eval(a4, &out, &err), 2);
  cr_expect(strstr(err, "has 1 channel (use channels=gray)") != NULL, "%s", err);
  free(out);
  free(err);
  for (int i = 0; i < 3; i++)
    free(s[i]);
  free(ppm);
  free(rgbm);
  free(graym);
  free(dir);
}

Test(cli_image, jpeg_decoded_at_a_reduced_scale)
{
  char *dir = tu_tmpdir();
  size_t len;
  uint8_t *model_bytes = model_quadrants(false, &len);
  char *model = write_model(dir, "q.tflite", model_bytes, len);
  uint8_t px[64 * 64];
  quadrants(px, 16, (const int[]){20, 90, 240, 160});
  char *pgm = write_pnm(dir, "j.pgm", 64, 64, 1, px);
  char *jpg = convert(pgm, dir, "j.jpg", "cjpeg");
  char *out = NULL, *err = NULL;
  const char *args[] = {"--model", model, "--image", jpg, NULL};
  cr_assert_eq(eval(args, &out, &err), 0, "%s", err);
  json_t *arr = lines(out);
  expect_top(json_array_get(arr, 0), "score", (const size_t[]){2, 3, 1, 0}, NULL, 4);
  /* flat blocks survive JPEG within a level or two */
  json_t *top = json_object_get(json_array_get(arr, 0), "top");
  double v = json_number_value(json_object_get(json_array_get(top, 0), "score"));
  cr_expect(v > 238 * 4.0 / 255 && v < 242 * 4.0 / 255, "score %g", v);
  json_decref(arr);
  free(out);
  free(err);
  free(jpg);
  free(pgm);
  free(model);
  free(dir);
}

Test(cli_image, bad_files_keep_going)
{
  char *dir = tu_tmpdir();
  size_t len;
  uint8_t *model_bytes = model_quadrants(false, &len);
  char *model = write_model(dir, "q.tflite", model_bytes, len);
  uint8_t px[16];
  quadrants(px, 1, (const int[]){1, 2, 3, 4});
  char *good = write_pnm(dir, "good.pgm", 4, 4, 1, px);
  char *junk = du_fmt("%s/junk.png", dir);
  cr_assert_eq(tu_write(junk, "\x89PNG\r\n\x1a\nnot really", 18), 0);
  char *missing = du_fmt("%s/missing.jpg", dir);

  char *out = NULL, *err = NULL;
  const char *a1[] = {"--model", model, "--image", junk, good, NULL};
  cr_assert_eq(eval(a1, &out, &err), 2, "%s", err);
  json_t *arr = lines(out);
  cr_assert_eq(json_array_size(arr), 2);
  json_t *e = json_array_get(arr, 0);
  cr_expect_str_eq(json_string_value(json_object_get(e, "file")), junk);
  const char *msg = json_string_value(json_object_get(e, "error"));
  cr_assert(msg);
  char *want = du_fmt("cannot decode '%s': ", junk);
  cr_expect(strncmp(msg, want, strlen(want)) == 0, "%s", msg);
  cr_expect_null(json_object_get(e, "top"));
  cr_expect(json_is_array(json_object_get(json_array_get(arr, 1), "top")));
  char *line = du_fmt("edgeset-eval: %s\n", msg);
  cr_expect(strstr(err, line) != NULL, "stderr: %s", err);
  cr_expect(strstr(err, "1 of 2 images could not be classified") != NULL, "%s", err);
  free(line);
  free(want);
  json_decref(arr);
  free(out);
  free(err);

  /* an unreadable file is an I/O failure: 3, and the others are still classified */
  const char *a2[] = {"--model", model, "--image", missing, "--image", junk, good, NULL};
  cr_assert_eq(eval(a2, &out, &err), 3, "%s", err);
  arr = lines(out);
  cr_assert_eq(json_array_size(arr), 3);
  cr_expect(strstr(json_string_value(json_object_get(json_array_get(arr, 0), "error")),
                   "cannot open") != NULL);
  cr_expect(json_is_array(json_object_get(json_array_get(arr, 2), "top")));
  json_decref(arr);
  free(out);
  free(err);
  free(missing);
  free(junk);
  free(good);
  free(model);
  free(dir);
}

Test(cli_image, usage_errors)
{
  char *dir = tu_tmpdir();
  size_t len;
  uint8_t *model_bytes = model_quadrants(false, &len);
  char *model = write_model(dir, "q.tflite", model_bytes, len);
  uint8_t px[16] = {0};
  char *pgm = write_pnm(dir, "z.pgm", 4, 4, 1, px);
  char *labels = du_fmt("%s/labels.txt", dir);
  cr_assert_eq(tu_write(labels, "a\nb\nc\n", 6), 0);
  char *empty = du_fmt("%s/empty.txt", dir);
  cr_assert_eq(tu_write(empty, "a\n\nc\nd\n", 7), 0);
  char *out = NULL, *err = NULL;

  const char *a1[] = {"--model", model, "--image", pgm, "--labels", labels, NULL};
  cr_expect_eq(eval(a1, &out, &err), 2);
  char *want = du_fmt("edgeset-eval: '%s' has 3 labels but the model's output has 4 classes",
                   labels);
  cr_expect(strstr(err, want) != NULL, "%s", err);
  cr_expect_str_eq(out, "");
  free(want);
  free(out);
  free(err);

  const char *a2[] = {"--model", model, "--image", pgm, "--labels", empty, NULL};
  cr_expect_eq(eval(a2, &out, &err), 2);
  cr_expect(strstr(err, "line 2: empty label") != NULL, "%s", err);
  free(out);
  free(err);

  const char *a3[] = {"--model", model, "--image", pgm, "--preprocess", "resize=fit", NULL};
  cr_expect_eq(eval(a3, &out, &err), 2);
  cr_expect(strstr(err, "--preprocess: preprocess spec: resize must be stretch, crop or pad, "
                        "not 'fit'") != NULL,
            "%s", err);
  free(out);
  free(err);

  const char *a4[] = {"--model", model, "--image", pgm, "--top", "0", NULL};
  cr_expect_eq(eval(a4, &out, &err), 2);
  free(out);
  free(err);

  const char *a5[] = {"--model", model, "--image", pgm, "--info", NULL};
  cr_expect_eq(eval(a5, &out, &err), 2);
  cr_expect(strstr(err, "give exactly one of") != NULL, "%s", err);
  free(out);
  free(err);

  const char *a6[] = {"--model", model, "--image", pgm, "--preprocess", "map=meta", NULL};
  cr_expect_eq(eval(a6, &out, &err), 2);
  cr_expect(strstr(err, "map=meta, but the model has no input normalization") != NULL, "%s",
            err);
  free(out);
  free(err);
  free(empty);
  free(labels);
  free(pgm);
  free(model);
  free(dir);
}

Test(cli_image, output_does_not_depend_on_jobs)
{
  char *dir = tu_tmpdir();
  size_t len;
  uint8_t *model_bytes = model_quadrants(true, &len);
  char *model = write_model(dir, "s.tflite", model_bytes, len);
  enum { N = 40 };
  const char *args[N + 8];
  size_t n = 0;
  args[n++] = "--model";
  args[n++] = model;
  args[n++] = "--image";
  char *paths[N];
  uint32_t s = 7;
  for (int i = 0; i < N; i++) {
    int w = 4 + i % 9, h = 4 + (i * 7) % 11;
    uint8_t *px = malloc((size_t)w * h);
    for (int k = 0; k < w * h; k++) {
      s = s * 1664525u + 1013904223u;
      px[k] = (uint8_t)(s >> 24);
    }
    char name[32];
    snprintf(name, sizeof name, "r%02d.pgm", i);
    paths[i] = i == 17 ? du_fmt("%s/absent.pgm", dir) : write_pnm(dir, name, w, h, 1, px);
    free(px);
    args[n++] = paths[i];
  }
  args[n++] = "--top";
  args[n++] = "3";
  size_t base = n;
  char *ref = NULL;
  const char *jobs[] = {"1", "2", "4", "3"};
  for (int j = 0; j < 4; j++) {
    n = base;
    args[n++] = "-j";
    args[n++] = jobs[j];
    args[n] = NULL;
    char *out = NULL, *err = NULL;
    cr_assert_eq(eval(args, &out, &err), 3, "%s", err);
    json_t *arr = lines(out);
    cr_assert_eq(json_array_size(arr), N);
    json_decref(arr);
    if (!ref)
      ref = out;
    else {
      cr_expect_str_eq(out, ref, "-j %s", jobs[j]);
      free(out);
    }
    free(err);
  }
  free(ref);
  for (int i = 0; i < N; i++)
    free(paths[i]);
  free(model);
  free(dir);
}
