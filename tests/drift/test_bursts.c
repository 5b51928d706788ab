/* edgeset-drift on bursty captures (a small version of bench_drift --bursts): Fashion-MNIST
 * images, each event seen as 1 to 10 frames with a 1-pixel jitter and sensor noise, capture
 * times one second apart within an event (tests/drift/make_bursts.py). Ten pairs of batches of
 * 60 events each from one distribution (no image on both sides) stay quiet at the defaults,
 * where counting frames as independent (--unit frame) raises false alarms; a darkened
 * (x0.8) and a blurred (sigma 1.5) batch are still flagged. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsutil.h"
#include "testutil.h"

#define PAIRS 10
#define EVENTS 60

static void bursts(const char *root, const char *ds, const char *batch, int first,
                   const char *extra)
{
  char *cmd = du_fmt("/usr/bin/python3 %s/tests/drift/make_bursts.py %s/%s %d %d 5 %s",
                     getenv("EDGESET_SOURCE"), root, batch, first, EVENTS, extra);
  cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
  char *in = du_fmt("%s/%s", root, batch), *err = NULL;
  int rc = du_run(NULL, &err, "edgeset-collect", "-d", ds, "--batch", batch, "--device-from",
                  "fixed:cam1", "-q", in, NULL);
  cr_assert_eq(rc, 0, "collect %s: %s", batch, err);
  free(err);
  free(in);
  free(cmd);
}

static int drift(const char *ds, const char *ref, const char *cur, const char *unit)
{
  char *r = du_fmt("batch:%s", ref), *c = du_fmt("batch:%s", cur), *err = NULL;
  int rc = du_run(NULL, &err, "edgeset-drift", "-d", ds, "--reference", r, "--current", c,
                  "--unit", unit, "-q", NULL);
  cr_assert(rc == 0 || rc == 1, "edgeset-drift %s %s: exit %d: %s", ref, cur, rc, err);
  free(err);
  free(r);
  free(c);
  return rc;
}

Test(drift_bursts, scenes_not_frames, .timeout = 1200)
{
  char *root = tu_tmpdir(), *ds = du_fmt("%s/ds", root);
  for (int k = 0; k < PAIRS; k++) {
    char a[16], b[16];
    snprintf(a, sizeof a, "s%da", k);
    snprintf(b, sizeof b, "s%db", k);
    bursts(root, ds, a, 2 * EVENTS * k, "");
    bursts(root, ds, b, 2 * EVENTS * k + EVENTS, "");
  }
  int first = 2 * EVENTS * PAIRS;
  bursts(root, ds, "ref", first, "");
  bursts(root, ds, "dark", first + EVENTS, "--dark 0.8");
  bursts(root, ds, "blur", first + 2 * EVENTS, "--blur 1.5");
  char *err = NULL;
  cr_assert_eq(du_run(NULL, &err, "edgeset-label", "-d", ds, "--from", "dir:1", "-q", NULL), 0,
               "label: %s", err);
  free(err);
  int quiet_alarms = 0, frame_alarms = 0;
  for (int k = 0; k < PAIRS; k++) {
    char a[16], b[16];
    snprintf(a, sizeof a, "s%da", k);
    snprintf(b, sizeof b, "s%db", k);
    quiet_alarms += drift(ds, a, b, "burst:3");
    frame_alarms += drift(ds, a, b, "frame");
  }
  cr_expect_leq(quiet_alarms, 1, "%d of %d same-distribution pairs flagged", quiet_alarms,
                PAIRS);
  cr_expect_geq(frame_alarms, PAIRS / 2,
                "frames counted as independent flagged only %d of %d pairs: the test data no "
                "longer shows what units are for",
                frame_alarms, PAIRS);
  cr_expect_eq(drift(ds, "ref", "dark", "burst:3"), 1, "brightness x0.8 not flagged");
  cr_expect_eq(drift(ds, "ref", "blur", "burst:3"), 1, "blur sigma 1.5 not flagged");
  free(ds);
  free(root);
}
