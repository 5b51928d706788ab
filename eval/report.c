/* The evaluation report: one self-contained HTML page drawn from the --json document (so its
 * numbers are the JSON's numbers, printed with the same 6 significant digits) and the gallery
 * thumbnails (inline PNG data: URIs). Inline SVG charts, no script, nothing fetched; every
 * string from data (paths, labels, devices, batches) goes through es_html_escape. Each section
 * has an id (summary, model, dataset, metrics, per-class, confusion, calibration, groups,
 * binary, baseline, gates, gallery) so that tools and tests can find it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/show.h"
#include "core/report.h"
#include "eval/dataset.h"

static const char CSS[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1150px}\n"
    "h1{font-size:1.4em;overflow-wrap:anywhere}h2{margin-top:1.6em;border-bottom:1px solid #ddd}\n"
    "table{border-collapse:collapse;margin:.5em 0 1em}\n"
    "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}\n"
    "td.l,th.l{text-align:left;overflow-wrap:anywhere}th{background:#f2f2f2}\n"
    ".verdict{font-size:1.2em;padding:.5em;border-radius:4px}\n"
    ".pass{background:#dfd;color:#1a5f27}.fail{background:#fdd;color:#8b1a10}\n"
    ".warning{background:#fff3cd;border:1px solid #e0b000;padding:.6em;border-radius:4px}\n"
    ".bar{fill:#4a7ab5}.lbl,.val{font:12px sans-serif;fill:#222}\n"
    "svg text{font:11px sans-serif}.axis{stroke:#888;fill:none}.diag{stroke:#bbb;"
    "stroke-dasharray:4 3;fill:none}.curve{stroke:#d62728;stroke-width:2;fill:none}\n"
    ".acc{fill:#4a7ab5;fill-opacity:.8}.gap{fill:#d62728;fill-opacity:.3}\n"
    ".gallery{display:flex;flex-wrap:wrap;gap:10px}\n"
    ".card{border:1px solid #ccc;padding:6px;width:160px;font-size:12px}\n"
    ".card img{width:96px;height:96px;object-fit:contain;image-rendering:pixelated;"
    "display:block;margin:0 auto 4px;background:#eee}\n"
    ".card p{margin:2px 0;overflow-wrap:anywhere}\n"
    ".cols{display:flex;flex-wrap:wrap;gap:0 3em;align-items:flex-start}\n"
    ".cols>section{flex:0 1 auto;min-width:300px}\n";

static void esc(FILE *f, const char *s)
{
  es_html_escape(f, s);
}

static const json_t *get(const json_t *o, const char *path)
{
  /* "a.b.c" */
  char key[64];
  while (o && *path) {
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    if (n >= sizeof key)
      return NULL;
    memcpy(key, path, n);
    key[n] = '\0';
    o = json_object_get(o, key);
    path += n + (dot ? 1 : 0);
  }
  return o;
}

static double dbl(const json_t *o, const char *path)
{
  const json_t *v = get(o, path);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

/* <tr><td>name</td><td data-key="path">value</td></tr> */
static void row(FILE *f, const char *name, const json_t *doc, const char *path)
{
  fprintf(f, "<tr><td class=\"l\">%s</td><td data-key=\"%s\">", name, path);
  const json_t *v = get(doc, path);
  if (json_is_string(v))
    esc(f, json_string_value(v));
  else
    es_html_json_number(f, v);
  fputs("</td></tr>\n", f);
}

static void section(FILE *f, const char *id, const char *title)
{
  fprintf(f, "<section id=\"%s\">\n<h2>%s</h2>\n", id, title);
}

/* A square plot area: x and y in [0, 1], origin bottom left. */
#define PW 320
#define PAD 36
static double px(double x)
{
  return PAD + x * PW;
}
static double py(double y)
{
  return PAD / 2.0 + (1 - y) * PW;
}

static void plot_frame(FILE *f, const char *aria, const char *xl, const char *yl)
{
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\" "
             "aria-label=\"%s\">\n",
          PW + PAD + 10, PW + PAD + 10, aria);
  fprintf(f, "<rect class=\"axis\" x=\"%g\" y=\"%g\" width=\"%d\" height=\"%d\"/>\n", px(0), py(1),
          PW, PW);
  for (int t = 0; t <= 4; t++) {
    double v = t / 4.0;
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%g</text>", px(v), py(0) + 14, v);
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%g</text>\n", px(0) - 4, py(v) + 4, v);
  }
  fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%s</text>", px(0.5), py(0) + 28, xl);
  fprintf(f, "<text x=\"12\" y=\"%g\" transform=\"rotate(-90 12 %g)\" text-anchor=\"middle\">%s"
             "</text>\n",
          py(0.5), py(0.5), yl);
}

