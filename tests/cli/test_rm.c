/* edgeset-rm (docs/rm.md): removing a camera's items takes them, their augmented variants and
 * their objects out of the dataset for good (no byte of a removed object is left anywhere under
 * the dataset), leaves every other item's line as it was, keeps split --verify and fsck clean,
 * records ids and the reason (never paths or content) in the ledger, and makes the same bytes
 * and the same pixels come back as 'redacted' quarantine records. A run killed at any write
 * point (tombstones, quarantine, manifest, signatures, ledger, each object's deletion) is
 * completed by running it again, to the same dataset an uninterrupted run gives. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cliutil.h"
#include "testutil.h"

static char *kept[256];
static size_t nkept;

static char *keep(char *s)
{
  cr_assert_lt(nkept, 256);
  return kept[nkept++] = s;
}

static void free_kept(void)
{
  for (size_t i = 0; i < nkept; i++)
    free(kept[i]);
  nkept = 0;
}

/* cam1 and cam2 pictures, each with a sidecar naming its device and capture time. */
static void make_inputs(const char *in)
{
  for (int k = 0; k < 16; k++) {
    const char *cam = k % 2 ? "cam2" : "cam1";
    char *dir = keep(cu_fmt("%s/%s/%s", in, cam, k % 4 < 2 ? "cat" : "dog"));
    cu_mkdirs(dir);
    char *p = keep(cu_fmt("%s/p%02d.ppm", dir, k));
    cu_write_ppm(p, 40, 32, 500 + (unsigned)k * 13, 0, 0, 1.0);
    char *side = keep(cu_fmt("%s.json", p)), *js = keep(cu_fmt(
        "{\"device\":\"%s\",\"time\":\"2026-11-20T08:%02d:00Z\"}", cam, k));
    cr_assert_eq(tu_write(side, js, strlen(js)), 0);
  }
}

static int run(const char *prog, const char *const *args, char **out)
{
  char *err = NULL;
  int rc = cu_run(prog, args, NULL, out, &err);
  free(err);
  return rc;
}

static void build(const char *ds, const char *in)
{
  cr_assert_eq(run("edgeset-collect", (const char *const[]){"-d", ds, "--batch", "b1", "-q", in,
                                                            NULL}, NULL), 0);
  cr_assert_eq(run("edgeset-label", (const char *const[]){"-d", ds, "--from", "dir:1", "-q",
                                                          NULL}, NULL), 0);
  cr_assert_eq(run("edgeset-split", (const char *const[]){"-d", ds, "--ratios", "50:25:25",
                                                          "--max-ratio-error", "1", "-q", NULL},
                   NULL), 0);
  cr_assert_eq(run("edgeset-augment", (const char *const[]){"-d", ds, "--per-image", "1",
                                                            "--ops", "hflip", "-q", NULL},
                   NULL), 0);
}

/* The manifest's lines by id. */
static json_t *lines_by_id(const char *ds)
{
  json_t *m = cu_jsonl(keep(cu_fmt("%s/manifest.jsonl", ds))), *by = json_object();
  size_t i;
  json_t *it;
  json_array_foreach(m, i, it) json_object_set(by, json_string_value(json_object_get(it, "id")),
                                               it);
  json_decref(m);
  return by;
}

static int holds(const uint8_t *hay, size_t n, const uint8_t *needle, size_t k)
{
  for (size_t i = 0; i + k <= n; i++)
    if (!memcmp(hay + i, needle, k))
      return 1;
  return 0;
}

/* Asserts that no file under dir holds any of the chunks. */
static void scan_for(const char *dir, uint8_t chunks[][48], size_t n)
{
  DIR *d = opendir(dir);
  cr_assert(d, "%s", dir);
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    char *p = cu_fmt("%s/%s", dir, de->d_name);
    struct stat sb;
    cr_assert_eq(lstat(p, &sb), 0);
    if (S_ISDIR(sb.st_mode)) {
      scan_for(p, chunks, n);
    } else if (S_ISREG(sb.st_mode)) {
      size_t len;
      uint8_t *b = tu_read(p, &len);
      for (size_t k = 0; b && k < n; k++)
        cr_assert(!holds(b, len, chunks[k], 48), "%s holds bytes of a removed object", p);
      free(b);
    }
    free(p);
  }
  closedir(d);
}

/* The removed items' ids (those with a cam1 occurrence or derived from one) and a 48-byte chunk
 * of each one's object from its middle. */
