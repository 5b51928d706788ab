/* edgeset-augment from the outside: a dataset made by edgeset-collect and split by
 * edgeset-split, then augmented. Checks: byte-identical manifests for -j1 and -j2, a re-run
 * adds nothing, every variant re-made from its recorded `aug` gives its object's bytes, val
 * and held-out items are refused, split --verify stays clean, bad specs are exit 2, and the
 * contact sheet renders in headless Chromium when it is installed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "augment/augment.h"
#include "cliutil.h"
#include "formats/decode.h"
#include "formats/index.h"
#include "testutil.h"

static const char *const OPS = "hflip@0.5,rotate:20,crop:0.5@0.5,bright:0.2,contrast:0.2,"
                               "noise:4@0.3,blur:0.5-1.5@0.3,cutout:0.3@0.3,jpeg:60-95";

/* A dataset of 10 pictures (PNG and JPEG), split 60:20:20. Returns its root's parent. */
static char *make_dataset(char **ds)
{
  char *root = tu_tmpdir();
  char *cap = cu_fmt("%s/cap", root);
  cu_mkdirs(cap);
  for (int i = 0; i < 10; i++) {
    char *ppm = cu_fmt("%s/p%d.ppm", root, i);
    cu_write_ppm(ppm, 64 + 8 * i, 48, (unsigned)(100 + 37 * i), 0, 0, 1.0);
    char *out = cu_fmt("%s/c%02d.%s", cap, i, i % 2 ? "png" : "jpg");
    if (i % 2)
      cu_ppm_to_png(ppm, out, 6);
    else
      cu_ppm_to_jpeg(ppm, out, 90);
    free(ppm);
    free(out);
  }
  *ds = cu_fmt("%s/ds", root);
  int rc = cu_run("edgeset-collect", (const char *[]){"-d", *ds, "-q", "--batch", "b1", cap, NULL},
                  NULL, NULL, NULL);
  cr_assert_eq(rc, 0);
  rc = cu_run("edgeset-split", (const char *[]){"-d", *ds, "-q", "--ratios", "60:20:20", "--seed",
                                                "3", NULL}, NULL, NULL, NULL);
  cr_assert_eq(rc, 0);
  free(cap);
  return root;
}

static char *read_text(const char *path)
{
  size_t n;
  uint8_t *b = tu_read(path, &n);
  cr_assert(b, "cannot read %s", path);
  char *s = realloc(b, n + 1);
  s[n] = '\0';
  return s;
}

static json_t *find_item(json_t *items, const char *split, int variant)
{
  for (size_t i = 0; i < json_array_size(items); i++) {
    json_t *it = json_array_get(items, i);
    const char *s = json_string_value(json_object_get(it, "split"));
    int is_var = json_object_get(it, "derived_from") != NULL;
    if (s && !strcmp(s, split) && is_var == variant)
      return it;
  }
  return NULL;
}