static void reliability_svg(FILE *f, const json_t *rel)
{
  plot_frame(f, "reliability diagram", "confidence", "accuracy");
  fprintf(f, "<line class=\"diag\" x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\"/>\n", px(0), py(0),
          px(1), py(1));
  for (size_t b = 0; b < json_array_size(rel); b++) {
    const json_t *r = json_array_get(rel, b);
    if (!json_integer_value(json_object_get(r, "count")))
      continue;
    double lo = dbl(r, "lo"), hi = dbl(r, "hi"), acc = dbl(r, "accuracy"),
           conf = dbl(r, "confidence");
    fprintf(f, "<rect class=\"acc\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>", px(lo),
            py(acc), (hi - lo) * PW, acc * PW);
    double top = acc > conf ? acc : conf, bot = acc > conf ? conf : acc;
    fprintf(f, "<rect class=\"gap\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>\n",
            px(lo), py(top), (hi - lo) * PW, (top - bot) * PW);
  }
  fputs("</svg>\n", f);
}

static void curve_svg(FILE *f, const json_t *pts, const char *xk, const char *yk,
                      const char *aria, const char *xl, const char *yl, int from_origin)
{
  plot_frame(f, aria, xl, yl);
  if (from_origin)
    fprintf(f, "<line class=\"diag\" x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\"/>\n", px(0), py(0),
            px(1), py(1));
  fputs("<polyline class=\"curve\" points=\"", f);
  if (from_origin)
    fprintf(f, "%.2f,%.2f ", px(0), py(0));
  for (size_t k = 0; k < json_array_size(pts); k++) {
    double x = dbl(json_array_get(pts, k), xk), y = dbl(json_array_get(pts, k), yk);
    if (!isnan(x) && !isnan(y))
      fprintf(f, "%.2f,%.2f ", px(x), py(y));
  }
  fputs("\"/>\n</svg>\n", f);
}

static void summary(FILE *f, const json_t *doc)
{
  const json_t *gates = json_object_get(doc, "gates");
  int passed = json_is_true(json_object_get(gates, "passed"));
  section(f, "summary", "Summary");
  fprintf(f, "<p class=\"verdict %s\" data-key=\"gates.verdict\">%s</p>\n",
          passed ? "pass" : "fail", passed ? "pass" : "fail");
  const char *warning = json_string_value(get(doc, "test_set.warning"));
  if (warning) {
    fputs("<p class=\"warning\" id=\"overfit-warning\">Warning: ", f);
    esc(f, warning);
    fputs(".</p>\n", f);
  }
  fputs("<table><tbody>\n", f);
  row(f, "items", doc, "metrics.items");
  row(f, "correct", doc, "metrics.correct");
  row(f, "accuracy", doc, "metrics.accuracy");
  row(f, "95% Wilson interval, low", doc, "metrics.accuracy_ci95.lo");
  row(f, "95% Wilson interval, high", doc, "metrics.accuracy_ci95.hi");
  row(f, "balanced accuracy", doc, "metrics.balanced_accuracy");
  row(f, "macro F1", doc, "metrics.macro.f1");
  row(f, "expected calibration error", doc, "metrics.calibration.ece");
  row(f, "models compared on this held-out split", doc, "test_set.models_compared");
  fputs("</tbody></table>\n</section>\n", f);
}

