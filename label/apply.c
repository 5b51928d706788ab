/* Applying labels: the new label of every item is decided in a scratch array first (source,
 * then renames, then the vocabulary check), and the manifest is touched only when nothing in
 * the input was wrong, so that a bad line changes nothing. */
#include <stdlib.h>
#include <string.h>

#include "core/show.h"
#include "formats/csv.h"
#include "formats/path_escape.h"
#include "label/label.h"

void es_label_result_free(es_label_result *r)
{
  if (!r)
    return;
  json_decref(r->conflicts);
  es_vocab_free(&r->vocab_out);
  memset(r, 0, sizeof *r);
}

int es_label_from_parse(const char *spec, es_label_from *f, es_error *err)
{
  memset(f, 0, sizeof *f);
  if (!strncmp(spec, "dir:", 4)) {
    char *end = NULL;
    unsigned long v = strtoul(spec + 4, &end, 10);
    if (!spec[4] || *end || v < 1 || v > 64 || spec[4] == '-' || spec[4] == '+')
      return es_error_set(err, ES_EUSAGE, "--from '%s': N in dir:N must be 1 to 64",
                          es_show(spec));
    f->kind = ES_LABEL_FROM_DIR;
    f->levels = (unsigned)v;
    return ES_OK;
  }
  if (!strncmp(spec, "csv:", 4) && spec[4]) {
    f->kind = ES_LABEL_FROM_CSV;
    f->file = spec + 4;
    return ES_OK;
  }
  if (!strncmp(spec, "jsonl:", 6) && spec[6]) {
    f->kind = ES_LABEL_FROM_JSONL;
    f->file = spec + 6;
    return ES_OK;
  }
  return es_error_set(err, ES_EUSAGE, "--from '%s': expected dir:N, csv:FILE or jsonl:FILE",
                      es_show(spec));
}

/* ---- finding items by path or id ---- */

typedef struct path_ref {
  const char *path;
  size_t item;
} path_ref;

static int cmp_path_ref(const void *a, const void *b)
{
  const path_ref *x = a, *y = b;
  int c = strcmp(x->path, y->path);
  return c ? c : (x->item > y->item) - (x->item < y->item);
}

typedef struct lookup {
  const es_manifest *m;
  path_ref *refs;
  size_t n;
} lookup;

static int lookup_build(lookup *L, const es_manifest *m, es_error *err)
{
  L->m = m;
  L->n = 0;
  size_t total = 0;
  for (size_t i = 0; i < m->n; i++)
    total += m->items[i].n_seen;
  L->refs = malloc((total ? total : 1) * sizeof *L->refs);
  if (!L->refs)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  for (size_t i = 0; i < m->n; i++)
    for (size_t k = 0; k < m->items[i].n_seen; k++)
      L->refs[L->n++] = (path_ref){m->items[i].seen[k].path, i};
  qsort(L->refs, L->n, sizeof *L->refs, cmp_path_ref);
  return ES_OK;
}

static int is_id(const char *s, size_t n)
{
  if (n != ES_ID_HEX)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return 1;
}

/* Calls out[] with the items the key names: an id, a path of an occurrence, or a file whose
 * name is <id>.<ext> (an object path or an exported file). Returns the count (at most max). */
static size_t lookup_key(const lookup *L, const char *key, size_t *out, size_t max)
{
  size_t n = 0;
  if (is_id(key, strlen(key))) {
    const es_item *it = es_manifest_find(L->m, key);
    if (it)
      out[n++] = (size_t)(it - L->m->items);
    return n;
  }
  size_t lo = 0, hi = L->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(L->refs[mid].path, key) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (size_t j = lo; j < L->n && !strcmp(L->refs[j].path, key); j++)
    if (n < max && (n == 0 || out[n - 1] != L->refs[j].item))
      out[n++] = L->refs[j].item;
  if (n)
    return n;
  const char *base = strrchr(key, '/');
  base = base ? base + 1 : key;
  const char *dot = strchr(base, '.');
  if (dot && is_id(base, (size_t)(dot - base))) {
    char id[ES_ID_HEX + 1];
    memcpy(id, base, ES_ID_HEX);
    id[ES_ID_HEX] = '\0';
    const es_item *it = es_manifest_find(L->m, id);
    if (it)
      out[n++] = (size_t)(it - L->m->items);
  }
  return n;
}

/* ---- the scratch state ---- */

typedef struct work {
  const es_manifest *m;
  const es_label_opts *o;
  char **lab;          /* new label per item (owned), NULL = null */
  size_t *set_line;    /* line that set the item (0 = not set by the source) */
  es_label_problems *probs;
  es_vocab *vocab;     /* after renames; NULL when none */
  size_t set;
} work;

