/* CLI tests of edgeset-label on real datasets made by edgeset-collect: folder, CSV and JSONL
 * sources, errors that list every bad line and change nothing (exit 2), balance gates (exit 1),
 * --json, and the HTML report opened in headless Chromium. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsutil.h"
#include "testutil.h"

/* A dataset with 6 cats, 3 dogs and 1 bird under in/<class>/ from device cam1. */
static char *make_dataset(char **root_out)
{
  char *root = tu_tmpdir();
  const char *cls[] = {"cat", "dog", "bird"};
  const int n[] = {6, 3, 1};
  unsigned seed = 1;
  for (int c = 0; c < 3; c++) {
    char *d = du_fmt("%s/in/%s", root, cls[c]);
    du_mkdirs(d);
    for (int k = 0; k < n[c]; k++) {
      char *p = du_fmt("%s/%d.ppm", d, k);
      du_ppm(p, seed++, 0);
      free(p);
    }
    free(d);
  }
  char *ds = du_fmt("%s/ds", root), *in = du_fmt("%s/in", root);
  char *err = NULL;
  int rc = du_run(NULL, &err, "edgeset-collect", "-d", ds, "--batch", "b1", "--device-from",
                  "fixed:cam1", "-q", in, NULL);
  cr_assert_eq(rc, 0, "collect: %s", err);
  free(err);
  free(in);
  *root_out = root;
  return ds;
}

Test(label_cli, from_dir_then_csv_and_jsonl)
{
  char *root, *ds = make_dataset(&root);
  char *out = NULL, *err = NULL;
  int rc = du_run(&out, &err, "edgeset-label", "-d", ds, "--from", "dir:1", "--json", NULL);
  cr_assert_eq(rc, 0, "%s", err);
  json_t *j = json_loads(out, 0, NULL);
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "label"), "set")), 10);
  json_decref(j);
  free(out);
  free(err);
  char *mpath = du_fmt("%s/manifest.jsonl", ds);
  json_t *m = du_jsonl(mpath);
  cr_assert_str_eq(json_string_value(json_object_get(du_item_by_src(m, "in/bird/0.ppm"), "label")),
                   "bird");
  json_decref(m);
  /* CSV: quoted fields, a label with a comma, a header */
  char *csv = du_fmt("%s/l.csv", root);
  char *line = du_fmt("path,label\r\n\"%s/in/cat/0.ppm\",\"big, \"\"fat\"\" cat\"\r\n", root);
  du_put(csv, line);
  free(line);
  char *from = du_fmt("csv:%s", csv);
  rc = du_run(NULL, &err, "edgeset-label", "-d", ds, "--from", from, "-q", NULL);
  cr_assert_eq(rc, 0, "%s", err);
  free(err);
  m = du_jsonl(mpath);
  cr_assert_str_eq(json_string_value(json_object_get(du_item_by_src(m, "in/cat/0.ppm"), "label")),
                   "big, \"fat\" cat");
  /* JSONL by id */
  const char *id = json_string_value(json_object_get(du_item_by_src(m, "in/dog/0.ppm"), "id"));
  char *jl = du_fmt("%s/l.jsonl", root), *body = du_fmt("{\"id\":\"%s\",\"label\":\"wolf\"}\n", id);
  du_put(jl, body);
  json_decref(m);
  char *fromj = du_fmt("jsonl:%s", jl);
  rc = du_run(NULL, &err, "edgeset-label", "-d", ds, "--from", fromj, "-q", NULL);
  cr_assert_eq(rc, 0, "%s", err);
  free(err);
  m = du_jsonl(mpath);
  cr_assert_str_eq(json_string_value(json_object_get(du_item_by_src(m, "in/dog/0.ppm"), "label")),
                   "wolf");
  json_decref(m);
  /* each change is in the ledger */
  char *lpath = du_fmt("%s/ledger.jsonl", ds);
  json_t *led = du_jsonl(lpath);
  size_t labels = 0;
  for (size_t i = 0; i < json_array_size(led); i++)
    labels += !strcmp(json_string_value(json_object_get(json_array_get(led, i), "type")), "label");
  cr_assert_eq(labels, 3);
  json_decref(led);
  free(lpath);
  free(fromj);
  free(body);
  free(jl);
  free(from);
  free(csv);
  free(mpath);
  free(ds);
  free(root);
}