static void model_card(FILE *f, const json_t *doc)
{
  section(f, "model", "Model card");
  fputs("<table><tbody>\n", f);
  row(f, "model", doc, "model.path");
  row(f, "XXH3-128 of the file", doc, "model.hash");
  row(f, "operators", doc, "model.operators");
  row(f, "parameters", doc, "model.params");
  row(f, "MACs per inference", doc, "model.macs");
  row(f, "flash (model bytes)", doc, "model.flash_bytes");
  row(f, "arena (planned bytes)", doc, "model.arena_bytes");
  row(f, "host latency, median ms (this machine)", doc, "model.host_latency_ms");
  row(f, "output", doc, "model.output");
  row(f, "--preprocess", doc, "preprocess");
  row(f, "preprocessing as resolved for the model", doc, "model.preprocess_resolved");
  fputs("</tbody></table>\n<table><thead><tr><th class=\"l\">operator</th><th>count</th></tr>"
        "</thead><tbody>\n",
        f);
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)get(doc, "model.ops"), key, v)
  {
    fputs("<tr><td class=\"l\">", f);
    esc(f, key);
    fputs("</td><td>", f);
    es_html_json_number(f, v);
    fputs("</td></tr>\n", f);
  }
  fputs("</tbody></table>\n</section>\n", f);
}

static void dataset_section(FILE *f, const json_t *doc)
{
  section(f, "dataset", "Dataset");
  fputs("<table><tbody>\n", f);
  row(f, "dataset", doc, "dataset.path");
  row(f, "split", doc, "dataset.split");
  row(f, "version (XXH3-128 of the item ids)", doc, "dataset.version");
  row(f, "items evaluated", doc, "dataset.items");
  row(f, "augmented items left out", doc, "dataset.augmented_left_out");
  row(f, "labels", doc, "labels_file");
  row(f, "evaluated at", doc, "time");
  fputs("</tbody></table>\n</section>\n", f);
}

static void per_class(FILE *f, const json_t *doc)
{
  const json_t *m = json_object_get(doc, "metrics");
  section(f, "metrics", "Metrics");
  fputs("<table><thead><tr><th>top-k</th><th>accuracy</th></tr></thead><tbody>\n", f);
  const json_t *tk = json_object_get(m, "top_k");
  for (size_t k = 0; k < json_array_size(tk); k++) {
    fputs("<tr><td>", f);
    es_html_json_number(f, get(json_array_get(tk, k), "k"));
    fputs("</td><td>", f);
    es_html_json_number(f, get(json_array_get(tk, k), "accuracy"));
    fputs("</td></tr>\n", f);
  }
  fputs("</tbody></table>\n<table><thead><tr><th class=\"l\">average</th><th>precision</th>"
        "<th>recall</th><th>F1</th></tr></thead><tbody>\n",
        f);
  static const char *const avgs[] = {"macro", "weighted"};
  for (size_t a = 0; a < 2; a++) {
    const json_t *o = json_object_get(m, avgs[a]);
    fprintf(f, "<tr><td class=\"l\">%s</td><td>", avgs[a]);
    es_html_json_number(f, json_object_get(o, "precision"));
    fputs("</td><td>", f);
    es_html_json_number(f, json_object_get(o, "recall"));
    fputs("</td><td>", f);
    es_html_json_number(f, json_object_get(o, "f1"));
    fputs("</td></tr>\n", f);
  }
  fputs("</tbody></table>\n</section>\n", f);
  section(f, "per-class", "Per class");
  fputs("<table><thead><tr><th class=\"l\">class</th><th>support</th><th>predicted</th>"
        "<th>precision</th><th>recall</th><th>F1</th></tr></thead><tbody>\n",
        f);
  const json_t *pc = json_object_get(m, "per_class");
  size_t C = json_array_size(pc);
  const char **names = calloc(C ? C : 1, sizeof *names);
  const char **texts = calloc(C ? C : 1, sizeof *texts);
  char (*buf)[32] = calloc(C ? C : 1, sizeof *buf);
  double *vals = calloc(C ? C : 1, sizeof *vals);
  for (size_t k = 0; k < C; k++) {
    const json_t *c = json_array_get(pc, k);
    fputs("<tr class=\"class\"><td class=\"l\">", f);
    esc(f, json_string_value(json_object_get(c, "label")));
    static const char *const keys[] = {"support", "predicted", "precision", "recall", "f1"};
    for (size_t j = 0; j < 5; j++) {
      fputs("</td><td>", f);
      es_html_json_number(f, json_object_get(c, keys[j]));
    }
    fputs("</td></tr>\n", f);
    if (names && texts && buf && vals) {
      names[k] = json_string_value(json_object_get(c, "label"));
      vals[k] = dbl(c, "recall");
      snprintf(buf[k], sizeof buf[k], "%.6g", vals[k]);
      texts[k] = buf[k];
    }
  }
  fputs("</tbody></table>\n<h3>Recall per class</h3>\n", f);
  if (names && texts && buf && vals)
    es_svg_hbars(f, "recall per class", names, vals, texts, C, 1.0);
  free(names);
  free(texts);
  free(buf);
  free(vals);
  fputs("</section>\n", f);
}