Test(augment_cli, deterministic_rerun_remake_and_verify, .timeout = 240)
{
  char *ds = NULL;
  char *root = make_dataset(&ds);
  char *ds2 = cu_fmt("%s/ds2", root);
  char *cp = cu_fmt("cp -a '%s' '%s'", ds, ds2);
  cr_assert_eq(system(cp), 0);
  char *out = NULL, *err = NULL;
  int rc = cu_run("edgeset-augment", (const char *[]){"-d", ds, "--per-image", "3", "--ops", OPS,
                                                      "--seed", "5", "-j", "1", "--json", NULL},
                  NULL, &out, &err);
  cr_assert_eq(rc, 0, "%s", err);
  json_t *sum = json_loads(out, 0, NULL);
  cr_assert(sum);
  size_t sources = (size_t)json_integer_value(json_object_get(sum, "sources"));
  size_t made = (size_t)json_integer_value(json_object_get(sum, "variants_new"));
  cr_expect_gt(sources, 0);
  cr_expect_eq(made + (size_t)json_integer_value(json_object_get(sum, "variants_unchanged")) +
                   (size_t)json_integer_value(json_object_get(sum, "variants_duplicate")),
               3 * sources);
  cr_expect_gt(made, 0);
  json_decref(sum);
  free(out);
  free(err);
  rc = cu_run("edgeset-augment", (const char *[]){"-d", ds2, "--per-image", "3", "--ops", OPS,
                                                  "--seed", "5", "-j", "2", "-q", NULL},
              NULL, NULL, NULL);
  cr_assert_eq(rc, 0);
  char *m1p = cu_fmt("%s/manifest.jsonl", ds), *m2p = cu_fmt("%s/manifest.jsonl", ds2);
  char *m1 = read_text(m1p), *m2 = read_text(m2p);
  cr_expect_str_eq(m1, m2, "manifests differ between -j1 and -j2");

  /* a re-run adds nothing and leaves the manifest as it was */
  out = NULL;
  rc = cu_run("edgeset-augment", (const char *[]){"-d", ds, "--per-image", "3", "--ops", OPS,
                                                  "--seed", "5", "--json", NULL}, NULL, &out, NULL);
  cr_assert_eq(rc, 0);
  sum = json_loads(out, 0, NULL);
  cr_expect_eq(json_integer_value(json_object_get(sum, "variants_new")), 0);
  cr_expect_eq((size_t)json_integer_value(json_object_get(sum, "variants_existing")), made);
  json_decref(sum);
  free(out);
  char *m3 = read_text(m1p);
  cr_expect_str_eq(m1, m3);

  /* every variant: split, group, label, cluster from its source; bytes re-made from `aug` */
  json_t *items = cu_jsonl(m1p);
  size_t remade = 0;
  for (size_t i = 0; i < json_array_size(items); i++) {
    json_t *it = json_array_get(items, i);
    const char *from = json_string_value(json_object_get(it, "derived_from"));
    if (!from)
      continue;
    json_t *src = NULL;
    for (size_t k = 0; k < json_array_size(items); k++)
      if (!strcmp(json_string_value(json_object_get(json_array_get(items, k), "id")), from))
        src = json_array_get(items, k);
    cr_assert(src, "source %s missing", from);
    cr_expect_str_eq(json_string_value(json_object_get(it, "split")), "train");
    cr_expect(json_equal(json_object_get(it, "group"), json_object_get(src, "group")));
    cr_expect(json_equal(json_object_get(it, "label"), json_object_get(src, "label")));
    cr_expect(json_equal(json_object_get(it, "cluster"), json_object_get(src, "cluster")));
    cr_expect_eq(json_array_size(json_object_get(it, "seen")), 0);
    json_t *aug = json_object_get(it, "aug");
    cr_expect_eq(json_integer_value(json_object_get(aug, "seed")), 5);
    const char *fmt = json_string_value(json_object_get(src, "format"));
    char *sp = cu_fmt("%s/objects/%.2s/%s.%s", ds, from, from, strcmp(fmt, "jpeg") ? fmt : "jpg");
    const char *vid = json_string_value(json_object_get(it, "id"));
    const char *vfmt = json_string_value(json_object_get(it, "format"));
    char *vp = cu_fmt("%s/objects/%.2s/%s.%s", ds, vid, vid, strcmp(vfmt, "jpeg") ? vfmt : "jpg");
    size_t sn, vn;
    uint8_t *sb = tu_read(sp, &sn), *vb = tu_read(vp, &vn);
    cr_assert(sb && vb, "%s or %s missing", sp, vp);
    es_image img = {0};
    cr_assert_eq(es_image_decode(sb, sn, NULL, &img, NULL, NULL), ES_OK);
    es_aug_ops ops;
    es_error e = {0};
    cr_assert_eq(es_aug_ops_from_json(json_object_get(aug, "ops"), &ops, &e), ES_OK, "%s", e.msg);
    uint8_t *bytes = NULL;
    size_t len = 0;
    const char *made_fmt;
    cr_assert_eq(es_aug_make(&img, &ops, &bytes, &len, &made_fmt, NULL, &e), ES_OK, "%s", e.msg);
    cr_expect_eq(len, vn);
    cr_expect(len == vn && !memcmp(bytes, vb, len), "variant %s not re-made from its record", vid);
    cr_expect_str_eq(made_fmt, vfmt);
    remade++;
    free(bytes);
    es_image_free(&img);
    free(sb);
    free(vb);
    free(sp);
    free(vp);
  }
  cr_expect_eq(remade, made);

  /* val and held-out items are refused, nothing changed */
  json_t *val = find_item(items, "val", 0), *test = find_item(items, "test", 0);
  cr_assert(val && test);
  err = NULL;
  rc = cu_run("edgeset-augment", (const char *[]){"-d", ds, "--per-image", "1", "--ops", "hflip",
                                                  "--item", json_string_value(json_object_get(val, "id")),
                                                  NULL}, NULL, NULL, &err);
  cr_expect_eq(rc, 2);
  cr_expect(strstr(err, "only the train split") != NULL, "%s", err);
  free(err);
  rc = cu_run("edgeset-augment", (const char *[]){"-d", ds, "--per-image", "1", "--ops", "hflip",
                                                  "--item", json_string_value(json_object_get(test, "id")),
                                                  NULL}, NULL, NULL, NULL);
  cr_expect_eq(rc, 2);
  rc = cu_run("edgeset-augment", (const char *[]){"-d", ds, "--per-image", "1", "--ops", "hflip",
                                                  "--split", "val", NULL}, NULL, NULL, NULL);
  cr_expect_eq(rc, 2);
  char *m4 = read_text(m1p);
  cr_expect_str_eq(m1, m4);

  /* splits stay clean */
  rc = cu_run("edgeset-split", (const char *[]){"-d", ds, "--verify", NULL}, NULL, NULL, NULL);
  cr_expect_eq(rc, 0);

  /* the ledger records the run */
  char *lp = cu_fmt("%s/ledger.jsonl", ds);
  json_t *ledger = cu_jsonl(lp);
  int seen_aug = 0;
  for (size_t i = 0; i < json_array_size(ledger); i++)
    seen_aug += !strcmp(json_string_value(json_object_get(json_array_get(ledger, i), "type")),
                        "augment");
  cr_expect_eq(seen_aug, 1, "one augment record (the re-run added nothing)");
  json_decref(ledger);
  json_decref(items);
  free(lp);
  free(m1);
  free(m2);
  free(m3);
  free(m4);
  free(m1p);
  free(m2p);
  free(cp);
  free(ds2);
  free(ds);
  free(root);
}