static size_t removed_of(const char *ds, json_t *by, char ids[][33], uint8_t chunks[][48])
{
  size_t n = 0;
  const char *id;
  json_t *it;
  json_object_foreach(by, id, it)
  {
    const char *src = json_string_value(json_object_get(it, "src"));
    const char *from = json_string_value(json_object_get(it, "derived_from"));
    json_t *parent = from ? json_object_get(by, from) : NULL;
    const char *psrc = parent ? json_string_value(json_object_get(parent, "src")) : NULL;
    if (!(src && strstr(src, "/cam1/")) && !(psrc && strstr(psrc, "/cam1/")))
      continue;
    const char *fmt = json_string_value(json_object_get(it, "format"));
    char *obj = cu_fmt("%s/objects/%.2s/%s.%s", ds, id, id, strcmp(fmt, "jpeg") ? fmt : "jpg");
    size_t len;
    uint8_t *b = tu_read(obj, &len);
    cr_assert(b && len > 200, "%s", obj);
    memcpy(chunks[n], b + len / 2, 48);
    memcpy(ids[n++], id, 33);
    free(b);
    free(obj);
  }
  return n;
}

Test(rm, a_camera_for_good)
{
  char *root = tu_tmpdir(), *in = keep(cu_fmt("%s/in", root)), *ds = keep(cu_fmt("%s/ds", root));
  make_inputs(in);
  build(ds, in);
  json_t *before = lines_by_id(ds);
  char ids[64][33];
  uint8_t chunks[64][48];
  size_t nr = removed_of(ds, before, ids, chunks);
  cr_assert_geq(nr, 8, "only %zu items to remove", nr);
  char *out = NULL;
  cr_assert_eq(run("edgeset-rm", (const char *const[]){"-d", ds, "--device", "cam1", "--dry-run",
                                                       NULL}, &out), 0);
  cr_assert(strstr(out, "would be removed"), "%s", out);
  free(out);
  json_t *same = lines_by_id(ds);
  cr_assert(json_equal(before, same), "the dry run changed the manifest");
  json_decref(same);
  cr_assert_eq(run("edgeset-rm", (const char *const[]){"-d", ds, "--device", "cam1", "--reason",
                                                       "privacy request 7", NULL}, &out), 0);
  free(out);
  json_t *after = lines_by_id(ds);
  cr_assert_eq(json_object_size(after), json_object_size(before) - nr);
  for (size_t k = 0; k < nr; k++)
    cr_assert_null(json_object_get(after, ids[k]), "%s is still in the manifest", ids[k]);
  const char *id;
  json_t *it;
  json_object_foreach(after, id, it)
  {
    json_t *old = json_object_get(before, id);
    cr_assert_not_null(old);
    cr_assert_str_eq(json_string_value(json_object_get(it, "split")),
                     json_string_value(json_object_get(old, "split")), "%s moved", id);
    cr_assert(json_equal(json_object_get(it, "group"), json_object_get(old, "group")));
  }
  scan_for(ds, chunks, nr);
  cr_assert_eq(run("edgeset-split", (const char *const[]){"-d", ds, "--verify", "-q", NULL},
                   NULL), 0);
  cr_assert_eq(run("edgeset-fsck", (const char *const[]){"-d", ds, "--strict", NULL}, &out), 0,
               "%s", out);
  free(out);
  /* the ledger: ids and the reason, no path */
  json_t *led = cu_jsonl(keep(cu_fmt("%s/ledger.jsonl", ds)));
  json_t *last = json_array_get(led, json_array_size(led) - 1);
  cr_assert_str_eq(json_string_value(json_object_get(last, "type")), "rm");
  cr_assert_str_eq(json_string_value(json_object_get(last, "reason")), "privacy request 7");
  cr_assert_eq(json_array_size(json_object_get(last, "ids")), nr);
  char *text = json_dumps(last, 0);
  cr_assert_null(strstr(text, "cam1"), "the ledger names a path: %s", text);
  free(text);
  json_decref(led);
  /* the same files, and the same pixels in other bytes, are refused */
  char *png = keep(cu_fmt("%s/again", root));
  cu_mkdirs(png);
  cu_ppm_to_png(keep(cu_fmt("%s/cam1/cat/p00.ppm", in)), keep(cu_fmt("%s/p00.png", png)), 9);
  cr_assert_eq(run("edgeset-collect", (const char *const[]){"-d", ds, "--batch", "b2", "-q",
                                                            keep(cu_fmt("%s/cam1", in)), png,
                                                            NULL}, NULL), 0);
  json_t *q = cu_jsonl(keep(cu_fmt("%s/quarantine.jsonl", ds)));
  size_t redacted = 0, i;
  json_array_foreach(q, i, it)
  {
    if (!strcmp(json_string_value(json_object_get(it, "batch")), "b2"))
      cr_assert_str_eq(json_string_value(json_object_get(it, "code")), "redacted", "%s",
                       json_string_value(json_object_get(it, "path")));
    redacted += !strcmp(json_string_value(json_object_get(it, "code")), "redacted");
  }
  cr_assert_eq(redacted, 9, "8 cam1 files and one PNG of the same pixels: %zu", redacted);
  json_decref(q);
  json_t *final = lines_by_id(ds);
  cr_assert(json_equal(final, after), "collecting removed content changed the manifest");
  json_decref(final);
  /* a near duplicate of a removed picture (sensor noise): reported, and refused on request */
  char *near_dir = keep(cu_fmt("%s/near", root)), *near = keep(cu_fmt("%s/n.ppm", near_dir));
  cu_mkdirs(near_dir);
  cu_write_ppm(near, 40, 32, 500, 2, 99, 1.0);
  cr_assert_eq(run("edgeset-collect", (const char *const[]){"-d", ds, "--batch", "b3",
                                                            "--refuse-near-redacted", "--json",
                                                            near_dir, NULL}, &out), 0);
  cr_assert(strstr(out, "\"redacted\": 1"), "%s", out);
  free(out);
  cr_assert_eq(run("edgeset-collect", (const char *const[]){"-d", ds, "--batch", "b4", "--json",
                                                            near_dir, NULL}, &out), 0);
  cr_assert(strstr(out, "\"near_redacted\": 1") && strstr(out, "\"new_items\": 1"), "%s", out);
  free(out);
  scan_for(ds, chunks, nr);
  json_decref(before);
  json_decref(after);
  free_kept();
  free(root);
}