/* The name after the renames. */
static const char *renamed(const es_label_opts *o, const char *s)
{
  for (size_t r = 0; r < o->n_renames; r++)
    if (!strcmp(s, o->renames[r].from))
      s = o->renames[r].to;
  return s;
}

static int set_items(work *W, const lookup *L, const char *where, size_t line, const char *key,
                     const char *label, es_error *err)
{
  const char *why = es_label_invalid(label);
  if (why)
    return es_label_problems_add(W->probs, err, "%s line %zu: label '%s': %s", where, line,
                                 es_show(label), why);
  const char *final = renamed(W->o, label);
  if (W->vocab && es_vocab_find(W->vocab, final) < 0)
    return es_label_problems_add(W->probs, err,
                                 "%s line %zu: unknown label '%s' (not in the vocabulary)", where,
                                 line, es_show(final));
  size_t items[64];
  size_t n = lookup_key(L, key, items, 64);
  if (!n)
    return es_label_problems_add(W->probs, err, "%s line %zu: unknown path or id '%s'", where,
                                 line, es_show(key));
  for (size_t k = 0; k < n; k++) {
    size_t i = items[k];
    if (W->set_line[i] && strcmp(W->lab[i], final))
      return es_label_problems_add(W->probs, err,
                                   "%s line %zu: '%s' is labelled '%s' here but '%s' on line %zu",
                                   where, line, es_show(key), es_show(final), es_show(W->lab[i]),
                                   W->set_line[i]);
    char *c = strdup(final);
    if (!c)
      return es_error_set(err, ES_ENOMEM, "out of memory");
    free(W->lab[i]);
    W->lab[i] = c;
    if (!W->set_line[i])
      W->set++;
    W->set_line[i] = line;
  }
  return ES_OK;
}

static int lower_eq(const char *a, const char *b)
{
  for (; *a && *b; a++, b++)
    if ((*a | 0x20) != *b)
      return 0;
  return !*a && !*b;
}

static int from_csv(work *W, const lookup *L, es_error *err)
{
  const es_label_from *f = &W->o->from;
  es_csv c;
  int rc = es_csv_parse(f->buf, f->len, &c, err);
  if (rc)
    return rc;
  char where[ES_SHOW_BUF + 2];
  snprintf(where, sizeof where, "'%s'", es_show(f->file));
  size_t start = 0, kcol = 0, lcol = 1, ncols = 2;
  if (c.n && !c.recs[0].bad && c.recs[0].n >= 2) {
    const es_csv_record *h = &c.recs[0];
    long kc = -1, lc = -1;
    for (size_t j = 0; j < h->n; j++) {
      if (lower_eq(h->fields[j], "path") || lower_eq(h->fields[j], "id") ||
          lower_eq(h->fields[j], "file"))
        kc = kc < 0 ? (long)j : kc;
      else if (lower_eq(h->fields[j], "label"))
        lc = lc < 0 ? (long)j : lc;
    }
    if (kc >= 0 && lc >= 0) {
      start = 1;
      kcol = (size_t)kc;
      lcol = (size_t)lc;
      ncols = h->n;
    }
  }
  for (size_t r = start; r < c.n && rc == ES_OK; r++) {
    const es_csv_record *rec = &c.recs[r];
    if (rec->bad)
      rc = es_label_problems_add(W->probs, err, "%s line %zu: malformed CSV: %s", where, rec->line,
                             rec->bad);
    else if (rec->n != ncols)
      rc = es_label_problems_add(W->probs, err, "%s line %zu: %zu fields, expected %zu", where,
                             rec->line, rec->n, ncols);
    else
      rc = set_items(W, L, where, rec->line, rec->fields[kcol], rec->fields[lcol], err);
  }
  es_csv_free(&c);
  return rc;
}

