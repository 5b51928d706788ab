/* edgeset-eval --profile: on person_detect (tests/data/tflite) with --raw-input and on the
 * repository's Fashion-MNIST model with --image, per operator as text and JSON: one entry per
 * operator with its MACs as --info counts them, times that add up to the inference's, the
 * measured peak of the variant that ran (EDGESET_ISA), and the usage errors. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsutil.h"
#include "testutil.h"

static json_t *profile_json(const char *model, const char *flag, const char *input,
                            const char *isa)
{
  char *out = NULL, *err = NULL;
  if (isa)
    setenv("EDGESET_ISA", isa, 1);
  int rc = du_run(&out, &err, "edgeset-eval", "--model", model, "--profile", flag, input,
                  "--json", NULL);
  unsetenv("EDGESET_ISA");
  cr_assert_eq(rc, 0, "%s", err);
  json_error_t je;
  json_t *j = json_loads(out, 0, &je);
  cr_assert(j, "not JSON: %s", je.text);
  free(out);
  free(err);
  return j;
}

Test(eval_profile, person_detect_per_operator)
{
  char *model = tu_data("tflite/person_detect.tflite"), *raw = tu_data("tflite/person_detect.in0.raw");
  static const char *const isas[] = {"reference", NULL}; /* NULL: the best this CPU runs */
  for (int k = 0; k < 2; k++) {
    json_t *j = profile_json(model, "--raw-input", raw, isas[k]);
    json_t *ops = json_object_get(j, "operators");
    cr_assert_eq(json_array_size(ops), 31);
    const char *variant = json_string_value(json_object_get(j, "variant"));
    cr_assert(variant && (!isas[k] || !strcmp(variant, isas[k])), "%s", variant);
    cr_assert_eq(json_integer_value(json_object_get(j, "macs")), 7160194);
    double sum = 0, total = json_real_value(json_object_get(j, "seconds"));
    json_int_t macs = 0;
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
      cr_assert_eq(json_integer_value(json_object_get(op, "index")), (json_int_t)i);
      sum += json_real_value(json_object_get(op, "seconds"));
      macs += json_integer_value(json_object_get(op, "macs"));
      cr_assert(json_real_value(json_object_get(op, "seconds")) >= 0);
    }
    cr_assert_eq(macs, 7160194, "the operators' MACs add up to the model's");
    cr_assert(total > 0 && sum > total * 0.999 && sum < total * 1.001, "%g vs %g", sum, total);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ops, 2), "operator")),
                     "CONV_2D");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ops, 2), "output_shape")),
                     "1x48x48x16");
    /* a measured peak exactly for the variants built on an int8 dot instruction */
    json_t *peak = json_object_get(j, "peak_gmacs");
    const bool plain = !strcmp(variant, "reference") || !strcmp(variant, "portable");
    cr_assert(plain ? !peak : json_real_value(peak) > 1.0, "%s: peak %g", variant,
              json_real_value(peak));
    if (peak)
      cr_assert_gt(json_real_value(json_object_get(j, "peak_share")), 0);
    json_decref(j);
  }
  free(model);
  free(raw);
}

Test(eval_profile, one_image_text_and_usage_errors)
{
  const char *src = getenv("EDGESET_SOURCE");
  char *model = du_fmt("%s/models/fashion_mnist_int8.tflite", src ? src : ".");
  char *photo = tu_data("photos/camera.png");
  char *out = NULL, *err = NULL;
  cr_assert_eq(du_run(&out, &err, "edgeset-eval", "--model", model, "--profile", "--image", photo,
                      NULL), 0, "%s", err);
  cr_assert(strstr(out, "operators") && strstr(out, "total"), "%s", out);
  free(out);
  free(err);
  /* nothing to run, two images, with --info */
  static const char *const bad[][8] = {
      {"--model", NULL, "--profile", NULL},
      {"--model", NULL, "--profile", "--image", NULL, NULL, NULL},
      {"--model", NULL, "--profile", "--info", NULL},
  };
  for (int k = 0; k < 3; k++) {
    const char *argv[8];
    int n = 0;
    for (int a = 0; a < 8 && (a < 2 || bad[k][a]); a++)
      argv[n++] = a == 1 ? model : bad[k][a];
    if (k == 1) {
      argv[n++] = photo;
      argv[n++] = photo;
    }
    argv[n] = NULL;
    out = err = NULL;
    int rc = du_run(&out, &err, "edgeset-eval", argv[0], argv[1], argv[2], n > 3 ? argv[3] : NULL,
                    n > 4 ? argv[4] : NULL, n > 5 ? argv[5] : NULL, NULL);
    cr_assert_eq(rc, 2, "case %d: exit %d: %s", k, rc, err);
    cr_assert(strstr(err, "--profile"), "case %d: %s", k, err);
    free(out);
    free(err);
  }
  free(model);
  free(photo);
}
