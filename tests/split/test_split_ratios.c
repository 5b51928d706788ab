/* Held-out sets that keep their ratios (issue 18), from the command line on real pictures:
 * Fashion-MNIST test images (Debian's dataset-fashion-mnist) as the captures of four cameras,
 * collected, labelled from folders and split in two batches; every class's shares over all its
 * assigned items stay within 0.03 of the targets after each batch, and --verify is clean. And a
 * class that lives in one group: split changes nothing and exits 1 naming it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dsutil.h"
#include "testutil.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/t10k-"

static const char *const names[10] = {"tshirt", "trouser", "pullover", "dress", "coat",
                                      "sandal", "shirt",   "sneaker",  "bag",   "boot"};

static uint8_t *read_idx_gz(const char *path, size_t skip, size_t n)
{
  gzFile f = gzopen(path, "rb");
  cr_assert(f, "cannot open %s (Debian package dataset-fashion-mnist)", path);
  uint8_t *buf = malloc(skip + n);
  cr_assert(buf);
  cr_assert_eq(gzread(f, buf, (unsigned)(skip + n)), (int)(skip + n), "%s is short", path);
  gzclose(f);
  memmove(buf, buf + skip, n);
  return buf;
}

/* Images [lo, hi) as root/<batch>/cam<i%4+1>/<class>/<i>.pgm, each pixel a scale x scale
 * block (scale 3: the 84x84 captures of a camera that upscales). */
static void captures(const char *root, const char *batch, const uint8_t *img, const uint8_t *lab,
                     int lo, int hi, int scale)
{
  int side = 28 * scale;
  uint8_t *px = malloc((size_t)side * (size_t)side);
  for (int i = lo; i < hi; i++) {
    char *d = du_fmt("%s/%s/cam%d/%s", root, batch, i % 4 + 1, names[lab[i]]);
    du_mkdirs(d);
    char *p = du_fmt("%s/%05d.pgm", d, i);
    for (int y = 0; y < side; y++)
      for (int x = 0; x < side; x++)
        px[y * side + x] = img[(size_t)i * 784 + (size_t)(y / scale) * 28 + (size_t)(x / scale)];
    FILE *f = fopen(p, "wb");
    cr_assert(f, "%s", p);
    fprintf(f, "P5\n%d %d\n255\n", side, side);
    fwrite(px, 1, (size_t)side * (size_t)side, f);
    fclose(f);
    free(p);
    free(d);
  }
  free(px);
}

/* Runs a program (arguments after the name, no NULL) and asserts exit 0. */
#define RUN_OK(out, prog, ...)                                                              \
  do {                                                                                      \
    char *e_ = NULL;                                                                        \
    int rc_ = du_run(out, &e_, prog, __VA_ARGS__, NULL);                                    \
    cr_assert_eq(rc_, 0, "%s: exit %d: %s", prog, rc_, e_);                                 \
    free(e_);                                                                               \
  } while (0)

/* Collects and labels root/<batch>, splits 80:10:10 --seed 7 --group-by cluster, and checks
 * every class's cumulative shares and --verify. */
static void batch(const char *root, const char *ds, const char *batch)
{
  char *in = du_fmt("%s/%s", root, batch);
  RUN_OK(NULL, "edgeset-collect", "-d", ds, "--batch", batch, "--device-from", "dir:2",
         "-q", in);
  RUN_OK(NULL, "edgeset-label", "-d", ds, "--from", "dir:1", "-q");
  char *out = NULL;
  RUN_OK(&out, "edgeset-split", "-d", ds, "--ratios", "80:10:10", "--seed", "7",
         "--group-by", "cluster", "--json");
  json_t *j = json_loads(out, 0, NULL);
  cr_assert_not_null(j, "%s", out);
  const json_t *achieved = json_object_get(json_object_get(j, "split"), "achieved");
  cr_assert_eq(json_array_size(achieved), 10);
  static const char *const splits[3] = {"train", "val", "test"};
  static const double target[3] = {0.8, 0.1, 0.1};
  for (size_t c = 0; c < 10; c++) {
    const json_t *row = json_array_get(achieved, c);
    const json_t *counts = json_object_get(row, "counts");
    double n[3], total = 0;
    for (int s = 0; s < 3; s++)
      total += n[s] = (double)json_integer_value(json_object_get(counts, splits[s]));
    cr_assert_gt(total, 0);
    for (int s = 0; s < 3; s++)
      cr_assert_leq(fabs(n[s] / total - target[s]), 0.03,
                    "%s: class %s has %.3f of its %.0f items in %s (target %.1f)", batch,
                    json_string_value(json_object_get(row, "label")), n[s] / total, total,
                    splits[s], target[s]);
  }
  json_decref(j);
  free(out);
  RUN_OK(NULL, "edgeset-split", "-d", ds, "--verify", "-q");
  free(in);
}