/* Runs edgeset-rm on ds with EDGESET_CRASH_AT=crash; returns the raw wait status. */
static int rm_crashing(const char *ds, const char *crash)
{
  char *bin = tu_bin("edgeset-rm");
  pid_t pid = fork();
  if (pid == 0) {
    setenv("EDGESET_CRASH_AT", crash, 1);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(bin, bin, "-d", ds, "--device", "cam1", (char *)NULL);
    _exit(127);
  }
  free(bin);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

Test(rm, killed_at_every_write_point_then_completed, .timeout = 600)
{
  char *root = tu_tmpdir(), *in = keep(cu_fmt("%s/in", root)), *base = keep(cu_fmt("%s/base", root));
  make_inputs(in);
  build(base, in);
  json_t *by = lines_by_id(base);
  char ids[64][33];
  uint8_t chunks[64][48];
  size_t nr = removed_of(base, by, ids, chunks);
  json_decref(by);
  /* the uninterrupted run */
  char *ref = keep(cu_fmt("%s/ref", root));
  char *cmd = keep(cu_fmt("cp -a '%s' '%s'", base, ref));
  cr_assert_eq(system(cmd), 0);
  cr_assert_eq(run("edgeset-rm", (const char *const[]){"-d", ref, "--device", "cam1", NULL},
                   NULL), 0);
  size_t rlen;
  char *want = (char *)tu_read(keep(cu_fmt("%s/manifest.jsonl", ref)), &rlen);
  static const char *const points[] = {
      "tombstones-torn:1", "tombstones-append:1", "quarantine-data:1", "quarantine-rename:1",
      "signatures-data:1", "manifest-data:1",     "manifest-rename:1", "ledger-append:1",
      "object-delete:1",   "object-delete:5",     "index-data:1"};
  size_t killed = 0;
  for (size_t k = 0; k < sizeof points / sizeof *points; k++) {
    char *ds = keep(cu_fmt("%s/k%zu", root, k));
    cmd = keep(cu_fmt("cp -a '%s' '%s'", base, ds));
    cr_assert_eq(system(cmd), 0);
    int st = rm_crashing(ds, points[k]);
    killed += WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
    /* the re-run completes it */
    cr_assert_eq(run("edgeset-rm", (const char *const[]){"-d", ds, "--device", "cam1", NULL},
                     NULL), 0, "after %s", points[k]);
    size_t len;
    char *got = (char *)tu_read(keep(cu_fmt("%s/manifest.jsonl", ds)), &len);
    cr_assert(len == rlen && !memcmp(got, want, len), "after %s the manifest differs",
              points[k]);
    free(got);
    scan_for(ds, chunks, nr);
    char *out = NULL;
    cr_assert_eq(run("edgeset-fsck", (const char *const[]){"-d", ds, NULL}, &out), 0,
                 "after %s: %s", points[k], out);
    free(out);
  }
  cr_assert_geq(killed, 8, "only %zu of the points were reached", killed);
  free(want);
  free_kept();
  free(root);
}