Test(label_cli, bad_lines_all_listed_exit_2_nothing_changed)
{
  char *root, *ds = make_dataset(&root);
  char *mpath = du_fmt("%s/manifest.jsonl", ds), *lpath = du_fmt("%s/ledger.jsonl", ds);
  char *before = du_slurp(mpath), *ledger_before = du_slurp(lpath);
  char *csv = du_fmt("%s/bad.csv", root);
  char *body = du_fmt("%s/in/cat/0.ppm,cat\n"
                      "%s/in/none.ppm,cat\n"
                      "%s/in/cat/1.ppm,../etc\n"
                      "%s/in/cat/2.ppm,\"ctl\x01\"\n"
                      "\"unterminated,cat\n",
                      root, root, root, root);
  du_put(csv, body);
  char *from = du_fmt("csv:%s", csv), *err = NULL, *out = NULL;
  int rc = du_run(&out, &err, "edgeset-label", "-d", ds, "--from", from, NULL);
  cr_assert_eq(rc, 2, "%s", err);
  cr_assert(strstr(err, "line 2: unknown path"), "%s", err);
  cr_assert(strstr(err, "line 3: label '../etc'"), "%s", err);
  cr_assert(strstr(err, "line 4: label"), "%s", err);
  cr_assert(strstr(err, "line 5: malformed CSV"), "%s", err);
  cr_assert(!strstr(err, "line 1:"), "%s", err);
  cr_assert(!strncmp(err, "edgeset-label: ", 15));
  char *after = du_slurp(mpath), *ledger_after = du_slurp(lpath);
  cr_assert_str_eq(before, after);
  cr_assert_str_eq(ledger_before, ledger_after);
  free(after);
  free(ledger_after);
  free(err);
  free(out);
  /* an unknown label against --labels: exit 2, labels.txt not written */
  char *lt = du_fmt("%s/labels.txt", root);
  du_put(lt, "cat\ndog\n");
  rc = du_run(NULL, &err, "edgeset-label", "-d", ds, "--from", "dir:1", "--labels", lt, NULL);
  cr_assert_eq(rc, 2);
  cr_assert(strstr(err, "unknown label 'bird'"), "%s", err);
  char *dslt = du_fmt("%s/labels.txt", ds);
  cr_assert(access(dslt, F_OK) != 0, "labels.txt written after a refused run");
  after = du_slurp(mpath);
  cr_assert_str_eq(before, after);
  free(after);
  free(err);
  /* bad usage */
  cr_assert_eq(du_run(NULL, NULL, "edgeset-label", "-d", ds, "--from", "dir:0", NULL), 2);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-label", "-d", ds, "--rename", "x", NULL), 2);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-label", "-d", ds, NULL), 2);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-label", "-d", ds, "--from", "csv:/nonexistent", NULL), 2);
  cr_assert_eq(du_run(&out, NULL, "edgeset-label", "--help", NULL), 0);
  cr_assert(strstr(out, "--from"));
  free(out);
  free(dslt);
  free(lt);
  free(from);
  free(body);
  free(csv);
  free(before);
  free(ledger_before);
  free(mpath);
  free(lpath);
  free(ds);
  free(root);
}