Test(augment_cli, usage_errors_and_preview, .timeout = 240)
{
  char *ds = NULL;
  char *root = make_dataset(&ds);
  const char *bad[][2] = {{"hflip,wobble", "unknown operation 'wobble'"},
                          {"rotate:400", "'rotate:400' is out of range"},
                          {"jpeg:101", "'jpeg:101' is out of range"}};
  for (size_t i = 0; i < 3; i++) {
    char *err = NULL;
    int rc = cu_run("edgeset-augment", (const char *[]){"-d", ds, "--per-image", "2", "--ops",
                                                        bad[i][0], NULL}, NULL, NULL, &err);
    cr_expect_eq(rc, 2, "%s", bad[i][0]);
    cr_expect(strstr(err, bad[i][1]) != NULL, "%s", err);
    free(err);
  }
  char *out = NULL;
  cr_expect_eq(cu_run("edgeset-augment", (const char *[]){"--help", NULL}, NULL, &out, NULL), 0);
  cr_expect(strstr(out, "--per-image") != NULL);
  free(out);

  /* a dry run with a contact sheet changes nothing */
  char *mp = cu_fmt("%s/manifest.jsonl", ds);
  char *before = read_text(mp);
  char *html = cu_fmt("%s/sheet.html", root);
  int rc = cu_run("edgeset-augment", (const char *[]){"-d", ds, "--per-image", "2", "--ops", OPS,
                                                      "--dry-run", "--preview", html, "-q", NULL},
                  NULL, NULL, NULL);
  cr_assert_eq(rc, 0);
  char *after = read_text(mp);
  cr_expect_str_eq(before, after);
  char *page = read_text(html);
  cr_expect(strstr(page, "<img alt=\"original\"") != NULL);
  cr_expect(strstr(page, "src=\"data:image/png;base64,iVBORw0KGgo") != NULL);
  cr_expect(strstr(page, "<script") == NULL && strstr(page, "http://") == NULL &&
            strstr(page, "https://") == NULL);
  if (access("/usr/bin/chromium", X_OK) == 0) {
    char *shot = cu_fmt("%s/shot.png", root), *prof = cu_fmt("%s/profile", root);
    char *cmd = cu_fmt("timeout 120 /usr/bin/chromium --headless --no-sandbox --disable-gpu "
                       "--disable-background-networking --disable-component-update "
                       "--disable-sync --no-first-run --user-data-dir='%s' "
                       "--window-size=800,600 --screenshot='%s' 'file://%s' >/dev/null 2>&1",
                       prof, shot, html);
    cr_expect_eq(system(cmd), 0);
    size_t n = 0;
    uint8_t *png = tu_read(shot, &n);
    es_image img = {0};
    cr_assert(png, "no screenshot");
    cr_assert_eq(es_image_decode(png, n, NULL, &img, NULL, NULL), ES_OK);
    /* the page is not blank: the pictures are drawn */
    size_t nonwhite = 0;
    for (size_t i = 0; i < es_image_size(&img); i++)
      nonwhite += img.data[i] < 200;
    cr_expect_gt(nonwhite, es_image_size(&img) / 20, "screenshot looks blank");
    es_image_free(&img);
    free(png);
    free(cmd);
    free(shot);
    free(prof);
  }
  free(page);
  free(before);
  free(after);
  free(html);
  free(mp);
  free(ds);
  free(root);
}

