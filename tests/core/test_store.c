/* Tests of the dataset store: creating and opening datasets (settings, version and non-dataset
 * refusal), atomic replace under SIGKILL, object storage with verification and repair, the
 * append-only JSONL files with torn tails, and the flock between real processes, including a
 * holder killed with SIGKILL. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/hash.h"
#include "core/store.h"
#include "testutil.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void rm_tree(char *dir)
{
  if (dir)
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(dir);
}

static char *path_in(const char *dir, const char *rel)
{
  size_t n = strlen(dir) + strlen(rel) + 2;
  char *p = malloc(n);
  cr_assert_not_null(p);
  snprintf(p, n, "%s/%s", dir, rel);
  return p;
}

static int exists(const char *dir, const char *rel)
{
  char *p = path_in(dir, rel);
  struct stat sb;
  int r = stat(p, &sb) == 0;
  free(p);
  return r;
}

static char *read_text(const char *dir, const char *rel)
{
  char *p = path_in(dir, rel);
  size_t n = 0;
  uint8_t *b = tu_read(p, &n);
  free(p);
  if (!b)
    return NULL;
  char *s = malloc(n + 1);
  cr_assert_not_null(s);
  memcpy(s, b, n);
  s[n] = '\0';
  free(b);
  return s;
}

static void write_text(const char *dir, const char *rel, const char *text)
{
  char *p = path_in(dir, rel);
  cr_assert_eq(tu_write(p, text, strlen(text)), 0, "cannot write %s", p);
  free(p);
}

/* A fresh dataset in a fresh temporary directory; *tmp is the parent to remove afterwards. */
static char *new_dataset(es_store *st, char **tmp)
{
  *tmp = tu_tmpdir();
  cr_assert_not_null(*tmp);
  char *root = path_in(*tmp, "ds");
  es_error err = {0};
  int rc = es_store_open(st, root, 1, NULL, &err);
  cr_assert_eq(rc, ES_OK, "open: %s", err.msg);
  return root;
}

static size_t count_entries(const char *dir, const char *rel)
{
  char *p = path_in(dir, rel);
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "ls -A '%s' 2>/dev/null | wc -l", p);
  free(p);
  FILE *f = popen(cmd, "r");
  cr_assert_not_null(f);
  size_t n = 0;
  cr_assert_eq(fscanf(f, "%zu", &n), 1);
  pclose(f);
  return n;
}

