/* The two-stage near-duplicate relation through the programs: collect's clusters, signatures.bin
 * (written, rebuilt from the objects, rewritten without removed items), edgeset-collect
 * --recluster (the upgrade of a version 1 dataset, splits kept, referenced files gone). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsutil.h"
#include "formats/decode.h"
#include "formats/encode.h"
#include "formats/signatures.h"
#include "photos.h"
#include "testutil.h"

/* Writes the window [x0, x0 + w) x [y0, y0 + h) of img, each sample plus delta, mirrored left
 * to right when mirror, as PNG. */
static void write_window_m(const es_image *img, const char *path, uint32_t x0, uint32_t y0,
                           uint32_t w, uint32_t h, int delta, int mirror)
{
  es_image out;
  cr_assert_eq(es_image_alloc(&out, w, h, img->channels, NULL), ES_OK);
  size_t c = img->channels;
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++)
      for (size_t k = 0; k < c; k++) {
        uint32_t sx = x0 + (mirror ? w - 1 - x : x);
        int v = img->data[((size_t)(y0 + y) * img->width + sx) * c + k] + delta;
        out.data[((size_t)y * w + x) * c + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
      }
  uint8_t *png = NULL;
  size_t len = 0;
  cr_assert_eq(es_image_encode_png(&out, 6, &png, &len, NULL), ES_OK);
  cr_assert_eq(tu_write(path, png, len), 0);
  free(png);
  es_image_free(&out);
}

static void write_window(const es_image *img, const char *path, uint32_t x0, uint32_t y0,
                         uint32_t w, uint32_t h, int delta)
{
  write_window_m(img, path, x0, y0, w, h, delta, 0);
}

/* in/: chelsea (whole, a 4% crop, 8% brighter), coffee, and camera's left and right 45%. */
static void make_inputs(const char *in)
{
  du_mkdirs(in);
  es_image a = tc_photo("chelsea.png"), b = tc_photo("coffee.png"), c = tc_photo("camera.png");
  uint32_t W = a.width, H = a.height;
  char *p;
  write_window(&a, p = du_fmt("%s/cat.png", in), 0, 0, W, H, 0), free(p);
  write_window(&a, p = du_fmt("%s/cat_crop.png", in), W / 25, H / 50, W - W / 25, H - H / 25, 0),
      free(p);
  write_window(&a, p = du_fmt("%s/cat_bright.png", in), 0, 0, W, H, 20), free(p);
  write_window(&b, p = du_fmt("%s/coffee.png", in), 0, 0, b.width, b.height, 0), free(p);
  uint32_t cw = c.width * 45 / 100;
  write_window(&c, p = du_fmt("%s/left.png", in), 0, 0, cw, c.height, 0), free(p);
  write_window(&c, p = du_fmt("%s/right.png", in), c.width - cw, 0, cw, c.height, 0), free(p);
  es_image_free(&a);
  es_image_free(&b);
  es_image_free(&c);
}

static const char *cluster_of(json_t *items, const char *src_suffix)
{
  json_t *it = du_item_by_src(items, src_suffix);
  cr_assert(it, "no item %s", src_suffix);
  return json_string_value(json_object_get(it, "cluster"));
}