static void confusion(FILE *f, const json_t *doc)
{
  const json_t *labels = json_object_get(doc, "labels"), *cm = get(doc, "metrics.confusion");
  section(f, "confusion", "Confusion matrix");
  fputs("<p>Rows: true class; columns: predicted class. Shade: share of the row.</p>\n"
        "<table><thead><tr><th class=\"l\">true \\ predicted</th>",
        f);
  for (size_t k = 0; k < json_array_size(labels); k++) {
    fputs("<th>", f);
    esc(f, json_string_value(json_array_get(labels, k)));
    fputs("</th>", f);
  }
  fputs("</tr></thead><tbody>\n", f);
  for (size_t r = 0; r < json_array_size(cm); r++) {
    const json_t *rw = json_array_get(cm, r);
    json_int_t tot = 0;
    for (size_t k = 0; k < json_array_size(rw); k++)
      tot += json_integer_value(json_array_get(rw, k));
    fputs("<tr><th class=\"l\">", f);
    esc(f, json_string_value(json_array_get(labels, r)));
    fputs("</th>", f);
    for (size_t k = 0; k < json_array_size(rw); k++) {
      json_int_t v = json_integer_value(json_array_get(rw, k));
      double share = tot ? (double)v / (double)tot : 0;
      fprintf(f, "<td style=\"background:rgba(%s,%.3f)\">%lld</td>",
              r == k ? "40,140,60" : "200,40,30", share * 0.8, (long long)v);
    }
    fputs("</tr>\n", f);
  }
  fputs("</tbody></table>\n</section>\n", f);
}

static void calibration(FILE *f, const json_t *doc)
{
  const json_t *cal = get(doc, "metrics.calibration");
  section(f, "calibration", "Calibration");
  fputs("<p>Expected calibration error over ", f);
  es_html_json_number(f, json_object_get(cal, "bins"));
  fputs(" equal-width confidence bins: <span data-key=\"metrics.calibration.ece\">", f);
  es_html_json_number(f, json_object_get(cal, "ece"));
  fputs("</span>. Blue: accuracy per bin; red: the gap to the bin's mean confidence.</p>\n", f);
  reliability_svg(f, json_object_get(cal, "reliability"));
  fputs("<table><thead><tr><th>bin</th><th>items</th><th>mean confidence</th><th>accuracy</th>"
        "</tr></thead><tbody>\n",
        f);
  const json_t *rel = json_object_get(cal, "reliability");
  for (size_t b = 0; b < json_array_size(rel); b++) {
    const json_t *r = json_array_get(rel, b);
    fputs("<tr><td>(", f);
    es_html_json_number(f, json_object_get(r, "lo"));
    fputs(", ", f);
    es_html_json_number(f, json_object_get(r, "hi"));
    fputs("]</td><td>", f);
    es_html_json_number(f, json_object_get(r, "count"));
    fputs("</td><td>", f);
    es_html_json_number(f, json_object_get(r, "confidence"));
    fputs("</td><td>", f);
    es_html_json_number(f, json_object_get(r, "accuracy"));
    fputs("</td></tr>\n", f);
  }
  fputs("</tbody></table>\n</section>\n", f);
}