static int b64val(int c)
{
  return c >= 'A' && c <= 'Z'   ? c - 'A'
         : c >= 'a' && c <= 'z' ? c - 'a' + 26
         : c >= '0' && c <= '9' ? c - '0' + 52
         : c == '+'             ? 62
         : c == '/'             ? 63
                                : -1;
}

/* Decodes base64 up to the first character outside the alphabet ('=' or '"'). */
static uint8_t *b64_decode(const char *s, size_t *len)
{
  size_t n = 0;
  while (b64val(s[n]) >= 0)
    n++;
  uint8_t *out = malloc(n * 3 / 4 + 3);
  size_t k = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    acc = acc << 6 | (uint32_t)b64val(s[i]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[k++] = (uint8_t)(acc >> bits);
    }
  }
  *len = k;
  return out;
}

/* Every row of a contact sheet shows, first, its own item: the row's title names the item, and
 * the row's first picture equals that item's object (the test pictures are smaller than the
 * sheet's 160-pixel thumbnails, so the thumbnail is the object's pixels). */
static void sheet_rows_match_their_items(const char *ds, const char *html)
{
  char *page = read_text(html);
  char *mp = cu_fmt("%s/manifest.jsonl", ds);
  json_t *items = cu_jsonl(mp);
  size_t rows = 0;
  const char *const open = "<section><h2>";
  for (const char *sec = strstr(page, open); sec; sec = strstr(sec + 1, open)) {
    char id[33];
    memcpy(id, sec + strlen(open), 32);
    id[32] = '\0';
    const json_t *item = NULL;
    for (size_t i = 0; i < json_array_size(items); i++)
      if (!strcmp(json_string_value(json_object_get(json_array_get(items, i), "id")), id))
        item = json_array_get(items, i);
    cr_assert(item, "row titled %s: no such item", id);
    const char *label = json_string_value(json_object_get(item, "label"));
    const char *end = strstr(sec, "</h2>");
    if (label)
      cr_assert(strstr(sec, label) && strstr(sec, label) < end, "row %s lacks its label", id);
    const char *src = strstr(sec, "base64,");
    cr_assert(src);
    size_t n = 0;
    uint8_t *png = b64_decode(src + strlen("base64,"), &n);
    es_image shown, obj;
    cr_assert_eq(es_image_decode(png, n, NULL, &shown, NULL, NULL), ES_OK);
    char rel[ES_OBJECT_REL_MAX];
    es_object_rel(id, json_string_value(json_object_get(item, "format")), rel);
    char *op = cu_fmt("%s/%s", ds, rel);
    size_t on = 0;
    uint8_t *ob = tu_read(op, &on);
    cr_assert(ob, "no object %s", op);
    cr_assert_eq(es_image_decode(ob, on, NULL, &obj, NULL, NULL), ES_OK);
    cr_assert(shown.width == obj.width && shown.height == obj.height &&
                  shown.channels == obj.channels &&
                  !memcmp(shown.data, obj.data, es_image_size(&obj)),
              "row %s shows another picture (%ux%u, its object is %ux%u)", id, shown.width,
              shown.height, obj.width, obj.height);
    es_image_free(&shown);
    es_image_free(&obj);
    free(png);
    free(ob);
    free(op);
    rows++;
  }
  cr_assert_gt(rows, 2, "a sheet with rows");
  json_decref(items);
  free(mp);
  free(page);
}

Test(augment_cli, contact_sheet_shows_each_source_under_its_own_id, .timeout = 240)
{
  char *ds = NULL;
  char *root = make_dataset(&ds);
  char *csv = cu_fmt("%s/labels.csv", root);
  char *mp = cu_fmt("%s/manifest.jsonl", ds);
  json_t *items = cu_jsonl(mp);
  FILE *f = fopen(csv, "w");
  fprintf(f, "path,label\n");
  for (size_t i = 0; i < json_array_size(items); i++)
    fprintf(f, "%s,class%zu\n",
            json_string_value(json_object_get(json_array_get(items, i), "src")), i);
  fclose(f);
  json_decref(items);
  char *from = cu_fmt("csv:%s", csv);
  cr_assert_eq(cu_run("edgeset-label", (const char *[]){"-d", ds, "-q", "--from", from, NULL},
                      NULL, NULL, NULL), 0);
  char *html = cu_fmt("%s/sheet.html", root);
  for (int dry = 1; dry >= 0; dry--) {
    const char *args[] = {"-d", ds, "--per-image", "2", "--ops", OPS, "--preview", html, "-q",
                          dry ? "--dry-run" : NULL, NULL};
    cr_assert_eq(cu_run("edgeset-augment", args, NULL, NULL, NULL), 0);
    sheet_rows_match_their_items(ds, html);
  }
  free(html);
  free(from);
  free(mp);
  free(csv);
  free(ds);
  free(root);
}