static int from_jsonl(work *W, const lookup *L, es_error *err)
{
  const es_label_from *f = &W->o->from;
  char where[ES_SHOW_BUF + 2];
  snprintf(where, sizeof where, "'%s'", es_show(f->file));
  size_t i = 0, line = 0;
  int rc = ES_OK;
  while (i < f->len && rc == ES_OK) {
    line++;
    const char *e = memchr(f->buf + i, '\n', f->len - i);
    size_t l = e ? (size_t)(e - (f->buf + i)) : f->len - i;
    const char *s = f->buf + i;
    i += l + (e ? 1 : 0);
    size_t k = 0;
    while (k < l && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
      k++;
    if (k == l)
      continue;
    if (l > ES_LABEL_JSONL_MAX_LINE) { /* not handed to jansson: its tree would be ~20x this */
      rc = es_label_problems_add(W->probs, err, "%s line %zu: line longer than %d bytes", where,
                                 line, ES_LABEL_JSONL_MAX_LINE);
      continue;
    }
    json_error_t je;
    json_t *o = json_loadb(s, l, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
      rc = es_label_problems_add(W->probs, err, "%s line %zu: not a JSON object%s%s", where, line,
                             o ? "" : ": ", o ? "" : je.text);
      json_decref(o);
      continue;
    }
    json_t *jp = json_object_get(o, "path"), *ji = json_object_get(o, "id");
    json_t *jl = json_object_get(o, "label");
    const char *why = NULL;
    if ((jp != NULL) == (ji != NULL))
      why = "give exactly one of \"path\" and \"id\"";
    else if ((jp && !json_is_string(jp)) || (ji && !json_is_string(ji)))
      why = "\"path\" and \"id\" must be strings";
    else if (!json_is_string(jl))
      why = "\"label\" must be a string";
    else if (json_object_size(o) != 2)
      why = "unexpected keys (expected \"path\" or \"id\", and \"label\")";
    if (why) {
      rc = es_label_problems_add(W->probs, err, "%s line %zu: %s", where, line, why);
    } else if (ji) {
      const char *id = json_string_value(ji);
      if (!is_id(id, strlen(id)))
        rc = es_label_problems_add(W->probs, err,
                                   "%s line %zu: id '%s' is not 32 lowercase hex digits", where,
                                   line, es_show(id));
      else
        rc = set_items(W, L, where, line, id, json_string_value(jl), err);
    } else {
      es_error perr = {0};
      char *raw = es_path_unescape(json_string_value(jp), &perr);
      if (!raw)
        rc = es_label_problems_add(W->probs, err, "%s line %zu: %s", where, line, perr.msg);
      else
        rc = set_items(W, L, where, line, raw, json_string_value(jl), err);
      free(raw);
    }
    json_decref(o);
  }
  return rc;
}

/* The folder `levels` above the file, malloc'd, or NULL when the path has no such folder. */
static char *folder_above(const char *path, unsigned levels)
{
  const char *end = path + strlen(path);
  while (end > path && end[-1] == '/')
    end--;
  /* strip the file name */
  for (unsigned k = 0; k < levels; k++) {
    while (end > path && end[-1] != '/')
      end--;
    if (end == path)
      return NULL;
    while (end > path && end[-1] == '/')
      end--;
  }
  const char *start = end;
  while (start > path && start[-1] != '/')
    start--;
  if (start == end)
    return NULL;
  return strndup(start, (size_t)(end - start));
}

static int from_dir(work *W, json_t *folder_conflicts, size_t *unmatched, es_error *err)
{
  const es_manifest *m = W->m;
  unsigned levels = W->o->from.levels;
  int rc = ES_OK;
  for (size_t i = 0; i < m->n && rc == ES_OK; i++) {
    const es_item *it = &m->items[i];
    char *first = NULL;
    json_t *paths = NULL, *labels = NULL;
    for (size_t k = 0; k < it->n_seen && rc == ES_OK; k++) {
      char *d = folder_above(it->seen[k].path, levels);
      if (!d)
        continue;
      const char *why = es_label_invalid(d);
      if (why) {
        rc = es_label_problems_add(W->probs, err, "path '%s': folder '%s' is not a label: %s",
                                   es_show(it->seen[k].path), es_show(d), why);
        free(d);
        continue;
      }
      const char *fin = renamed(W->o, d);
      if (W->vocab && es_vocab_find(W->vocab, fin) < 0) {
        rc = es_label_problems_add(W->probs, err,
                                   "path '%s': unknown label '%s' (not in the vocabulary)",
                                   es_show(it->seen[k].path), es_show(fin));
        free(d);
        continue;
      }
      if (!first) {
        first = strdup(fin);
        if (!first)
          rc = es_error_set(err, ES_ENOMEM, "out of memory");
      } else if (strcmp(first, fin)) {
        if (!labels) {
          labels = json_array();
          paths = json_array();
          json_array_append_new(labels, json_string(first));
          char *e0 = es_path_escape(it->seen[0].path, NULL);
          json_array_append_new(paths, json_string(e0 ? e0 : ""));
          free(e0);
        }
        json_array_append_new(labels, json_string(fin));
        char *ek = es_path_escape(it->seen[k].path, NULL);
        json_array_append_new(paths, json_string(ek ? ek : ""));
        free(ek);
      }
      free(d);
    }
    if (labels)
      json_array_append_new(folder_conflicts, json_pack("{s:s, s:o, s:o}", "id", it->id,
                                                        "labels", labels, "paths", paths));
    if (!first) {
      (*unmatched)++;
      continue;
    }
    free(W->lab[i]);
    W->lab[i] = first;
    W->set_line[i] = 1;
    W->set++;
  }
  return rc;
}

json_t *es_label_cluster_conflicts(const es_manifest *m, es_error *err)
{
  /* items sorted by (cluster, id): a cluster's members are adjacent */
  size_t *ord = malloc((m->n ? m->n : 1) * sizeof *ord);
  json_t *out = json_array();
  if (!ord || !out) {
    free(ord);
    json_decref(out);
    es_error_set(err, ES_ENOMEM, "out of memory");
    return NULL;
  }
  size_t n = 0;
  for (size_t i = 0; i < m->n; i++)
    if (m->items[i].cluster[0])
      ord[n++] = i;
  /* m is sorted by id; a stable grouping by cluster keeps ids in order within a cluster */
  es_strmap pos = {0};
  size_t *next = malloc((n ? n : 1) * sizeof *next), *head_of = malloc((n ? n : 1) * sizeof *head_of);
  size_t nclusters = 0;
  char **cl_name = malloc((n ? n : 1) * sizeof *cl_name);
  size_t *tail = malloc((n ? n : 1) * sizeof *tail);
  if (!next || !head_of || !cl_name || !tail)
    goto nomem;
  for (size_t j = 0; j < n; j++) {
    const es_item *it = &m->items[ord[j]];
    size_t c;
    if (!es_strmap_get(&pos, it->cluster, &c)) {
      c = nclusters++;
      if (es_strmap_put(&pos, it->cluster, c, err))
        goto fail;
      cl_name[c] = (char *)it->cluster;
      head_of[c] = j;
      tail[c] = j;
    } else {
      next[tail[c]] = j;
      tail[c] = j;
    }
    next[j] = SIZE_MAX;
  }
  for (size_t c = 0; c < nclusters; c++) {
    const char *first = NULL;
    int mixed = 0;
    for (size_t j = head_of[c]; j != SIZE_MAX; j = next[j]) {
      const char *l = m->items[ord[j]].label;
      if (!l)
        continue;
      if (!first)
        first = l;
      else if (strcmp(first, l))
        mixed = 1;
    }
    if (!mixed)
      continue;
    json_t *labels = json_object(), *items = json_array();
    for (size_t j = head_of[c]; j != SIZE_MAX; j = next[j]) {
      const es_item *it = &m->items[ord[j]];
      json_array_append_new(items, json_string(it->id));
      if (!it->label)
        continue;
      json_t *cnt = json_object_get(labels, it->label);
      json_object_set_new(labels, it->label,
                          json_integer(cnt ? json_integer_value(cnt) + 1 : 1));
    }
    json_array_append_new(out, json_pack("{s:s, s:o, s:o}", "cluster", cl_name[c], "labels",
                                         labels, "items", items));
  }
  free(ord);
  free(next);
  free(head_of);
  free(cl_name);
  free(tail);
  es_strmap_free(&pos);
  return out;
nomem:
  es_error_set(err, ES_ENOMEM, "out of memory");
fail:
  free(ord);
  free(next);
  free(head_of);
  free(cl_name);
  free(tail);
  es_strmap_free(&pos);
  json_decref(out);
  return NULL;
}

static int vocab_copy(const es_vocab *in, es_vocab *out, es_error *err)
{
  memset(out, 0, sizeof *out);
  out->names = calloc(in->n ? in->n : 1, sizeof *out->names);
  if (!out->names)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  for (size_t i = 0; i < in->n; i++) {
    out->names[i] = strdup(in->names[i]);
    if (!out->names[i]) {
      out->n = i;
      es_vocab_free(out);
      return es_error_set(err, ES_ENOMEM, "out of memory");
    }
  }
  out->n = in->n;
  return ES_OK;
}

/* Renames in the vocabulary: OLD becomes NEW in place, or disappears when NEW is already a
 * class (a merge). */
static int vocab_rename(es_vocab *v, const char *from, const char *to, es_error *err)
{
  long i = es_vocab_find(v, from);
  if (i < 0)
    return ES_OK;
  if (es_vocab_find(v, to) >= 0) {
    free(v->names[i]);
    memmove(&v->names[i], &v->names[i + 1], (v->n - (size_t)i - 1) * sizeof *v->names);
    v->n--;
    return ES_OK;
  }
  char *c = strdup(to);
  if (!c)
    return es_error_set(err, ES_ENOMEM, "out of memory");
  free(v->names[i]);
  v->names[i] = c;
  return ES_OK;
}

int es_label_apply(es_manifest *m, const es_label_opts *o, es_label_result *res,
                   es_label_problems *probs, es_error *err)
{
  memset(res, 0, sizeof *res);
  int rc = ES_OK;
  size_t nprob = probs->n;
  lookup L = {0};
  work W = {.m = m, .o = o, .probs = probs};
  json_t *folders = json_array();
  W.lab = calloc(m->n ? m->n : 1, sizeof *W.lab);
  W.set_line = calloc(m->n ? m->n : 1, sizeof *W.set_line);
  if (!W.lab || !W.set_line || !folders) {
    rc = es_error_set(err, ES_ENOMEM, "out of memory");
    goto cleanup;
  }
  if (o->vocab) {
    if ((rc = vocab_copy(o->vocab, &res->vocab_out, err)))
      goto cleanup;
    W.vocab = &res->vocab_out;
  }
  /* renames: each OLD must be a class somebody has (or the vocabulary lists) */
  for (size_t r = 0; r < o->n_renames; r++) {
    const char *from = o->renames[r].from, *to = o->renames[r].to;
    const char *why = es_label_invalid(to);
    if (why) {
      if ((rc = es_label_problems_add(probs, err, "--rename %s=%s: %s", es_show(from), es_show(to),
                                      why)))
        goto cleanup;
      continue;
    }
    int known = W.vocab && es_vocab_find(W.vocab, from) >= 0;
    for (size_t i = 0; i < m->n && !known; i++)
      known = m->items[i].label && !strcmp(renamed(&(es_label_opts){.renames = o->renames,
                                                                     .n_renames = r},
                                                   m->items[i].label),
                                           from);
    if (!known && o->from.kind == ES_LABEL_FROM_NONE &&
        (rc = es_label_problems_add(probs, err, "--rename %s=%s: no item has label '%s'",
                                    es_show(from), es_show(to), es_show(from))))
      goto cleanup;
    if (W.vocab && (rc = vocab_rename(W.vocab, from, to, err)))
      goto cleanup;
  }
  for (size_t i = 0; i < m->n; i++)
    if (m->items[i].label && !(W.lab[i] = strdup(renamed(o, m->items[i].label)))) {
      rc = es_error_set(err, ES_ENOMEM, "out of memory");
      goto cleanup;
    }
  switch (o->from.kind) {
  case ES_LABEL_FROM_DIR:
    rc = from_dir(&W, folders, &res->unmatched, err);
    break;
  case ES_LABEL_FROM_CSV:
  case ES_LABEL_FROM_JSONL:
    if ((rc = lookup_build(&L, m, err)))
      break;
    rc = o->from.kind == ES_LABEL_FROM_CSV ? from_csv(&W, &L, err) : from_jsonl(&W, &L, err);
    break;
  case ES_LABEL_FROM_NONE:
    break;
  }
  if (rc)
    goto cleanup;
  /* labels the source did not set must still fit the vocabulary */
  if (W.vocab)
    for (size_t i = 0; i < m->n; i++)
      if (W.lab[i] && !W.set_line[i] && es_vocab_find(W.vocab, W.lab[i]) < 0 &&
          (rc = es_label_problems_add(probs, err, "item %s: label '%s' is not in the vocabulary",
                                      m->items[i].id, es_show(W.lab[i]))))
        goto cleanup;
  if (probs->n > nprob) {
    rc = es_error_set(err, ES_EUSAGE, "%zu problems in the input; nothing was changed",
                      probs->n - nprob);
    goto cleanup;
  }
  res->set = W.set;
  for (size_t i = 0; i < m->n; i++) {
    es_item *it = &m->items[i];
    int same = (!it->label && !W.lab[i]) || (it->label && W.lab[i] && !strcmp(it->label, W.lab[i]));
    if (same)
      continue;
    res->changed++;
    free(it->label);
    it->label = W.lab[i];
    W.lab[i] = NULL;
  }
  json_t *clusters = es_label_cluster_conflicts(m, err);
  if (!clusters) {
    rc = err ? err->code : ES_ENOMEM;
    goto cleanup;
  }
  res->conflicts = json_pack("{s:o, s:O}", "clusters", clusters, "folders", folders);

cleanup:
  if (W.lab)
    for (size_t i = 0; i < m->n; i++)
      free(W.lab[i]);
  free(W.lab);
  free(W.set_line);
  free(L.refs);
  json_decref(folders);
  if (rc)
    es_label_result_free(res);
  return rc;
}