Test(label_cli, balance_gates_json_and_report_in_chromium)
{
  char *root, *ds = make_dataset(&root);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-label", "-d", ds, "--from", "dir:1", "-q", NULL), 0);
  /* a class name that would be markup if it were not escaped */
  char *csv = du_fmt("%s/x.csv", root);
  char *body = du_fmt("%s/in/bird/0.ppm,<img src=x onerror=alert(1)>&amp;\n", root);
  du_put(csv, body);
  char *from = du_fmt("csv:%s", csv);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-label", "-d", ds, "--from", from, "-q", NULL), 0);
  char *out = NULL, *err = NULL;
  int rc = du_run(&out, &err, "edgeset-label", "-d", ds, "--balance", "--max-ratio", "4",
                  "--json", NULL);
  cr_assert_eq(rc, 1, "ratio 6 > 4: %s", err);
  json_t *j = json_loads(out, 0, NULL);
  json_t *b = json_object_get(j, "balance");
  cr_assert_float_eq(json_real_value(json_object_get(b, "imbalance_ratio")), 6.0, 1e-9);
  cr_assert(json_is_false(json_object_get(json_object_get(b, "gates"), "passed")));
  json_decref(j);
  free(out);
  free(err);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-label", "-d", ds, "--balance", "--max-ratio", "6",
                      "-q", NULL),
               0);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-label", "-d", ds, "--balance", "--min-count", "2",
                      "-q", NULL),
               1);
  char *report = du_fmt("%s/balance.html", root);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-label", "-d", ds, "--report", report, "-q", NULL), 0);
  char *html = du_slurp(report);
  cr_assert(strstr(html, "&lt;img src=x onerror=alert(1)&gt;&amp;amp;"), "label not escaped");
  cr_assert(!strstr(html, "<img") && !strstr(html, "<script"));
  free(html);
  if (access("/usr/bin/chromium", X_OK) != 0)
    cr_assert_fail("chromium is not installed (apt-get install chromium)");
  char *profile = tu_tmpdir(), *udd = du_fmt("--user-data-dir=%s", profile);
  char *url = du_fmt("file://%s", report);
  char *argv[] = {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", udd, "--enable-logging=stderr", "--v=0",
                  "--dump-dom", url, NULL};
  char *dom = NULL, *log = NULL;
  rc = tu_run(argv, NULL, &dom, &log);
  cr_assert_eq(rc, 0, "chromium: %s", log);
  cr_assert(strstr(dom, "<h1>Class balance</h1>"), "%s", dom);
  cr_assert(strstr(dom, "<svg"), "no chart");
  cr_assert(strstr(dom, "&lt;img src=x onerror=alert(1)&gt;&amp;amp;"), "label not in the DOM as text");
  cr_assert(!strstr(dom, "<img") && !strstr(dom, "<script"), "a label became markup");
  cr_assert(!strstr(log, "CONSOLE"), "console messages: %s", log);
  cr_assert(!strstr(log, "Uncaught"), "%s", log);
  free(dom);
  free(log);
  free(url);
  free(udd);
  free(profile);
  free(report);
  free(from);
  free(body);
  free(csv);
  free(ds);
  free(root);
}

/* Hostile values in a label source come back escaped and cut (docs/cli.md): no terminal
 * escape sequence reaches stderr, and a long invalid label is not echoed in full. */