static size_t signatures_in(const char *ds)
{
  es_store st;
  es_error err = {0};
  es_sigs s;
  int damaged = 0;
  cr_assert_eq(es_store_open(&st, ds, 0, NULL, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(es_sigs_load(&st, &s, &damaged, &err), ES_OK, "%s", err.msg);
  cr_assert(!damaged);
  size_t n = s.n;
  es_sigs_free(&s);
  es_store_close(&st);
  return n;
}

Test(relation_cli, collect_clusters_by_signature_and_keeps_signatures_with_items)
{
  char *root = tu_tmpdir(), *ds = du_fmt("%s/ds", root), *in = du_fmt("%s/in", root);
  make_inputs(in);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-collect", "-d", ds, "-q", "--batch", "b1", in, NULL),
               0);
  char *mp = du_fmt("%s/manifest.jsonl", ds);
  json_t *items = du_jsonl(mp);
  cr_assert_eq(json_array_size(items), 6);
  const char *cat = cluster_of(items, "/cat.png");
  cr_assert_str_eq(cluster_of(items, "/cat_crop.png"), cat, "a 4%% crop is the same scene");
  cr_assert_str_eq(cluster_of(items, "/cat_bright.png"), cat);
  cr_assert_str_neq(cluster_of(items, "/coffee.png"), cat);
  cr_assert_str_neq(cluster_of(items, "/left.png"), cluster_of(items, "/right.png"),
                    "two halves of one photo are different pictures");
  json_decref(items);
  cr_assert_eq(signatures_in(ds), 6);

  /* signatures.bin is rebuilt from the objects when it is gone */
  char *sp = du_fmt("%s/" ES_SIGS_FILE, ds);
  cr_assert_eq(unlink(sp), 0);
  char *more = du_fmt("%s/more", root);
  du_mkdirs(more);
  char *np = du_fmt("%s/new.ppm", more);
  du_ppm(np, 7, 0);
  free(np);
  char *out = NULL;
  cr_assert_eq(du_run(&out, NULL, "edgeset-collect", "-d", ds, "--json", "--batch", "b2", more,
                      NULL), 0);
  json_t *sum = json_loads(out, 0, NULL);
  cr_assert_eq(json_integer_value(json_object_get(sum, "signatures_computed")), 6, "%s", out);
  cr_assert_eq(json_array_size(json_object_get(sum, "signatures_missing")), 0);
  json_decref(sum);
  free(out);
  cr_assert_eq(signatures_in(ds), 7);

  /* an item gone from the manifest loses its signature at the next commit */
  items = du_jsonl(mp);
  FILE *f = fopen(mp, "w");
  for (size_t i = 0; i < json_array_size(items); i++) {
    json_t *it = json_array_get(items, i);
    if (strstr(json_string_value(json_object_get(it, "src")), "/coffee.png"))
      continue;
    char *line = json_dumps(it, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fprintf(f, "%s\n", line);
    free(line);
  }
  fclose(f);
  json_decref(items);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-collect", "-d", ds, "-q", "--batch", "b3", more, NULL),
               0);
  cr_assert_eq(signatures_in(ds), 6);
  free(sp);
  free(more);
  free(mp);
  free(ds);
  free(in);
  free(root);
}

Test(relation_cli, recluster_upgrades_version_1_and_keeps_splits)
{
  char *root = tu_tmpdir(), *ds = du_fmt("%s/ds", root), *in = du_fmt("%s/in", root);
  make_inputs(in);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-collect", "-d", ds, "-q", "--store", "ref", "--batch",
                      "b1", in, NULL), 0);
  /* as a dataset written before the second stage: version 1, radius 10, no signatures */
  char *settings = du_fmt("%s/edgeset.json", ds), *sp = du_fmt("%s/" ES_SIGS_FILE, ds);
  du_put(settings, "{\"format\":\"edgeset-dataset\",\"version\":1,\"settings\":{\"near\":10,"
                   "\"max_pixels\":100000000,\"max_file_bytes\":536870912,"
                   "\"jpeg_fancy_upsampling\":true,\"jpeg_dct\":\"islow\"}}\n");
  cr_assert_eq(unlink(sp), 0);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-split", "-d", ds, "-q", "--ratios", "50:50", NULL), 0);
  /* as the old relation may have left them: the cat in test, its crop and brighter copy in
   * train, each its own cluster */
  char *mp = du_fmt("%s/manifest.jsonl", ds);
  json_t *items = du_jsonl(mp);
  FILE *f = fopen(mp, "w");
  for (size_t i = 0; i < json_array_size(items); i++) {
    json_t *it = json_array_get(items, i);
    const char *src = json_string_value(json_object_get(it, "src"));
    if (strstr(src, "/cat"))
      json_object_set(it, "cluster", json_object_get(it, "id"));
    if (strstr(src, "/cat.png"))
      json_object_set_new(it, "split", json_string("test"));
    else if (strstr(src, "/cat_"))
      json_object_set_new(it, "split", json_string("train"));
    char *line = json_dumps(it, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fprintf(f, "%s\n", line);
    free(line);
  }
  fclose(f);
  json_decref(items);
  json_t *before = du_jsonl(mp);
  /* a referenced file gone: its item gets no signature, and is named */
  char *gone = du_fmt("%s/coffee.png", in);
  cr_assert_eq(unlink(gone), 0);
  char *out = NULL, *err = NULL;
  cr_assert_eq(du_run(&out, &err, "edgeset-collect", "-d", ds, "--recluster", NULL), 0, "%s", err);
  cr_assert(strstr(out, "upgraded from format version 1"), "%s", out);
  cr_assert(strstr(err, "has no near-duplicate signature"), "%s", err);
  free(out);
  free(err);
  char *text = du_slurp(settings);
  cr_assert(strstr(text, "\"version\": 2") && strstr(text, "\"near\": 16") &&
                strstr(text, "\"near_score\": 850"), "%s", text);
  free(text);
  cr_assert_eq(signatures_in(ds), 5);
  json_t *after = du_jsonl(mp);
  cr_assert_eq(json_array_size(after), json_array_size(before));
  for (size_t i = 0; i < json_array_size(after); i++) {
    json_t *a = json_array_get(after, i), *b = json_array_get(before, i);
    cr_assert(json_equal(json_object_get(a, "split"), json_object_get(b, "split")));
    cr_assert(json_equal(json_object_get(a, "group"), json_object_get(b, "group")));
  }
  cr_assert_str_eq(cluster_of(after, "/cat_crop.png"), cluster_of(after, "/cat.png"));
  char *lp = du_fmt("%s/ledger.jsonl", ds);
  char *ledger = du_slurp(lp);
  cr_assert(strstr(ledger, "\"type\":\"recluster\""), "%s", ledger);
  free(ledger);
  json_decref(before);
  json_decref(after);
  /* the new relation joins the crop to the held-out cat: --verify reports it, and
   * --set-aside-leaks unassigns the train items, never the held-out one */
  cr_assert_eq(du_run(&out, NULL, "edgeset-split", "-d", ds, "--verify", NULL), 1);
  cr_assert(strstr(out, "leak: cluster"), "%s", out);
  free(out);
  cr_assert_eq(du_run(&out, NULL, "edgeset-split", "-d", ds, "--set-aside-leaks", NULL), 0);
  cr_assert(strstr(out, "set aside 2 train or val items"), "%s", out);
  free(out);
  cr_assert_eq(du_run(&out, NULL, "edgeset-split", "-d", ds, "--verify", NULL), 0, "%s", out);
  free(out);
  after = du_jsonl(mp);
  json_t *cat = du_item_by_src(after, "/cat.png"), *crop = du_item_by_src(after, "/cat_crop.png");
  cr_assert_str_eq(json_string_value(json_object_get(cat, "split")), "test");
  cr_assert(json_is_null(json_object_get(crop, "split")));
  const char *note = json_string_value(json_object_get(crop, "split_note"));
  cr_assert(note && strstr(note, json_string_value(json_object_get(cat, "id"))), "%s", note);
  json_decref(after);
  /* --recluster takes no paths */
  cr_assert_eq(du_run(NULL, NULL, "edgeset-collect", "-d", ds, "--recluster", in, NULL), 2);
  free(lp);
  free(gone);
  free(mp);
  free(settings);
  free(sp);
  free(ds);
  free(in);
  free(root);
}

