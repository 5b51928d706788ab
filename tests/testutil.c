/* Test helpers: paths to test data and programs, files, scratch folders, child processes. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *join(const char *a, const char *b)
{
  size_t n = strlen(a) + strlen(b) + 2;
  char *s = malloc(n);
  if (s)
    snprintf(s, n, "%s/%s", a, b);
  return s;
}

char *tu_data(const char *rel)
{
  const char *src = getenv("EDGESET_SOURCE");
  char *root = join(src && *src ? src : ".", "tests/data");
  char *p = root ? join(root, rel) : NULL;
  free(root);
  return p;
}

char *tu_bin(const char *prog)
{
  const char *root = getenv("EDGESET_BIN");
  return join(root && *root ? root : "build/bin", prog);
}

uint8_t *tu_read(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (!buf)
      break;
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (n < cap)
      break;
    uint8_t *nb = realloc(buf, cap * 2);
    if (!nb) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  fclose(f);
  if (buf && len)
    *len = n;
  return buf;
}

int tu_write(const char *path, const void *buf, size_t len)
{
  FILE *f = fopen(path, "wb");
  if (!f)
    return -1;
  size_t w = fwrite(buf, 1, len, f);
  return (fclose(f) == 0 && w == len) ? 0 : -1;
}

char *tu_tmpdir(void)
{
  const char *t = getenv("TMPDIR");
  char *tmpl = join(t && *t ? t : "/tmp", "edgeset-test-XXXXXX");
  if (tmpl && !mkdtemp(tmpl)) {
    free(tmpl);
    return NULL;
  }
  return tmpl;
}

static char *slurp_fd(int fd)
{
  size_t cap = 4096, n = 0;
  char *s = malloc(cap);
  for (;;) {
    if (!s)
      return NULL;
    if (n + 1 >= cap) {
      char *ns = realloc(s, cap * 2);
      if (!ns) {
        free(s);
        return NULL;
      }
      s = ns;
      cap *= 2;
    }
    ssize_t r = read(fd, s + n, cap - n - 1);
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  s[n] = '\0';
  return s;
}

int tu_run(char *const argv[], const char *in_path, char **out, char **errout)
{
  char *outf = NULL, *errf = NULL;
  char tmpl1[] = "/tmp/edgeset-out-XXXXXX", tmpl2[] = "/tmp/edgeset-err-XXXXXX";
  int ofd = mkstemp(tmpl1), efd = mkstemp(tmpl2);
  if (ofd < 0 || efd < 0)
    return -1;
  unlink(tmpl1);
  unlink(tmpl2);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
    if (in < 0)
      _exit(127);
    dup2(in, 0);
    dup2(ofd, 1);
    dup2(efd, 2);
    execv(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  lseek(ofd, 0, SEEK_SET);
  lseek(efd, 0, SEEK_SET);
  outf = slurp_fd(ofd);
  errf = slurp_fd(efd);
  close(ofd);
  close(efd);
  if (out)
    *out = outf;
  else
    free(outf);
  if (errout)
    *errout = errf;
  else
    free(errf);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