Test(label_cli, hostile_values_are_escaped_and_cut_in_errors)
{
  char *root, *ds = make_dataset(&root);
  char *mpath = du_fmt("%s/manifest.jsonl", ds), *before = du_slurp(mpath);
  char *big = malloc(60001);
  memset(big, 'a', 60000);
  big[60000] = '\0';
  char *csv = du_fmt("%s/hostile.csv", root);
  char *body = du_fmt("%s/in/cat/0.ppm,\"\x1b]0;pwned\x07\x1b[2J\"\n"
                      "%s/in/\x1b[31mnone.ppm,cat\n"
                      "%s/in/cat/1.ppm,%s\n"
                      "%s/in/cat/2.ppm,\xc2\x9b" "2Jcat\n",
                      root, root, root, big, root);
  du_put(csv, body);
  char *from = du_fmt("csv:%s", csv), *err = NULL;
  int rc = du_run(NULL, &err, "edgeset-label", "-d", ds, "--from", from, NULL);
  cr_assert_eq(rc, 2, "%s", err);
  cr_assert_null(strchr(err, '\x1b'), "a raw ESC reached stderr");
  cr_assert_null(strchr(err, '\x07'), "a raw BEL reached stderr");
  cr_assert_null(strstr(err, "\xc2\x9b"), "a raw C1 control reached stderr");
  cr_assert(strstr(err, "line 1: label '\\x1b]0;pwned\\x07\\x1b[2J': label contains a control"),
            "%s", err);
  cr_assert(strstr(err, "line 2: unknown path or id '"), "%s", err);
  cr_assert(strstr(err, "/in/\\x1b[31mnone.ppm'"), "%s", err);
  cr_assert(strstr(err, "line 3: label 'aaaa"), "%s", err);
  cr_assert(strstr(err, "a... (59744 more bytes)': label longer than 255 bytes"), "%s", err);
  cr_assert(strstr(err, "line 4: label '\\xc2\\x9b2Jcat'"), "%s", err);
  cr_assert_lt(strlen(err), 2000, "stderr is %zu bytes", strlen(err));
  free(err);
  /* the same label from JSONL, and an id that is not one */
  char *jl = du_fmt("%s/hostile.jsonl", root);
  char *jbody = du_fmt("{\"path\":\"%s/in/cat/0.ppm\",\"label\":\"%s\"}\n"
                       "{\"id\":\"\\u001b[2J\",\"label\":\"cat\"}\n",
                       root, big);
  du_put(jl, jbody);
  char *fromj = du_fmt("jsonl:%s", jl);
  rc = du_run(NULL, &err, "edgeset-label", "-d", ds, "--from", fromj, NULL);
  cr_assert_eq(rc, 2, "%s", err);
  cr_assert_null(strchr(err, '\x1b'), "%s", err);
  cr_assert(strstr(err, "line 1: label 'aaaa"), "%s", err);
  cr_assert(strstr(err, "(59744 more bytes)"), "%s", err);
  cr_assert(strstr(err, "line 2: id '\\x1b[2J' is not 32 lowercase hex digits"), "%s", err);
  cr_assert_lt(strlen(err), 2000, "stderr is %zu bytes", strlen(err));
  free(err);
  /* option values too */
  rc = du_run(NULL, &err, "edgeset-label", "-d", ds, "--rename", "\x1b]0;x", NULL);
  cr_assert_eq(rc, 2);
  cr_assert(strstr(err, "--rename '\\x1b]0;x': expected OLD=NEW"), "%s", err);
  free(err);
  rc = du_run(NULL, &err, "edgeset-label", "-d", ds, "--rename", "cat=\x1b[2J", NULL);
  cr_assert_eq(rc, 2);
  cr_assert(strstr(err, "--rename cat=\\x1b[2J: label contains a control character"), "%s", err);
  free(err);
  char *after = du_slurp(mpath);
  cr_assert_str_eq(before, after);
  free(after);
  free(fromj);
  free(jbody);
  free(jl);
  free(from);
  free(body);
  free(csv);
  free(big);
  free(before);
  free(mpath);
  free(ds);
  free(root);
}

/* Records past the reader's limits are refused with the file and line named, without
 * materializing them, and the other lines are still checked (docs/label.md). */