static void two_batches(int n1, int n2, int scale)
{
  uint8_t *img = read_idx_gz(FMNIST "images-idx3-ubyte.gz", 16, (size_t)(n1 + n2) * 784);
  uint8_t *lab = read_idx_gz(FMNIST "labels-idx1-ubyte.gz", 8, (size_t)(n1 + n2));
  char *root = tu_tmpdir(), *ds = du_fmt("%s/ds", root);
  captures(root, "b1", img, lab, 0, n1, scale);
  captures(root, "b2", img, lab, n1, n1 + n2, scale);
  batch(root, ds, "b1");
  batch(root, ds, "b2");
  free(img);
  free(lab);
  free(ds);
  free(root);
}

/* The scenario of the issue: 2,000 then 1,000 pictures as the cameras deliver them. */
Test(split_ratios, fashion_mnist_two_batches, .timeout = 600)
{
  two_batches(2000, 1000, 1);
}

/* The same pictures scaled up 3x: under the default relation many pictures of one class are
 * linked in chains (sneakers and boots especially). The old assignment moved whole chains into
 * test (79% of the boots); now the chains go to one split whole and the shares still hold. */
Test(split_ratios, fashion_mnist_upscaled_chains, .timeout = 600)
{
  two_batches(600, 400, 3);
}

/* --group-by device where every "bird" comes from one camera: the birds are one group, which
 * can only go to one split. split changes nothing, exits 1 and names the class and the group;
 * --max-ratio-error 1 accepts it. */
Test(split_ratios, one_class_in_one_group)
{
  char *root = tu_tmpdir(), *ds = du_fmt("%s/ds", root), *in = du_fmt("%s/in", root);
  for (int k = 0; k < 92; k++) {
    /* cats on cam01..cam20 and dogs on cam21..cam40, two pictures each; 12 birds on cam99 */
    int cam = k < 80 ? k / 2 + 1 : 99;
    const char *cls = k < 40 ? "cat" : k < 80 ? "dog" : "bird";
    char *d = du_fmt("%s/cam%02d/%s", in, cam, cls);
    du_mkdirs(d);
    char *p = du_fmt("%s/%d.ppm", d, k);
    du_ppm(p, 9000 + (unsigned)k * 7, 0);
    free(p);
    free(d);
  }
  RUN_OK(NULL, "edgeset-collect", "-d", ds, "--batch", "b1", "--device-from", "dir:2",
         "-q", in);
  RUN_OK(NULL, "edgeset-label", "-d", ds, "--from", "dir:1", "-q");
  char *mpath = du_fmt("%s/manifest.jsonl", ds), *lpath = du_fmt("%s/ledger.jsonl", ds);
  char *m0 = du_slurp(mpath), *l0 = du_slurp(lpath);
  char *out = NULL, *err = NULL;
  int rc = du_run(&out, &err, "edgeset-split", "-d", ds, "--group-by", "device", NULL);
  cr_assert_eq(rc, 1, "exit %d: %s%s", rc, out, err);
  cr_assert(strstr(err, "nothing changed"), "%s", err);
  cr_assert(strstr(err, "bird (12 items)"), "%s", err);
  cr_assert(strstr(err, "12 items (12 of the class)") && strstr(err, "device:cam99"), "%s", err);
  cr_assert_null(strstr(err, "cat ("), "cats meet the ratios: %s", err);
  cr_assert_null(strstr(err, "dog ("), "dogs meet the ratios: %s", err);
  char *m1 = du_slurp(mpath), *l1 = du_slurp(lpath);
  cr_assert_str_eq(m0, m1, "the manifest changed");
  cr_assert_str_eq(l0, l1, "the ledger changed");
  free(out);
  free(err);
  /* the same as JSON */
  rc = du_run(&out, &err, "edgeset-split", "-d", ds, "--group-by", "device", "--json", NULL);
  cr_assert_eq(rc, 1, "%s", err);
  json_t *j = json_loads(out, 0, NULL);
  const json_t *misses = json_object_get(json_object_get(j, "split"), "ratio_misses");
  cr_assert_eq(json_array_size(misses), 1, "%s", out);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(misses, 0), "label")), "bird");
  json_decref(j);
  free(out);
  free(err);
  /* accepted on request */
  RUN_OK(NULL, "edgeset-split", "-d", ds, "--group-by", "device",
         "--max-ratio-error", "1", "-q");
  json_t *m = du_jsonl(mpath);
  const char *bird_split = NULL;
  for (size_t i = 0; i < json_array_size(m); i++) {
    const json_t *it = json_array_get(m, i);
    const char *s = json_string_value(json_object_get(it, "split"));
    cr_assert_not_null(s, "an item is unassigned");
    if (!strcmp(json_string_value(json_object_get(it, "label")), "bird")) {
      if (bird_split)
        cr_assert_str_eq(s, bird_split, "the birds' group was split");
      bird_split = s;
    }
  }
  json_decref(m);
  free(m0);
  free(m1);
  free(l0);
  free(l1);
  free(mpath);
  free(lpath);
  free(in);
  free(ds);
  free(root);
}
