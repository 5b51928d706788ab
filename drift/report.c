/* The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched),
 * verdict first, then the features sorted by effect with reference/current histogram overlays,
 * then the camera-health table. Every string from data (labels, device names, selections) is
 * escaped; numbers are printed with the same 6 significant digits as the JSON. The page
 * skeleton, escaping and the histogram overlay come from core/report.h; the layout is drift's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/report.h"
#include "drift/drift.h"

/* %.6g, like es_json_real; "-" for values JSON writes as null */
static void numfmt(FILE *f, double v)
{
  if (!isfinite(v))
    fputs(isinf(v) ? "&infin;" : "-", f);
  else
    fprintf(f, "%.6g", v == 0 ? 0.0 : v);
}

/* "ref -> cur", as the tables show a change */
static void numfmt_change(FILE *f, double ref, double cur)
{
  numfmt(f, ref);
  fputs(" &rarr; ", f);
  numfmt(f, cur);
}

/* numfmt's text as a plain string (for captions that es_html_escape writes) */
static void numtext(char out[32], double v)
{
  if (!isfinite(v))
    snprintf(out, 32, "%s", isinf(v) ? "\u221e" : "-");
  else
    snprintf(out, 32, "%.6g", v == 0 ? 0.0 : v);
}

static void svg_hist(FILE *f, const es_drift_feature *ft)
{
  char left[48], right[32];
  if (ft->categorical) {
    snprintf(left, sizeof left, "%zu categories", ft->n_bins);
  } else {
    numtext(left, ft->lo);
    numtext(right, ft->hi);
  }
  es_svg_hist_overlay(f, ft->name, ft->ref_hist, ft->cur_hist, ft->n_bins, "ref", "cur", left,
                      ft->categorical ? NULL : right);
}

static const char *const css =
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "h1{font-size:1.4em}.verdict{font-size:1.3em;padding:.6em;border-radius:4px}"
    ".drift{background:#fdd}.ok{background:#dfd}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;"
    "text-align:right;vertical-align:top}th{background:#eee}td.l{text-align:left}"
    "rect.ref{fill:#1f77b4;fill-opacity:.45}rect.cur{fill:#d62728;fill-opacity:.45}"
    "svg text{font-size:10px}.flag{color:#b00;font-weight:bold}";