Test(label_cli, oversized_records_are_refused_by_line)
{
  char *root, *ds = make_dataset(&root);
  size_t commas = 2 * 1000 * 1000;
  char *line2 = malloc(commas + 1);
  memset(line2, ',', commas);
  line2[commas] = '\0';
  char *csv = du_fmt("%s/wide.csv", root);
  char *body = du_fmt("%s/in/cat/0.ppm,cat\n%s\n%s/in/none.ppm,cat\n", root, line2, root);
  du_put(csv, body);
  char *from = du_fmt("csv:%s", csv), *err = NULL;
  int rc = du_run(NULL, &err, "edgeset-label", "-d", ds, "--from", from, NULL);
  cr_assert_eq(rc, 2, "%s", err);
  char *want = du_fmt("'%s' line 2: malformed CSV: more than 256 fields", csv);
  cr_assert(strstr(err, want), "%s", err);
  cr_assert(strstr(err, "line 3: unknown path or id"), "%s", err);
  free(want);
  free(err);
  /* a record of more than 64 KiB */
  char *field = malloc(70001);
  memset(field, 'p', 70000);
  field[70000] = '\0';
  char *body2 = du_fmt("%s,cat\n%s/in/cat/0.ppm,cat\n", field, root);
  du_put(csv, body2);
  rc = du_run(NULL, &err, "edgeset-label", "-d", ds, "--from", from, NULL);
  cr_assert_eq(rc, 2, "%s", err);
  cr_assert(strstr(err, "line 1: malformed CSV: record longer than 65536 bytes"), "%s", err);
  cr_assert_lt(strlen(err), 2000, "%s", err);
  free(err);
  /* a JSONL line of more than 64 KiB is not parsed */
  char *jl = du_fmt("%s/long.jsonl", root);
  char *jbody = du_fmt("{\"path\":\"%s\",\"label\":\"cat\"}\n"
                       "{\"path\":\"%s/in/cat/0.ppm\",\"label\":\"cat\"}\n",
                       field, root);
  du_put(jl, jbody);
  char *fromj = du_fmt("jsonl:%s", jl);
  rc = du_run(NULL, &err, "edgeset-label", "-d", ds, "--from", fromj, NULL);
  cr_assert_eq(rc, 2, "%s", err);
  want = du_fmt("'%s' line 1: line longer than 65536 bytes", jl);
  cr_assert(strstr(err, want), "%s", err);
  cr_assert(!strstr(err, "line 2"), "%s", err);
  free(want);
  free(err);
  free(fromj);
  free(jbody);
  free(jl);
  free(body2);
  free(field);
  free(from);
  free(body);
  free(csv);
  free(line2);
  free(ds);
  free(root);
}

static void replace_first(const char *path, const char *from, const char *to)
{
  char *s = du_slurp(path), *p = strstr(s, from);
  cr_assert_not_null(p, "%s not in %s", from, path);
  *p = '\0';
  char *t = du_fmt("%s%s%s", s, to, p + strlen(from));
  du_put(path, t);
  free(t);
  free(s);
}

/* A label that breaks the rule can no longer arrive through the manifest either (a hand edit):
 * the manifest reader refuses it with the line named, in label as in split. */
Test(label_cli, invalid_label_in_the_manifest_is_refused)
{
  char *root, *ds = make_dataset(&root);
  cr_assert_eq(du_run(NULL, NULL, "edgeset-label", "-d", ds, "--from", "dir:1", "-q", NULL), 0);
  char *mpath = du_fmt("%s/manifest.jsonl", ds);
  replace_first(mpath, "\"label\":\"cat\"", "\"label\":\"../x\"");
  char *err = NULL;
  int rc = du_run(NULL, &err, "edgeset-label", "-d", ds, "--balance", NULL);
  cr_assert_eq(rc, 3, "%s", err);
  cr_assert(strstr(err, "manifest.jsonl': line "), "%s", err);
  cr_assert(strstr(err, ": field 'label' is '../x': label contains '/'"), "%s", err);
  free(err);
  rc = du_run(NULL, &err, "edgeset-label", "-d", ds, "--rename", "dog=wolf", NULL);
  cr_assert_eq(rc, 3, "%s", err);
  free(err);
  rc = du_run(NULL, &err, "edgeset-split", "-d", ds, "--seed", "1", NULL);
  cr_assert_eq(rc, 3, "%s", err);
  cr_assert(strstr(err, "field 'label' is '../x'"), "%s", err);
  free(err);
  replace_first(mpath, "\"label\":\"../x\"", "\"label\":\"\\u001b]0;t\\u0007\"");
  rc = du_run(NULL, &err, "edgeset-label", "-d", ds, "--balance", NULL);
  cr_assert_eq(rc, 3, "%s", err);
  cr_assert(strstr(err, "field 'label' is '\\x1b]0;t\\x07': label contains a control"), "%s",
            err);
  cr_assert_null(strchr(err, '\x1b'));
  free(err);
  free(mpath);
  free(ds);
  free(root);
}