static void group_table(FILE *f, const json_t *rows, const char *key)
{
  fprintf(f, "<table><thead><tr><th class=\"l\">%s</th><th>items</th><th>correct</th>"
             "<th>accuracy</th></tr></thead><tbody>\n",
          key);
  for (size_t k = 0; k < json_array_size(rows); k++) {
    const json_t *r = json_array_get(rows, k);
    const char *name = json_string_value(json_object_get(r, key));
    fputs("<tr><td class=\"l\">", f);
    if (name)
      esc(f, name);
    else
      fputs("<em>none</em>", f);
    fputs("</td><td>", f);
    es_html_json_number(f, json_object_get(r, "items"));
    fputs("</td><td>", f);
    es_html_json_number(f, json_object_get(r, "correct"));
    fputs("</td><td>", f);
    es_html_json_number(f, json_object_get(r, "accuracy"));
    fputs("</td></tr>\n", f);
  }
  fputs("</tbody></table>\n", f);
}

static void groups(FILE *f, const json_t *doc)
{
  section(f, "groups", "Accuracy per device and per batch");
  fputs("<h3>Per device (of the first occurrence)</h3>\n", f);
  group_table(f, get(doc, "metrics.per_device"), "device");
  fputs("<h3>Per batch (of the first occurrence)</h3>\n", f);
  group_table(f, get(doc, "metrics.per_batch"), "batch");
  fputs("</section>\n", f);
}

static void binary(FILE *f, const json_t *doc)
{
  const json_t *b = get(doc, "metrics.binary");
  if (!json_is_object(b))
    return;
  section(f, "binary", "Two-class view");
  fputs("<p>Positive class <strong>", f);
  esc(f, json_string_value(json_object_get(b, "positive")));
  fputs("</strong>; ROC AUC <span data-key=\"metrics.binary.roc_auc\">", f);
  es_html_json_number(f, json_object_get(b, "roc_auc"));
  fputs("</span>.</p>\n<div style=\"display:flex;gap:2em;flex-wrap:wrap\">\n", f);
  curve_svg(f, json_object_get(b, "roc"), "fpr", "tpr", "ROC curve", "false positive rate",
            "true positive rate", 1);
  curve_svg(f, json_object_get(b, "pr"), "recall", "precision", "precision-recall curve",
            "recall", "precision", 0);
  fputs("</div>\n<h3>Thresholds</h3>\n<p>A frame is sent on when the positive class's "
        "probability is at least the threshold.</p>\n<table><thead><tr><th>threshold</th>"
        "<th>precision</th><th>recall</th><th>share sent on</th></tr></thead><tbody>\n",
        f);
  const json_t *t = json_object_get(b, "thresholds");
  for (size_t k = 0; k < json_array_size(t); k++) {
    const json_t *r = json_array_get(t, k);
    static const char *const keys[] = {"threshold", "precision", "recall", "sent"};
    fputs("<tr>", f);
    for (size_t j = 0; j < 4; j++) {
      fputs("<td>", f);
      es_html_json_number(f, json_object_get(r, keys[j]));
      fputs("</td>", f);
    }
    fputs("</tr>\n", f);
  }
  fputs("</tbody></table>\n</section>\n", f);
}