static void write_report(FILE *f, const es_drift_result *r, const es_drift_sample *ref,
                         const es_drift_sample *cur, const es_drift_opts *o,
                         const char *dataset, const char *when)
{
  es_html_begin(f, "edgeset drift report", css);
  fputs("<h1>Drift: ", f);
  es_html_escape(f, cur->spec);
  fputs(" against ", f);
  es_html_escape(f, ref->spec);
  fprintf(f, "</h1>\n<p class=\"verdict %s\">Verdict: <b>%s</b> &mdash; %zu of %zu features "
             "drifted, %zu camera%s flagged.</p>\n",
          r->found ? "drift" : "ok", r->found ? "drift" : "no drift", r->n_drifted, r->n_tested,
          r->n_flags, r->n_flags == 1 ? "" : "s");
  fputs("<p>Dataset ", f);
  es_html_escape(f, dataset);
  fprintf(f, ", %s. Reference: %zu items in %zu independent units (scenes: near-duplicate "
             "clusters and bursts); current: %zu items in %zu units (augmented items left out: "
             "%zu and %zu). The tests weigh each side by its effective size (the items over "
             "Kish's design effect), shown beside the counts. A feature drifts when its "
             "Benjamini-Hochberg adjusted p-value is below ",
          when ? when : "", ref->n_items, ref->n_units, cur->n_items, cur->n_units,
          ref->n_augmented_skipped, cur->n_augmented_skipped);
  numfmt(f, o->alpha);
  fputs(" and its effect is at least ", f);
  numfmt(f, o->min_effect_numeric);
  fputs(" (numeric: Wasserstein-1 / reference std) or ", f);
  numfmt(f, o->min_effect_categorical);
  fputs(" (categorical: Jensen-Shannon distance).</p>\n", f);
  fputs("<h2>Features by effect</h2>\n<p><svg width=\"12\" height=\"12\"><rect class=\"ref\" "
        "width=\"12\" height=\"12\"/></svg> reference <svg width=\"12\" height=\"12\"><rect "
        "class=\"cur\" width=\"12\" height=\"12\"/></svg> current</p>\n", f);
  fputs("<table><tr><th>feature</th><th>verdict</th><th>effect</th><th>test</th>"
        "<th>statistic</th><th>p</th><th>adjusted p</th><th>PSI</th><th>n ref / cur (effective)</th>"
        "<th>distribution</th></tr>\n", f);
  for (size_t i = 0; i < r->nf; i++) {
    const es_drift_feature *ft = &r->f[i];
    fputs("<tr><td class=\"l\">", f);
    es_html_escape(f, ft->name);
    fprintf(f, "</td><td class=\"l\">%s</td>",
            !ft->tested       ? "not tested"
            : ft->drifted     ? "<span class=\"flag\">drift</span>"
            : ft->significant ? "significant, small effect"
                              : "stable");
    if (!ft->tested) {
      fputs("<td colspan=\"8\" class=\"l\">", f);
      es_html_escape(f, ft->note);
      fputs("</td></tr>\n", f);
      continue;
    }
    fputs("<td>", f);
    numfmt(f, ft->effect);
    fprintf(f, "</td><td class=\"l\">%s</td><td>",
            ft->mmd           ? "MMD permutation"
            : ft->categorical ? "chi-squared"
            : ft->exact       ? "KS exact"
                              : "KS asymptotic");
    numfmt(f, ft->statistic);
    fputs("</td><td>", f);
    numfmt(f, ft->p);
    fputs("</td><td>", f);
    numfmt(f, ft->p_adj);
    fputs("</td><td>", f);
    numfmt(f, ft->psi);
    fprintf(f, "</td><td>%zu / %zu<br>(%.0f / %.0f)</td><td class=\"l\">", ft->n_ref,
            ft->n_cur, ft->neff_ref, ft->neff_cur);
    if (ft->mmd)
      fputs("MMD<sup>2</sup> of the penultimate-layer embeddings (Gaussian kernel)", f);
    else
      svg_hist(f, ft);
    if (ft->categorical) {
      fputs("<br>", f);
      for (size_t k = 0; k < ft->n_bins; k++) {
        es_html_escape(f, ft->cats[k]);
        fputs(": ", f);
        numfmt_change(f, ft->ref_hist[k], ft->cur_hist[k]);
        if (k + 1 < ft->n_bins)
          fputs("; ", f);
      }
    }
    if (ft->note) {
      fputs("<br>", f);
      es_html_escape(f, ft->note);
    }
    fputs("</td></tr>\n", f);
  }
  fputs("</table>\n<h2>Camera health</h2>\n", f);
  if (!r->nh)
    fputs("<p>No device names in the current selection.</p>\n", f);
  else {
    fputs("<table><tr><th>device</th><th>flags</th><th>items ref / cur</th>"
          "<th>sharpness median ref &rarr; cur (ratio)</th><th>brightness median ref &rarr; "
          "cur (shift in std)</th><th>clipped frames ref &rarr; cur</th>"
          "<th>longest identical run</th></tr>\n", f);
    for (size_t i = 0; i < r->nh; i++) {
      const es_drift_health *h = &r->h[i];
      fputs("<tr><td class=\"l\">", f);
      es_html_escape(f, h->device);
      fprintf(f, "</td><td class=\"l flag\">%s%s%s%s</td><td>%zu / %zu</td><td>",
              h->flags & ES_DRIFT_FLAG_SHARPNESS ? "sharpness falling " : "",
              h->flags & ES_DRIFT_FLAG_BRIGHTNESS ? "brightness shift " : "",
              h->flags & ES_DRIFT_FLAG_CLIPPED ? "clipped frames " : "",
              h->flags & ES_DRIFT_FLAG_FROZEN ? "frozen output" : "", h->n_ref, h->n_cur);
      if (h->has_history && h->n_cur) {
        numfmt_change(f, h->sharp_ref, h->sharp_cur);
        fputs(" (", f);
        numfmt(f, h->sharp_ratio);
        fputs(")</td><td>", f);
        numfmt_change(f, h->bright_ref, h->bright_cur);
        fputs(" (", f);
        numfmt(f, h->bright_shift);
        fputs(")</td><td>", f);
        numfmt_change(f, h->clipped_ref, h->clipped_cur);
      } else {
        fputs("no history</td><td>no history</td><td>", f);
        numfmt(f, h->clipped_cur);
      }
      fputs("</td><td>", f);
      if (h->frozen_checked)
        fprintf(f, "%zu", h->frozen_run);
      else
        fputs("not checked", f);
      fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
  }
  fprintf(f, "<p>edgeset-drift %s</p>\n", EDGESET_VERSION);
  es_html_end(f);
}

char *es_drift_report_html(const es_drift_result *r, const es_drift_sample *ref,
                           const es_drift_sample *cur, const es_drift_opts *o,
                           const char *dataset, const char *when, size_t *len, es_error *err)
{
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  if (!f) {
    es_error_set(err, ES_ENOMEM, "out of memory writing the report");
    return NULL;
  }
  write_report(f, r, ref, cur, o, dataset, when);
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    free(buf);
    es_error_set(err, ES_ENOMEM, "out of memory writing the report");
    return NULL;
  }
  *len = n;
  return buf;
}
