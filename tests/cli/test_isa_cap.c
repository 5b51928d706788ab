/* EDGESET_ISA from the outside: collect (XXH3, features, near-duplicate clustering), split
 * (near-duplicate join) and augment (the SIMD operations) leave byte-identical datasets whether
 * their SIMD code is capped to none (portable), to AVX2 or not at all (docs/nn.md, "EDGESET_ISA
 * caps every SIMD path"). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliutil.h"
#include "testutil.h"

static void run_ok(const char *prog, const char *const *args)
{
  char *err = NULL;
  int rc = cu_run(prog, args, NULL, NULL, &err);
  cr_assert_eq(rc, 0, "%s (EDGESET_ISA=%s) exited %d: %s", prog, getenv("EDGESET_ISA"), rc,
               err ? err : "");
  free(err);
}

/* collect, split and augment into root/ds_<isa> with EDGESET_ISA=isa */
static char *pipeline(const char *root, const char *caps, const char *isa)
{
  setenv("EDGESET_ISA", isa, 1);
  char *ds = cu_fmt("%s/ds_%s", root, isa);
  const char *collect[] = {"-d", ds, "-q", "--near", "6", "--device-from", "dir:1", caps, NULL};
  run_ok("edgeset-collect", collect);
  const char *split[] = {"-d", ds, "-q", "--ratios", "60:20:20", "--seed", "1", NULL};
  run_ok("edgeset-split", split);
  const char *verify[] = {"-d", ds, "-q", "--verify", NULL};
  run_ok("edgeset-split", verify);
  const char *augment[] = {"-d",      ds,  "-q", "--per-image", "2", "--ops",
                           "hflip@0.5,rotate:10,scale:0.2,bright:0.3,contrast:0.4,blur:0.3-2",
                           "--seed",  "1", NULL};
  run_ok("edgeset-augment", augment);
  unsetenv("EDGESET_ISA");
  return ds;
}

/* bash -c script, $1 and $2 two folders: exit 0 when they hold the same names and the same
 * bytes in every file (cmp names the first difference). */
static const char same_tree[] =
    "[ \"$(cd \"$1\" && find . | sort)\" = \"$(cd \"$2\" && find . | sort)\" ] || exit 1; "
    "cd \"$1\" && find . -type f | sort | while read -r f; do "
    "cmp \"$f\" \"$2/$f\" >&2 || exit 1; done";

Test(isa_cap, datasets_identical_under_every_cap, .timeout = 600)
{
  setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
  char *root = tu_tmpdir();
  char *caps = cu_fmt("%s/cap", root);
  for (int cam = 1; cam <= 2; cam++) {
    char *d = cu_fmt("%s/cam%d", caps, cam);
    cu_mkdirs(d);
    for (unsigned k = 0; k < 12; k++) { /* pictures, each with a near duplicate */
      unsigned seed = (unsigned)cam * 100 + k;
      int w = 40 + (int)(k * 37 % 260), h = 30 + (int)(k * 53 % 200);
      char *p = cu_fmt("%s/p%02u.ppm", d, k);
      cu_write_ppm(p, w, h, seed, 0, 0, 1.0);
      free(p);
      p = cu_fmt("%s/p%02u_near.ppm", d, k);
      cu_write_ppm(p, w, h, seed, 3, seed + 7, 1.0);
      free(p);
    }
    free(d);
  }
  char *want = pipeline(root, caps, "portable");
  const char *others[] = {"avx2", "avxvnni", "avx512vnni"};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    char *got = pipeline(root, caps, others[i]);
    char *cmd = cu_fmt("bash -c '%s' _ '%s' '%s'", same_tree, want, got);
    cr_expect_eq(system(cmd), 0, "EDGESET_ISA=%s: the dataset differs from portable's",
                 others[i]);
    free(cmd);
    free(got);
  }
  free(want);
  free(caps);
  char *rm = cu_fmt("rm -rf '%s'", root);
  cr_expect_eq(system(rm), 0);
  free(rm);
  free(root);
}