static void baseline(FILE *f, const json_t *doc)
{
  const json_t *b = json_object_get(doc, "baseline");
  if (!json_is_object(b))
    return;
  section(f, "baseline", "Compared with the baseline");
  fputs("<table><tbody>\n", f);
  row(f, "baseline file", doc, "baseline.path");
  row(f, "baseline model", doc, "baseline.model");
  row(f, "baseline accuracy", doc, "baseline.accuracy");
  row(f, "accuracy difference", doc, "baseline.accuracy_delta");
  row(f, "balanced accuracy difference", doc, "baseline.balanced_accuracy_delta");
  row(f, "macro F1 difference", doc, "baseline.macro_f1_delta");
  row(f, "items both evaluated", doc, "baseline.mcnemar.common");
  row(f, "right only with this model", doc, "baseline.mcnemar.model_only");
  row(f, "right only with the baseline", doc, "baseline.mcnemar.baseline_only");
  row(f, "McNemar exact p-value", doc, "baseline.mcnemar.p_value");
  fputs("</tbody></table>\n<table><thead><tr><th class=\"l\">class</th><th>precision "
        "&Delta;</th><th>recall &Delta;</th><th>F1 &Delta;</th><th>support &Delta;</th></tr>"
        "</thead><tbody>\n",
        f);
  const json_t *pc = json_object_get(b, "per_class");
  for (size_t k = 0; k < json_array_size(pc); k++) {
    const json_t *c = json_array_get(pc, k);
    fputs("<tr><td class=\"l\">", f);
    esc(f, json_string_value(json_object_get(c, "label")));
    static const char *const keys[] = {"precision_delta", "recall_delta", "f1_delta",
                                       "support_delta"};
    for (size_t j = 0; j < 4; j++) {
      fputs("</td><td>", f);
      es_html_json_number(f, json_object_get(c, keys[j]));
    }
    fputs("</td></tr>\n", f);
  }
  fputs("</tbody></table>\n</section>\n", f);
}

static void gates(FILE *f, const json_t *doc)
{
  const json_t *checks = get(doc, "gates.checks");
  section(f, "gates", "Gates");
  if (!json_array_size(checks))
    fputs("<p>No gate was set.</p>\n", f);
  else
    fputs("<table><thead><tr><th class=\"l\">gate</th><th>limit</th><th>value</th>"
          "<th>result</th></tr></thead><tbody>\n",
          f);
  for (size_t k = 0; k < json_array_size(checks); k++) {
    const json_t *c = json_array_get(checks, k);
    int ok = json_is_true(json_object_get(c, "passed"));
    fputs("<tr><td class=\"l\">--", f);
    esc(f, json_string_value(json_object_get(c, "gate")));
    fputs("</td><td>", f);
    es_html_json_number(f, json_object_get(c, "limit"));
    fputs("</td><td>", f);
    es_html_json_number(f, json_object_get(c, "value"));
    fprintf(f, "</td><td class=\"%s\">%s</td></tr>\n", ok ? "pass" : "fail",
            ok ? "passed" : "failed");
  }
  if (json_array_size(checks))
    fputs("</tbody></table>\n", f);
  fputs("</section>\n", f);
}

static const json_t *prediction(const json_t *preds, const char *id)
{
  for (size_t i = 0; i < json_array_size(preds); i++) {
    const json_t *p = json_array_get(preds, i);
    if (!strcmp(json_string_value(json_object_get(p, "id")), id))
      return p;
  }
  return NULL;
}

static void gallery(FILE *f, const es_eval_outcome *out)
{
  const json_t *preds = json_object_get(out->doc, "predictions");
  section(f, "gallery", "Misclassified items, most confident first");
  if (!out->n_thumbs)
    fputs("<p>No item was misclassified.</p>\n", f);
  fputs("<div class=\"gallery\">\n", f);
  for (size_t k = 0; k < out->n_thumbs; k++) {
    const json_t *p = prediction(preds, out->thumbs[k].id);
    if (!p)
      continue;
    const char *path = json_string_value(json_object_get(p, "path"));
    fputs("<figure class=\"card\"><img alt=\"", f);
    esc(f, path ? path : out->thumbs[k].id);
    fputs("\" src=\"data:image/png;base64,", f);
    es_html_base64(f, out->thumbs[k].png, out->thumbs[k].len);
    fputs("\"><p class=\"path\">", f);
    esc(f, path ? path : "");
    fputs("</p><p>true <strong class=\"truth\">", f);
    esc(f, json_string_value(json_object_get(p, "label")));
    fputs("</strong></p><p>predicted <strong class=\"predicted\">", f);
    esc(f, json_string_value(json_object_get(p, "predicted")));
    fputs("</strong> (", f);
    es_html_json_number(f, json_object_get(p, "confidence"));
    fputs(")</p><p class=\"id\"><code>", f);
    esc(f, out->thumbs[k].id);
    fputs("</code></p></figure>\n", f);
  }
  fputs("</div>\n</section>\n", f);
}