Test(store, create_writes_settings_and_layout)
{
  char *tmp = tu_tmpdir();
  char *root = path_in(tmp, "ds");
  es_settings s;
  es_settings_default(&s);
  cr_assert_eq(s.near, ES_DEFAULT_NEAR);
  cr_assert_eq(s.max_pixels, 100000000u);
  cr_assert_eq(s.max_file_bytes, 536870912u);
  cr_assert_eq(s.jpeg_fancy_upsampling, 1);
  cr_assert_eq(s.jpeg_dct_float, 0);
  s.near = 7;
  s.jpeg_dct_float = 1;
  s.jpeg_fancy_upsampling = 0;
  es_store st;
  es_error err = {0};
  cr_assert_eq(es_store_open(&st, root, 1, &s, &err), ES_OK, "%s", err.msg);
  cr_assert(exists(root, "objects") && exists(root, "reports"));
  char *text = read_text(root, "edgeset.json");
  cr_assert_str_eq(text, "{\n"
                         "  \"format\": \"edgeset-dataset\",\n"
                         "  \"version\": 2,\n"
                         "  \"settings\": {\n"
                         "    \"near\": 7,\n"
                         "    \"near_score\": 850,\n"
                         "    \"near_score_small\": 990,\n"
                         "    \"max_pixels\": 100000000,\n"
                         "    \"max_file_bytes\": 536870912,\n"
                         "    \"jpeg_fancy_upsampling\": false,\n"
                         "    \"jpeg_dct\": \"float\"\n"
                         "  }\n"
                         "}\n");
  free(text);
  es_store_close(&st);
  es_store_close(&st); /* closing twice is harmless */

  /* An existing dataset keeps its own settings whatever the opener asks for. */
  es_settings other;
  es_settings_default(&other);
  cr_assert_eq(es_store_open(&st, root, 1, &other, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(st.settings.near, 7);
  cr_assert_eq(st.settings.jpeg_dct_float, 1);
  cr_assert_eq(st.settings.jpeg_fancy_upsampling, 0);
  es_store_close(&st);
  cr_assert_eq(es_store_open(&st, root, 0, NULL, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(st.settings.near, 7);
  es_store_close(&st);
  es_store_close(NULL);
  free(root);
  rm_tree(tmp);
}

Test(store, missing_dataset_without_create)
{
  char *tmp = tu_tmpdir();
  char *root = path_in(tmp, "nothing");
  es_store st;
  es_error err = {0};
  cr_assert_eq(es_store_open(&st, root, 0, NULL, &err), ES_ENOTFOUND);
  cr_assert(strstr(err.msg, "does not exist"), "%s", err.msg);
  cr_assert(!exists(root, "."));
  free(root);
  rm_tree(tmp);
}

Test(store, refuses_directories_that_are_not_datasets)
{
  char *tmp = tu_tmpdir();
  es_store st;
  es_error err = {0};
  /* An empty directory is not a dataset unless we are asked to create one. */
  cr_assert_eq(es_store_open(&st, tmp, 0, NULL, &err), ES_EUSAGE);
  cr_assert(strstr(err.msg, "is not an edgeset dataset (no edgeset.json)"), "%s", err.msg);
  write_text(tmp, "holiday.jpg", "not ours");
  cr_assert_eq(es_store_open(&st, tmp, 1, NULL, &err), ES_EUSAGE);
  cr_assert(strstr(err.msg, "not an edgeset dataset (no edgeset.json) and is not empty"), "%s",
            err.msg);
  cr_assert(!exists(tmp, "edgeset.json"));
  cr_assert(!exists(tmp, "objects"));
  /* A plain file is not a dataset directory. */
  char *f = path_in(tmp, "holiday.jpg");
  cr_assert_eq(es_store_open(&st, f, 1, NULL, &err), ES_EUSAGE, "%s", err.msg);
  free(f);
  rm_tree(tmp);
}

Test(store, version_1_has_no_second_stage_until_rewritten)
{
  char *tmp = tu_tmpdir();
  write_text(tmp, "edgeset.json",
             "{\"format\":\"edgeset-dataset\",\"version\":1,\"settings\":{\"near\":10,"
             "\"max_pixels\":1000,\"max_file_bytes\":1000,\"jpeg_fancy_upsampling\":true,"
             "\"jpeg_dct\":\"islow\"}}\n");
  es_store st;
  es_error err = {0};
  cr_assert_eq(es_store_open(&st, tmp, 0, NULL, &err), ES_OK, "%s", err.msg);
  es_near_rel rel;
  cr_assert_eq(es_settings_relation(&st.settings, &rel), 0, "a version 1 dataset: phash alone");
  cr_assert_eq(rel.radius, 10);
  cr_assert_eq(es_store_lock(&st, 1, &err), ES_OK);
  es_settings s = st.settings;
  s.near = ES_DEFAULT_NEAR;
  s.near_score = ES_DEFAULT_NEAR_SCORE;
  s.near_score_small = ES_DEFAULT_NEAR_SCORE_SMALL;
  cr_assert_eq(es_store_rewrite_settings(&st, &s, &err), ES_OK, "%s", err.msg);
  es_store_close(&st);
  cr_assert_eq(es_store_open(&st, tmp, 0, NULL, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(es_settings_relation(&st.settings, &rel), 1);
  cr_assert_eq(rel.radius, ES_DEFAULT_NEAR);
  cr_assert_eq(rel.score_large, ES_DEFAULT_NEAR_SCORE);
  cr_assert_eq(st.settings.max_pixels, 1000, "the other settings are kept");
  es_store_close(&st);
  /* version 2 needs both scores; version 1 knows none */
  write_text(tmp, "edgeset.json",
             "{\"format\":\"edgeset-dataset\",\"version\":2,\"settings\":{\"near\":16,"
             "\"near_score\":850,\"max_pixels\":1000,\"max_file_bytes\":1000,"
             "\"jpeg_fancy_upsampling\":true,\"jpeg_dct\":\"islow\"}}\n");
  cr_assert_eq(es_store_open(&st, tmp, 0, NULL, &err), ES_EFORMAT);
  cr_assert(strstr(err.msg, "near_score_small"), "%s", err.msg);
  write_text(tmp, "edgeset.json",
             "{\"format\":\"edgeset-dataset\",\"version\":1,\"settings\":{\"near\":16,"
             "\"near_score\":850,\"max_pixels\":1000,\"max_file_bytes\":1000,"
             "\"jpeg_fancy_upsampling\":true,\"jpeg_dct\":\"islow\"}}\n");
  cr_assert_eq(es_store_open(&st, tmp, 0, NULL, &err), ES_EFORMAT);
  cr_assert(strstr(err.msg, "unknown setting 'near_score'"), "%s", err.msg);
  rm_tree(tmp);
}

Test(store, refuses_newer_version)
{
  char *tmp = tu_tmpdir();
  write_text(tmp, "edgeset.json",
             "{\"format\":\"edgeset-dataset\",\"version\":3,\"settings\":{\"near\":3}}\n");
  es_store st;
  es_error err = {0};
  cr_assert_eq(es_store_open(&st, tmp, 1, NULL, &err), ES_EVERSION);
  char want[4200];
  snprintf(want, sizeof want,
           "dataset '%s' has format version 3; this edgeset reads version 2: upgrade edgeset",
           tmp);
  cr_assert_str_eq(err.msg, want);
  rm_tree(tmp);
}

Test(store, rejects_malformed_settings)
{
  static const struct {
    const char *text, *why;
  } cases[] = {
      {"{\"format\":\"something-else\",\"version\":1,\"settings\":{}}", "not an edgeset dataset"},
      {"{\"format\":\"edgeset-dataset\",\"version\":0,\"settings\":{}}", "'version'"},
      {"{\"format\":\"edgeset-dataset\",\"version\":1}", "'settings' is not an object"},
      {"{\"format\":\"edgeset-dataset\",\"version\":1,\"settings\":{\"near\":65}}",
       "setting 'near' must be"},
      {"{\"format\":\"edgeset-dataset\",\"version\":1,\"settings\":{\"near\":5,\"zoom\":1}}",
       "unknown setting 'zoom'"},
      {"{\"format\":\"edgeset-dataset\",\"version\":1,\"settings\":{\"near\":5}}",
       "setting 'max_pixels' is missing"},
      {"{\"format\":\"edgeset-dataset\",\"version\":1,\"settings\":{\"near\":5,\"max_pixels\":1,"
       "\"max_file_bytes\":1,\"jpeg_fancy_upsampling\":true,\"jpeg_dct\":\"fast\"}}",
       "setting 'jpeg_dct' must be"},
      {"{\"format\":", "edgeset.json' line 1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *tmp = tu_tmpdir();
    write_text(tmp, "edgeset.json", cases[i].text);
    es_store st;
    es_error err = {0};
    cr_assert_eq(es_store_open(&st, tmp, 0, NULL, &err), ES_EFORMAT, "case %zu", i);
    cr_assert(strstr(err.msg, cases[i].why), "case %zu: %s", i, err.msg);
    rm_tree(tmp);
  }
}

Test(store, read_and_replace)
{
  es_store st;
  char *tmp;
  char *root = new_dataset(&st, &tmp);
  es_error err = {0};
  uint8_t *buf = (uint8_t *)"x";
  size_t len = 9;
  cr_assert_eq(es_store_read(&st, "manifest.jsonl", 1, &buf, &len, &err), ES_OK);
  cr_assert_null(buf);
  cr_assert_eq(len, 0);
  cr_assert_eq(es_store_read(&st, "manifest.jsonl", 0, &buf, &len, &err), ES_ENOTFOUND);

  cr_assert_eq(es_store_replace(&st, "manifest.jsonl", "one\n", 4, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(es_store_replace(&st, "manifest.jsonl", "two two\n", 8, &err), ES_OK);
  cr_assert_eq(es_store_read(&st, "manifest.jsonl", 0, &buf, &len, &err), ES_OK);
  cr_assert_eq(len, 8);
  cr_assert_str_eq((char *)buf, "two two\n");
  free(buf);
  /* An empty file is present, unlike a missing one. */
  cr_assert_eq(es_store_replace(&st, "reports/new/empty.html", "", 0, &err), ES_OK, "%s",
               err.msg);
  cr_assert_eq(es_store_read(&st, "reports/new/empty.html", 0, &buf, &len, &err), ES_OK);
  cr_assert_not_null(buf);
  cr_assert_eq(len, 0);
  free(buf);
  /* No temporaries are left behind. */
  cr_assert_eq(count_entries(root, ".tmp"), 0);
  /* Names cannot leave the dataset. */
  cr_assert_eq(es_store_replace(&st, "../escape", "x", 1, &err), ES_EINTERNAL);
  cr_assert_eq(es_store_replace(&st, "/etc/passwd", "x", 1, &err), ES_EINTERNAL);
  cr_assert_eq(es_store_replace(&st, "reports//x", "x", 1, &err), ES_EINTERNAL);
  cr_assert_eq(es_store_read(&st, "reports/../../x", 1, &buf, &len, &err), ES_EINTERNAL);
  cr_assert(!exists(tmp, "escape"));
  es_store_close(&st);
  free(root);
  rm_tree(tmp);
}

/* A writer replacing a file over and over is SIGKILLed at random instants: the file always
 * holds one whole version, and the next lock clears the dead writer's temporary. */
Test(store, replace_survives_sigkill)
{
  es_store st;
  char *tmp;
  char *root = new_dataset(&st, &tmp);
  es_error err = {0};
  size_t na = 200000, nb = 300000;
  char *a = malloc(na), *b = malloc(nb);
  cr_assert(a && b);
  memset(a, 'a', na);
  memset(b, 'b', nb);
  cr_assert_eq(es_store_replace(&st, "manifest.jsonl", a, na, &err), ES_OK);
  srand(12345);
  int killed_mid_write = 0;
  for (int round = 0; round < 12; round++) {
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
      close(go[0]);
      es_store cst;
      if (es_store_open(&cst, root, 0, NULL, NULL) != ES_OK)
        _exit(3);
      if (write(go[1], "g", 1) != 1)
        _exit(3);
      for (unsigned i = 0;; i++)
        if (es_store_replace(&cst, "manifest.jsonl", i & 1 ? b : a, i & 1 ? nb : na, NULL))
          _exit(4);
    }
    close(go[1]);
    char c;
    cr_assert_eq(read(go[0], &c, 1), 1);
    close(go[0]);
    struct timespec ts = {0, (long)(1 + rand() % 15) * 1000000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "writer exited by itself with status %d", status);
    killed_mid_write += count_entries(root, ".tmp") > 0;
    uint8_t *got;
    size_t len;
    cr_assert_eq(es_store_read(&st, "manifest.jsonl", 0, &got, &len, &err), ES_OK);
    if (len == na)
      cr_assert(memcmp(got, a, na) == 0, "round %d: torn a", round);
    else
      cr_assert(len == nb && memcmp(got, b, nb) == 0, "round %d: %zu bytes", round, len);
    free(got);
    cr_assert_eq(es_store_lock(&st, 1, &err), ES_OK, "%s", err.msg);
    cr_assert_eq(count_entries(root, ".tmp"), 0, "round %d: stale temporary kept", round);
    es_store_unlock(&st);
  }
  cr_log_info("killed during a write in %d of 12 rounds", killed_mid_write);
  free(a);
  free(b);
  es_store_close(&st);
  free(root);
  rm_tree(tmp);
}

Test(store, stale_temporaries_of_dead_processes_only_are_removed)
{
  es_store st;
  char *tmp;
  char *root = new_dataset(&st, &tmp);
  es_error err = {0};
  pid_t dead = fork();
  if (dead == 0)
    _exit(0);
  waitpid(dead, NULL, 0);
  char name[64];
  char *tdir = path_in(root, ".tmp");
  cr_assert(mkdir(tdir, 0777) == 0 || errno == EEXIST);
  free(tdir);
  snprintf(name, sizeof name, ".tmp/%ld.%ld.tmp", (long)dead, (long)dead);
  write_text(root, name, "half");
  snprintf(name, sizeof name, ".tmp/%ld.77.tmp", (long)getppid());
  write_text(root, name, "in flight");
  write_text(root, ".tmp/notes.txt", "not a temporary of ours");
  cr_assert_eq(es_store_lock(&st, 0, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(count_entries(root, ".tmp"), 2);
  cr_assert(exists(root, name));
  cr_assert(exists(root, ".tmp/notes.txt"));
  es_store_close(&st);
  free(root);
  rm_tree(tmp);
}

Test(store, hash_hex_is_canonical_xxh3_128)
{
  char hex[33];
  es_hash_hex("", 0, hex);
  cr_assert_str_eq(hex, "99aa06d3014798d86001c324468d497f"); /* xxhsum -H2 of an empty file */
  const char *msg = "edgeset";
  es_hash_hex(msg, strlen(msg), hex);
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits(msg, strlen(msg)));
  char want[33];
  for (int i = 0; i < 16; i++)
    snprintf(want + 2 * i, 3, "%02x", c.digest[i]);
  cr_assert_str_eq(hex, want);

  /* The streaming form gives the same digest. */
  char *tmp = tu_tmpdir();
  char *p = path_in(tmp, "f");
  size_t n = 200000;
  uint8_t *big = malloc(n);
  for (size_t i = 0; i < n; i++)
    big[i] = (uint8_t)(i * 2654435761u >> 13);
  cr_assert_eq(tu_write(p, big, n), 0);
  int fd = open(p, O_RDONLY);
  uint64_t size = 0;
  char hex2[33];
  cr_assert_eq(es_hash_fd_hex(fd, &size, hex2, NULL), ES_OK);
  close(fd);
  es_hash_hex(big, n, hex);
  cr_assert_str_eq(hex, hex2);
  cr_assert_eq(size, n);
  free(big);
  free(p);
  rm_tree(tmp);
}

Test(store, put_object_copy_verify_and_repair)
{
  es_store st;
  char *tmp;
  char *root = new_dataset(&st, &tmp);
  es_error err = {0};
  const char *bytes = "\x89PNG not really, but bytes are bytes";
  size_t n = strlen(bytes);
  char id[33], want[80];
  es_hash_hex(bytes, n, id);
  snprintf(want, sizeof want, "objects/%.2s/%s.png", id, id);
  char *rel = NULL;
  cr_assert_eq(es_store_put_object(&st, id, "png", (const uint8_t *)bytes, n, NULL, NULL, &rel,
                                   &err),
               ES_OK, "%s", err.msg);
  cr_assert_str_eq(rel, want);
  free(rel);
  char *got = read_text(root, want);
  cr_assert_str_eq(got, bytes);
  free(got);

  /* Intact: kept as it is (same inode). */
  char *full = path_in(root, want);
  struct stat s1, s2;
  cr_assert_eq(stat(full, &s1), 0);
  cr_assert_eq(es_store_put_object(&st, id, "png", (const uint8_t *)bytes, n, NULL, "copy", NULL,
                                   &err),
               ES_OK);
  cr_assert_eq(stat(full, &s2), 0);
  cr_assert_eq(s1.st_ino, s2.st_ino);

  /* Truncated, then same size but a flipped byte: both rewritten. */
  cr_assert_eq(truncate(full, 5), 0);
  cr_assert_eq(es_store_put_object(&st, id, "png", (const uint8_t *)bytes, n, NULL, "copy", NULL,
                                   &err),
               ES_OK);
  got = read_text(root, want);
  cr_assert_str_eq(got, bytes);
  free(got);
  char *damaged = strdup(bytes);
  damaged[10] ^= 1;
  write_text(root, want, damaged);
  free(damaged);
  cr_assert_eq(es_store_put_object(&st, id, "png", (const uint8_t *)bytes, n, NULL, "copy", NULL,
                                   &err),
               ES_OK);
  got = read_text(root, want);
  cr_assert_str_eq(got, bytes);
  free(got);

  /* Bytes that do not hash to the id, bad ids, extensions and modes are refused. */
  cr_assert_eq(es_store_put_object(&st, id, "png", (const uint8_t *)"other", 5, NULL, NULL, NULL,
                                   &err),
               ES_EINTERNAL);
  cr_assert(strstr(err.msg, "not to its id"), "%s", err.msg);
  cr_assert_eq(es_store_put_object(&st, "ABC", "png", (const uint8_t *)bytes, n, NULL, NULL,
                                   NULL, &err),
               ES_EINTERNAL);
  cr_assert_eq(es_store_put_object(&st, id, "../x", (const uint8_t *)bytes, n, NULL, NULL, NULL,
                                   &err),
               ES_EINTERNAL);
  cr_assert_eq(es_store_put_object(&st, id, "png", (const uint8_t *)bytes, n, NULL, "move", NULL,
                                   &err),
               ES_EUSAGE);
  cr_assert(strstr(err.msg, "unknown store mode 'move'"), "%s", err.msg);
  cr_assert_eq(count_entries(root, ".tmp"), 0);
  free(full);
  es_store_close(&st);
  free(root);
  rm_tree(tmp);
}

Test(store, put_object_link_and_ref)
{
  es_store st;
  char *tmp;
  char *root = new_dataset(&st, &tmp);
  es_error err = {0};
  const char *bytes = "JFIF-ish frame from camera 7";
  size_t n = strlen(bytes);
  char id[33], rel1[80];
  es_hash_hex(bytes, n, id);
  snprintf(rel1, sizeof rel1, "objects/%.2s/%s.jpg", id, id);
  char *src = path_in(tmp, "frame.jpg");
  write_text(tmp, "frame.jpg", bytes);

  /* ref stores nothing. */
  char *rel = (char *)"sentinel";
  cr_assert_eq(es_store_put_object(&st, id, "jpg", (const uint8_t *)bytes, n, src, "ref", &rel,
                                   &err),
               ES_OK);
  cr_assert_null(rel);
  cr_assert(!exists(root, rel1));

  /* link on the same file system: the object is the source's inode. */
  cr_assert_eq(es_store_put_object(&st, id, "jpg", (const uint8_t *)bytes, n, src, "link", &rel,
                                   &err),
               ES_OK, "%s", err.msg);
  cr_assert_str_eq(rel, rel1);
  free(rel);
  char *full = path_in(root, rel1);
  struct stat ss, so;
  cr_assert_eq(stat(src, &ss), 0);
  cr_assert_eq(stat(full, &so), 0);
  cr_assert_eq(ss.st_ino, so.st_ino);
  cr_assert_eq(ss.st_nlink, 2);

  /* A source that changed after it was hashed is not linked: the bytes are copied. */
  const char *b2 = "second frame";
  char id2[33], rel2[80];
  es_hash_hex(b2, strlen(b2), id2);
  snprintf(rel2, sizeof rel2, "objects/%.2s/%s.jpg", id2, id2);
  char *src2 = path_in(tmp, "frame2.jpg");
  write_text(tmp, "frame2.jpg", "second frame, edited since");
  cr_assert_eq(es_store_put_object(&st, id2, "jpg", (const uint8_t *)b2, strlen(b2), src2,
                                   "link", NULL, &err),
               ES_OK, "%s", err.msg);
  char *full2 = path_in(root, rel2);
  cr_assert_eq(stat(src2, &ss), 0);
  cr_assert_eq(stat(full2, &so), 0);
  cr_assert_neq(ss.st_ino, so.st_ino);
  char *got = read_text(root, rel2);
  cr_assert_str_eq(got, b2);
  free(got);
  /* A source that does not exist falls back to a copy too. */
  const char *b3 = "third";
  char id3[33];
  es_hash_hex(b3, 5, id3);
  cr_assert_eq(es_store_put_object(&st, id3, "jpg", (const uint8_t *)b3, 5, "/nonexistent/x",
                                   "link", NULL, &err),
               ES_OK, "%s", err.msg);
  cr_assert_eq(count_entries(root, ".tmp"), 0);
  free(full);
  free(full2);
  free(src);
  free(src2);
  es_store_close(&st);
  free(root);
  rm_tree(tmp);
}

static int collect_lines(const json_t *rec, void *ctx, es_error *err)
{
  (void)err;
  char *s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
  char *acc = ctx;
  strcat(acc, s);
  strcat(acc, "|");
  free(s);
  return 0;
}

Test(store, append_requires_lock_and_cuts_torn_tail)
{
  es_store st;
  char *tmp;
  char *root = new_dataset(&st, &tmp);
  es_error err = {0};
  json_t *r1 = json_pack("{s:s, s:i}", "type", "batch", "n", 1);
  json_t *r2 = json_pack("{s:s, s:f}", "type", "eval", "accuracy", 0.1 + 0.2);
  cr_assert_eq(es_store_append(&st, "ledger.jsonl", r1, &err), ES_EINTERNAL);
  cr_assert(strstr(err.msg, "without holding the dataset lock"), "%s", err.msg);
  cr_assert_eq(es_store_lock(&st, 0, &err), ES_OK);
  cr_assert_eq(es_store_append(&st, "ledger.jsonl", r1, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(es_store_append(&st, "ledger.jsonl", r2, &err), ES_OK, "%s", err.msg);
  char *text = read_text(root, "ledger.jsonl");
  cr_assert_str_eq(text, "{\"type\":\"batch\",\"n\":1}\n{\"type\":\"eval\",\"accuracy\":0.3}\n");
  free(text);

  /* A killed writer left half a line: readers skip it, the next append cuts it off. */
  char *p = path_in(root, "ledger.jsonl");
  FILE *f = fopen(p, "ab");
  fputs("{\"type\":\"lab", f);
  fclose(f);
  char acc[1024] = "";
  cr_assert_eq(es_store_read_jsonl(&st, "ledger.jsonl", collect_lines, acc, &err), ES_OK, "%s",
               err.msg);
  cr_assert_str_eq(acc, "{\"n\":1,\"type\":\"batch\"}|{\"accuracy\":0.3,\"type\":\"eval\"}|");
  cr_assert_eq(es_store_append(&st, "ledger.jsonl", r1, &err), ES_OK, "%s", err.msg);
  text = read_text(root, "ledger.jsonl");
  cr_assert_str_eq(text, "{\"type\":\"batch\",\"n\":1}\n{\"type\":\"eval\",\"accuracy\":0.3}\n"
                         "{\"type\":\"batch\",\"n\":1}\n");
  free(text);

  /* Even a complete record without its newline was never committed. */
  f = fopen(p, "ab");
  fputs("{\"type\":\"label\"}", f);
  fclose(f);
  acc[0] = '\0';
  cr_assert_eq(es_store_read_jsonl(&st, "ledger.jsonl", collect_lines, acc, &err), ES_OK);
  cr_assert_eq(strlen(acc), strlen("{\"n\":1,\"type\":\"batch\"}|{\"accuracy\":0.3,\"type\":"
                                   "\"eval\"}|{\"n\":1,\"type\":\"batch\"}|"));
  /* A file that is nothing but a torn line is emptied before the append. */
  write_text(root, "quarantine.jsonl", "{\"path\":\"x");
  cr_assert_eq(es_store_append(&st, "quarantine.jsonl", r2, &err), ES_OK);
  text = read_text(root, "quarantine.jsonl");
  cr_assert_str_eq(text, "{\"type\":\"eval\",\"accuracy\":0.3}\n");
  free(text);
  /* A missing file reads as no records. */
  acc[0] = '\0';
  cr_assert_eq(es_store_read_jsonl(&st, "absent.jsonl", collect_lines, acc, &err), ES_OK);
  cr_assert_str_eq(acc, "");
  json_decref(r1);
  json_decref(r2);
  free(p);
  es_store_close(&st);
  free(root);
  rm_tree(tmp);
}

static int stop_at_second(const json_t *rec, void *ctx, es_error *err)
{
  (void)rec;
  int *n = ctx;
  if (++*n == 2)
    return es_error_set(err, ES_EUSAGE, "stop");
  return 0;
}

Test(store, read_jsonl_reports_malformed_lines)
{
  es_store st;
  char *tmp;
  char *root = new_dataset(&st, &tmp);
  es_error err = {0};
  write_text(root, "ledger.jsonl", "{\"a\":1}\n\n{\"a\":2,}\n{\"a\":3}\n");
  char acc[256] = "";
  cr_assert_eq(es_store_read_jsonl(&st, "ledger.jsonl", collect_lines, acc, &err), ES_EFORMAT);
  char want[4200];
  snprintf(want, sizeof want, "'%s/ledger.jsonl' line 3: ", root);
  cr_assert(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
  write_text(root, "ledger.jsonl", "{\"a\":1}\n[1,2]\n");
  cr_assert_eq(es_store_read_jsonl(&st, "ledger.jsonl", collect_lines, acc, &err), ES_EFORMAT);
  cr_assert(strstr(err.msg, "line 2: not a JSON object"), "%s", err.msg);
  /* The callback's own error stops the walk and is passed on. */
  write_text(root, "ledger.jsonl", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
  int n = 0;
  cr_assert_eq(es_store_read_jsonl(&st, "ledger.jsonl", stop_at_second, &n, &err), ES_EUSAGE);
  cr_assert_eq(n, 2);
  es_store_close(&st);
  free(root);
  rm_tree(tmp);
}

Test(store, lock_is_exclusive_between_stores)
{
  es_store a, b;
  char *tmp;
  char *root = new_dataset(&a, &tmp);
  es_error err = {0};
  cr_assert_eq(es_store_open(&b, root, 0, NULL, &err), ES_OK);
  cr_assert_eq(es_store_lock(&a, 0, &err), ES_OK);
  cr_assert_eq(es_store_lock(&a, 0, &err), ES_OK); /* already held: no-op */
  cr_assert_eq(es_store_lock(&b, 0, &err), ES_EIO);
  cr_assert(strstr(err.msg, "is locked by another process"), "%s", err.msg);
  es_store_unlock(&a);
  cr_assert_eq(es_store_lock(&b, 0, &err), ES_OK, "%s", err.msg);
  es_store_close(&b); /* closing releases the lock */
  cr_assert_eq(es_store_lock(&a, 0, &err), ES_OK, "%s", err.msg);
  es_store_close(&a);
  free(root);
  rm_tree(tmp);
}

/* es_store_lock_ex(): "busy" tells another holder from a failure to lock at all, and a reader's
 * (shared) lock waits for writers only, allows no appends and deletes no temporaries. */
Test(store, lock_ex_tells_busy_from_failure_and_shares_readers)
{
  es_store a, b, c;
  char *tmp;
  char *root = new_dataset(&a, &tmp);
  es_error err = {0};
  cr_assert_eq(es_store_open(&b, root, 0, NULL, &err), ES_OK);
  cr_assert_eq(es_store_open(&c, root, 0, NULL, &err), ES_OK);
  int busy = -1;
  cr_assert_eq(es_store_lock_ex(&a, 0, &busy, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(busy, 0);
  /* Held by a writer: busy, for a writer and for a reader. */
  cr_assert_eq(es_store_lock_ex(&b, 0, &busy, &err), ES_EIO);
  cr_assert_eq(busy, 1);
  cr_assert(strstr(err.msg, "is locked by another process"), "%s", err.msg);
  cr_assert_eq(es_store_lock_ex(&b, ES_LOCK_SHARED, &busy, &err), ES_EIO);
  cr_assert_eq(busy, 1);
  es_store_unlock(&a);
  /* Readers share; a writer waits for them. */
  cr_assert_eq(es_store_lock_ex(&b, ES_LOCK_SHARED, &busy, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(es_store_lock_ex(&c, ES_LOCK_SHARED | ES_LOCK_WAIT, NULL, &err), ES_OK, "%s",
               err.msg);
  cr_assert_eq(es_store_lock_ex(&a, 0, &busy, &err), ES_EIO);
  cr_assert_eq(busy, 1);
  /* A reader's lock allows no appends and does not become a writer's. */
  json_t *r = json_pack("{s:s}", "type", "x");
  cr_assert_eq(es_store_append(&b, "ledger.jsonl", r, &err), ES_EINTERNAL);
  cr_assert(strstr(err.msg, "without holding the dataset lock"), "%s", err.msg);
  cr_assert_eq(es_store_lock_ex(&b, 0, &busy, &err), ES_EINTERNAL);
  cr_assert_eq(es_store_lock_ex(&b, ES_LOCK_SHARED, &busy, &err), ES_OK); /* held: no-op */
  /* A dead writer's temporary is left to the next writer. */
  char *tdir = path_in(root, ".tmp");
  mkdir(tdir, 0777);
  free(tdir);
  write_text(root, ".tmp/999999999.1.tmp", "stale");
  es_store_unlock(&c);
  es_store_close(&b);
  cr_assert(exists(root, ".tmp/999999999.1.tmp"), "a reader deleted a temporary");
  cr_assert_eq(es_store_lock_ex(&a, ES_LOCK_WAIT, NULL, &err), ES_OK, "%s", err.msg);
  cr_assert(!exists(root, ".tmp/999999999.1.tmp"), "the writer kept a dead writer's temporary");
  cr_assert_eq(es_store_append(&a, "ledger.jsonl", r, &err), ES_OK, "%s", err.msg);
  es_store_close(&a);
  es_store_close(&c);

  /* A lock that cannot be taken at all (here .lock is a directory; on a read-only file system
   * it is EROFS) is not "busy": the caller reports the reason instead of waiting. */
  char *lock = path_in(root, ".lock");
  cr_assert_eq(unlink(lock), 0);
  cr_assert_eq(mkdir(lock, 0777), 0);
  cr_assert_eq(es_store_open(&a, root, 0, NULL, &err), ES_OK);
  busy = -1;
  cr_assert_eq(es_store_lock_ex(&a, 0, &busy, &err), ES_EIO);
  cr_assert_eq(busy, 0);
  char *want = NULL;
  cr_assert(asprintf(&want, "cannot lock '%s/.lock': ", root) > 0);
  cr_assert(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
  free(want);
  es_store_close(&a);
  rmdir(lock);
  free(lock);
  json_decref(r);
  free(root);
  rm_tree(tmp);
}

static int hook_calls;
static const char *hook_root;

/* The hook runs with the new bytes durable in a temporary and the old file still in place. */
static int check_before_rename(void *ctx, es_error *err)
{
  hook_calls++;
  char *text = read_text(hook_root, "manifest.jsonl");
  cr_assert_str_eq(text, "old\n", "the hook ran after the rename");
  free(text);
  cr_assert_eq(count_entries(hook_root, ".tmp"), 1, "the new bytes are not in a temporary");
  return ctx ? es_error_set(err, ES_EIO, "hook failed") : ES_OK;
}

Test(store, replace_hook_runs_before_the_rename)
{
  es_store st;
  char *tmp;
  char *root = new_dataset(&st, &tmp);
  hook_root = root;
  es_error err = {0};
  write_text(root, "manifest.jsonl", "old\n");
  cr_assert_eq(es_store_lock(&st, 0, &err), ES_OK);
  /* A failing hook leaves the old file and no temporary. */
  cr_assert_eq(es_store_replace_hook(&st, "manifest.jsonl", "new\n", 4, check_before_rename,
                                     (void *)1, &err),
               ES_EIO);
  cr_assert_str_eq(err.msg, "hook failed");
  cr_assert_eq(hook_calls, 1);
  char *text = read_text(root, "manifest.jsonl");
  cr_assert_str_eq(text, "old\n");
  free(text);
  cr_assert_eq(count_entries(root, ".tmp"), 0, "a temporary was left behind");
  cr_assert_eq(es_store_replace_hook(&st, "manifest.jsonl", "new\n", 4, check_before_rename,
                                     NULL, &err),
               ES_OK, "%s", err.msg);
  cr_assert_eq(hook_calls, 2);
  text = read_text(root, "manifest.jsonl");
  cr_assert_str_eq(text, "new\n");
  free(text);
  es_store_close(&st);
  free(root);
  rm_tree(tmp);
}

static double now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Two real processes: the second waits while the first holds the lock; SIGKILL of the holder
 * hands the lock over at once. */
Test(store, lock_waits_for_holder_and_survives_sigkill)
{
  es_store st;
  char *tmp;
  char *root = new_dataset(&st, &tmp);
  es_error err = {0};
  int held[2], got[2];
  cr_assert_eq(pipe(held), 0);
  cr_assert_eq(pipe(got), 0);

  pid_t holder = fork();
  cr_assert(holder >= 0);
  if (holder == 0) {
    close(held[0]);
    close(got[0]);
    close(got[1]);
    es_store h;
    if (es_store_open(&h, root, 0, NULL, NULL) || es_store_lock(&h, 1, NULL))
      _exit(3);
    if (write(held[1], "h", 1) != 1)
      _exit(3);
    for (;;)
      pause();
  }
  close(held[1]);
  char c;
  cr_assert_eq(read(held[0], &c, 1), 1, "holder did not take the lock");
  close(held[0]);

  pid_t waiter = fork();
  cr_assert(waiter >= 0);
  if (waiter == 0) {
    close(got[0]);
    es_store w;
    if (es_store_open(&w, root, 0, NULL, NULL) || es_store_lock(&w, 1, NULL))
      _exit(3);
    if (write(got[1], "w", 1) != 1)
      _exit(3);
    _exit(0);
  }
  close(got[1]);

  struct pollfd pfd = {.fd = got[0], .events = POLLIN};
  cr_assert_eq(poll(&pfd, 1, 400), 0, "the waiter took a held lock");
  cr_assert_eq(es_store_lock(&st, 0, &err), ES_EIO, "a third store took a held lock");

  double t0 = now_ms();
  kill(holder, SIGKILL);
  cr_assert_eq(poll(&pfd, 1, 5000), 1, "the lock was not released by the killed holder");
  double waited = now_ms() - t0;
  cr_assert_eq(read(got[0], &c, 1), 1);
  cr_assert_eq(c, 'w');
  int status;
  waitpid(holder, &status, 0);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  waitpid(waiter, &status, 0);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  cr_assert_lt(waited, 1000.0, "handover took %.0f ms", waited);
  cr_log_info("lock handed over %.1f ms after SIGKILL", waited);
  close(got[0]);
  cr_assert_eq(es_store_lock(&st, 0, &err), ES_OK, "%s", err.msg);
  es_store_close(&st);
  free(root);
  rm_tree(tmp);
}

Test(store, now_honours_source_date_epoch)
{
  char out[32];
  setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
  es_store_now(out);
  cr_assert_str_eq(out, "2023-11-14T22:13:20Z");
  setenv("SOURCE_DATE_EPOCH", "0", 1);
  es_store_now(out);
  cr_assert_str_eq(out, "1970-01-01T00:00:00Z");
  setenv("SOURCE_DATE_EPOCH", "soon", 1);
  es_store_now(out);
  cr_assert_eq(strlen(out), 20);
  cr_assert_eq(out[19], 'Z');
  cr_assert_str_neq(out, "1970-01-01T00:00:00Z");
  unsetenv("SOURCE_DATE_EPOCH");
}

/* A staged file (es_store_stage_file) is durable in .tmp but invisible until published; two
 * staged at once do not share a temporary; a discarded one leaves nothing. */
Test(store, staged_file_appears_only_on_publish)
{
  es_store st;
  char *tmp;
  char *root = new_dataset(&st, &tmp);
  es_error err = {0};
  write_text(root, "labels.txt", "old\n");
  cr_assert_eq(es_store_lock(&st, 0, &err), ES_OK);
  es_staged_file *a = NULL, *b = NULL;
  cr_assert_eq(es_store_stage_file(&st, "labels.txt", "new\n", 4, &a, &err), ES_OK, "%s",
               err.msg);
  cr_assert_eq(es_store_stage_file(&st, "other.txt", "x", 1, &b, &err), ES_OK, "%s", err.msg);
  cr_assert_eq(count_entries(root, ".tmp"), 2);
  char *text = read_text(root, "labels.txt");
  cr_assert_str_eq(text, "old\n");
  free(text);
  cr_assert_eq(es_store_publish_file(&st, a, &err), ES_OK, "%s", err.msg);
  text = read_text(root, "labels.txt");
  cr_assert_str_eq(text, "new\n");
  free(text);
  es_store_discard_file(&st, b);
  cr_assert(!exists(root, "other.txt"));
  cr_assert_eq(count_entries(root, ".tmp"), 0, "a temporary was left behind");
  es_store_discard_file(&st, NULL);
  es_store_close(&st);
  free(root);
  rm_tree(tmp);
}