Test(relation_cli, a_damaged_signatures_file_is_rebuilt)
{
  uint8_t good[16 + 32] = {'E', 'S', 'S', 'I', 'G', 'S', 0, 1, 0, 0, 0, 0, 32, 0, 0, 0};
  es_sigs s;
  es_error err = {0};
  cr_assert_eq(es_sigs_parse(good, sizeof good, &s, &err), ES_EFORMAT, "no checksum yet");
  char *root = tu_tmpdir(), *ds = du_fmt("%s/ds", root), *in = du_fmt("%s/in", root);
  make_inputs(in);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-collect", "-d", ds, "-q", "--batch", "b1", in, NULL),
               0);
  char *sp = du_fmt("%s/" ES_SIGS_FILE, ds);
  size_t len = 0;
  uint8_t *bytes = tu_read(sp, &len);
  cr_assert(bytes && len > 1000);
  /* every kind of damage: a flipped byte, a cut, a wrong count */
  for (int kind = 0; kind < 3; kind++) {
    uint8_t *bad = malloc(len);
    memcpy(bad, bytes, len);
    size_t blen = len;
    if (kind == 0)
      bad[len / 2] ^= 1;
    else if (kind == 1)
      blen = len - 100;
    else
      bad[8] ^= 2;
    cr_assert_eq(es_sigs_parse(bad, blen, &s, &err), ES_EFORMAT, "kind %d", kind);
    cr_assert_eq(tu_write(sp, bad, blen), 0);
    free(bad);
    char *out = NULL;
    cr_assert_eq(du_run(&out, NULL, "edgeset-collect", "-d", ds, "--json", "--batch", "b1", in,
                        NULL), 0);
    json_t *sum = json_loads(out, 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(sum, "signatures_computed")), 6, "%s", out);
    json_decref(sum);
    free(out);
    cr_assert_eq(signatures_in(ds), 6);
  }
  cr_assert_eq(es_sigs_parse(bytes, len, &s, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(s.n, 6);
  es_sigs_free(&s);
  free(bytes);
  free(sp);
  free(ds);
  free(in);
  free(root);
}

Test(relation_cli, augment_never_adds_a_near_duplicate_of_a_held_out_item)
{
  /* train: a photo; test: its mirror image, 10 levels brighter (another picture: no near
   * duplicate of the photo). A mirrored variant of the photo is a near duplicate of the test
   * item: augment must drop it. */
  char *root = tu_tmpdir(), *ds = du_fmt("%s/ds", root), *in = du_fmt("%s/in", root);
  du_mkdirs(in);
  es_image a = tc_photo("coffee.png");
  char *p;
  write_window(&a, p = du_fmt("%s/photo.png", in), 0, 0, a.width, a.height, 0), free(p);
  write_window_m(&a, p = du_fmt("%s/mirror.png", in), 0, 0, a.width, a.height, 10, 1), free(p);
  es_image_free(&a);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-collect", "-d", ds, "-q", "--batch", "b1", in, NULL),
               0);
  char *mp = du_fmt("%s/manifest.jsonl", ds);
  json_t *items = du_jsonl(mp);
  cr_assert_str_neq(cluster_of(items, "/photo.png"), cluster_of(items, "/mirror.png"));
  FILE *f = fopen(mp, "w");
  for (size_t i = 0; i < json_array_size(items); i++) {
    json_t *it = json_array_get(items, i);
    const char *src = json_string_value(json_object_get(it, "src"));
    json_object_set_new(it, "split", json_string(strstr(src, "/photo.png") ? "train" : "test"));
    char *line = json_dumps(it, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fprintf(f, "%s\n", line);
    free(line);
  }
  fclose(f);
  json_decref(items);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-split", "-d", ds, "--verify", NULL), 0);
  char *out = NULL;
  cr_assert_eq(du_run(&out, NULL, "edgeset-augment", "-d", ds, "--per-image", "1", "--ops",
                      "hflip", "--json", NULL), 0);
  json_t *sum = json_loads(out, 0, NULL);
  json_t *s = json_object_get(sum, "summary") ? json_object_get(sum, "summary") : sum;
  cr_assert_eq(json_integer_value(json_object_get(s, "variants_near_held_out")), 1, "%s", out);
  cr_assert_eq(json_integer_value(json_object_get(s, "variants_new")), 0, "%s", out);
  json_decref(sum);
  free(out);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-split", "-d", ds, "--verify", NULL), 0);
  /* without the held-out item the same variant is added */
  cr_assert_eq(du_run(NULL, NULL, "edgeset-split", "-d", ds, "-q", "--release", "test", NULL), 0);
  cr_assert_eq(du_run(&out, NULL, "edgeset-augment", "-d", ds, "--per-image", "1", "--ops",
                      "hflip", "--json", NULL), 0);
  sum = json_loads(out, 0, NULL);
  s = json_object_get(sum, "summary") ? json_object_get(sum, "summary") : sum;
  cr_assert_eq(json_integer_value(json_object_get(s, "variants_new")), 1, "%s", out);
  json_decref(sum);
  free(out);
  free(mp);
  free(ds);
  free(in);
  free(root);
}