int es_eval_report_html(FILE *f, const es_eval_outcome *out, es_error *err)
{
  const json_t *doc = out->doc;
  es_html_begin(f, "edgeset evaluation", CSS);
  fputs("<h1>Evaluation of <code>", f);
  esc(f, json_string_value(get(doc, "model.path")));
  fputs("</code> on split <code>", f);
  esc(f, json_string_value(get(doc, "dataset.split")));
  fputs("</code></h1>\n", f);
  fputs("<div class=\"cols\">\n", f);
  summary(f, doc);
  gates(f, doc);
  fputs("</div>\n<div class=\"cols\">\n", f);
  model_card(f, doc);
  dataset_section(f, doc);
  fputs("</div>\n<div class=\"cols\">\n", f);
  per_class(f, doc);
  fputs("</div>\n<div class=\"cols\">\n", f);
  confusion(f, doc);
  calibration(f, doc);
  fputs("</div>\n", f);
  groups(f, doc);
  binary(f, doc);
  baseline(f, doc);
  gallery(f, out);
  es_html_end(f);
  if (ferror(f))
    return es_error_set(err, ES_EIO, "cannot write the report");
  return ES_OK;
}

void es_eval_summary_text(FILE *f, const json_t *doc)
{
  const json_t *m = json_object_get(doc, "metrics");
  fprintf(f, "split %s: %lld items, accuracy %.6g (95%% CI %.6g-%.6g), balanced accuracy %.6g, "
             "macro F1 %.6g, ECE %.6g\n",
          es_show(json_string_value(get(doc, "dataset.split"))),
          (long long)json_integer_value(json_object_get(m, "items")), dbl(m, "accuracy"),
          dbl(m, "accuracy_ci95.lo"), dbl(m, "accuracy_ci95.hi"), dbl(m, "balanced_accuracy"),
          dbl(m, "macro.f1"), dbl(m, "calibration.ece"));
  const json_t *pc = json_object_get(m, "per_class");
  fprintf(f, "%-24s %8s %10s %10s %10s\n", "class", "support", "precision", "recall", "F1");
  for (size_t k = 0; k < json_array_size(pc); k++) {
    const json_t *c = json_array_get(pc, k);
    fprintf(f, "%-24s %8lld %10.6g %10.6g %10.6g\n",
            es_show(json_string_value(json_object_get(c, "label"))),
            (long long)json_integer_value(json_object_get(c, "support")), dbl(c, "precision"),
            dbl(c, "recall"), dbl(c, "f1"));
  }
  if (json_is_object(get(m, "binary")))
    fprintf(f, "ROC AUC (positive %s): %.6g\n",
            es_show(json_string_value(get(m, "binary.positive"))), dbl(m, "binary.roc_auc"));
  if (json_is_object(json_object_get(doc, "baseline")))
    fprintf(f, "vs baseline: accuracy %+.6g, McNemar exact p = %.6g on %lld common items\n",
            dbl(doc, "baseline.accuracy_delta"), dbl(doc, "baseline.mcnemar.p_value"),
            (long long)json_integer_value(get(doc, "baseline.mcnemar.common")));
  const json_t *checks = get(doc, "gates.checks");
  for (size_t k = 0; k < json_array_size(checks); k++) {
    const json_t *c = json_array_get(checks, k);
    fprintf(f, "gate --%s %.6g: %.6g %s\n", json_string_value(json_object_get(c, "gate")),
            dbl(c, "limit"), dbl(c, "value"),
            json_is_true(json_object_get(c, "passed")) ? "passed" : "FAILED");
  }
  fprintf(f, "verdict: %s\n", json_string_value(get(doc, "gates.verdict")));
}
