/* core/show.h: outside values in diagnostics and summaries are escaped (C0, DEL, C1, invalid
 * UTF-8 as \xHH) and cut after ES_SHOW_MAX bytes with a count of what was left out; plain
 * values come back byte for byte. es_cli_error() shows every whole line the same way. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"
#include "core/show.h"

Test(show, plain_values_are_unchanged)
{
  const char *plain[] = {"cat", "snow leopard \xe2\x9d\x84", "a\\x1b", "/data/in/cat/0.ppm",
                         "\xf0\x9f\x90\x88", ""};
  for (size_t k = 0; k < sizeof plain / sizeof *plain; k++) {
    cr_assert_str_eq(es_show(plain[k]), plain[k]);
    cr_assert(es_show_is_plain(plain[k]), "%s", plain[k]);
  }
  char label[256];
  memset(label, 'x', 255);
  label[255] = '\0';
  cr_assert_str_eq(es_show(label), label, "a valid label of 255 bytes is shown whole");
  cr_assert_str_eq(es_show(NULL), "(null)");
}

Test(show, terminal_escapes_are_escaped)
{
  cr_assert_str_eq(es_show("\x1b]0;pwned\x07\x1b[2J"), "\\x1b]0;pwned\\x07\\x1b[2J");
  cr_assert_str_eq(es_show("a\nfake: line\r\t"), "a\\x0afake: line\\x0d\\x09");
  cr_assert_str_eq(es_show("del\x7f"), "del\\x7f");
  /* C1 controls as UTF-8 (U+009B is CSI on some terminals) and as raw bytes */
  cr_assert_str_eq(es_show("\xc2\x9b" "2J"), "\\xc2\\x9b2J");
  cr_assert_str_eq(es_show("\x9b" "2J"), "\\x9b2J");
  /* U+00A0 and above are text */
  cr_assert_str_eq(es_show("\xc2\xa0"), "\xc2\xa0");
  /* invalid UTF-8: stray continuation, overlong, surrogate, truncated, above U+10FFFF */
  cr_assert_str_eq(es_show("caf\xe9"), "caf\\xe9");
  cr_assert_str_eq(es_show("\x80\xc0\xaf"), "\\x80\\xc0\\xaf");
  cr_assert_str_eq(es_show("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  cr_assert_str_eq(es_show("\xe2\x9d"), "\\xe2\\x9d");
  cr_assert_str_eq(es_show("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
  cr_assert_str_eq(es_show_n("a\0b", 3), "a\\x00b");
  cr_assert_not(es_show_is_plain("\x1b"));
}

Test(show, long_values_are_cut_with_a_count)
{
  size_t n = 100 * 1000;
  char *big = malloc(n + 1);
  memset(big, 'a', n);
  big[n] = '\0';
  const char *s = es_show(big);
  char want[ES_SHOW_BUF];
  snprintf(want, sizeof want, "%.*s... (%zu more bytes)", ES_SHOW_MAX, big, n - ES_SHOW_MAX);
  cr_assert_str_eq(s, want);
  cr_assert_not(es_show_is_plain(big));
  /* escapes are never split, and the count is of the value's bytes */
  memset(big, 0x1b, n);
  s = es_show(big);
  cr_assert_eq(strlen(s), ES_SHOW_MAX + strlen("... (99936 more bytes)"), "%s", s);
  cr_assert(strstr(s, "\\x1b... (99936 more bytes)"), "%s", s);
  /* one byte over */
  big[0] = '\0';
  memset(big, 'b', ES_SHOW_MAX + 1);
  big[ES_SHOW_MAX + 1] = '\0';
  cr_assert(strstr(es_show(big), "b... (1 more byte)"), "%s", es_show(big));
  free(big);
}

Test(show, eight_values_in_one_call)
{
  char line[512];
  snprintf(line, sizeof line, "%s %s %s %s %s %s %s %s", es_show("1"), es_show("2\x1b"),
           es_show("3"), es_show("4"), es_show("5"), es_show("6"), es_show("7"), es_show("8"));
  cr_assert_str_eq(line, "1 2\\x1b 3 4 5 6 7 8");
}

static char *run_error(void (*fn)(void))
{
  char path[] = "/tmp/edgeset-show-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  fn();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  off_t len = lseek(fd, 0, SEEK_END);
  char *buf = calloc(1, (size_t)len + 1);
  cr_assert_eq(pread(fd, buf, (size_t)len, 0), len);
  close(fd);
  unlink(path);
  return buf;
}

static void err_escape(void)
{
  es_cli_error("edgeset-test", "cannot open '%s'", "x\x1b[2Jy");
}

static void err_huge(void)
{
  size_t n = 10 * 1000 * 1000;
  char *big = malloc(n + 1);
  memset(big, 'z', n);
  big[n] = '\0';
  es_cli_error("edgeset-test", "label '%s' is bad", big);
  free(big);
}

static void err_fail(void)
{
  es_error e = {0};
  es_error_set(&e, ES_EFORMAT, "line 3: label '%s'", "\x9b" "31m");
  es_cli_fail("edgeset-test", e.code, &e);
}

/* The backstop at the single point where diagnostics are printed: whatever reached a message
 * without es_show() is escaped, and a line never exceeds ES_SHOW_LINE_MAX bytes of text. */
Test(show, cli_error_escapes_and_cuts_whole_lines)
{
  char *s = run_error(err_escape);
  cr_assert_str_eq(s, "edgeset-test: cannot open 'x\\x1b[2Jy'\n");
  free(s);
  s = run_error(err_fail);
  cr_assert_str_eq(s, "edgeset-test: line 3: label '\\x9b31m'\n");
  free(s);
  s = run_error(err_huge);
  cr_assert_lt(strlen(s), ES_SHOW_LINE_MAX + 100, "%zu bytes", strlen(s));
  char want[64];
  size_t total = strlen("label '") + 10 * 1000 * 1000 + strlen("' is bad");
  snprintf(want, sizeof want, "... (%zu more bytes)\n", total - ES_SHOW_LINE_MAX);
  cr_assert(strstr(s, want), "%s", s + strlen(s) - 60);
  free(s);
}
