/*
 * monitor_drift_html.c - the HTML page of `cairn monitor drift --html`:
 * a summary, a chart of drift scores, the per-feature table and one chart
 * per feature (reference vs current histogram, or category bars).
 *
 * Key idea: the page is self-contained — inline CSS and inline SVG drawn
 * here, no script and no external reference — so it can be archived as a
 * CI artifact and opened offline. Every piece of text from the data (file
 * and column names, category values) goes through one escaper that is
 * valid for HTML and XML alike (& < > " ' escaped, control characters and
 * invalid UTF-8 replaced), so each <svg> is well-formed XML.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "monitor_drift.h"

#define ERR(code, ...) cairn_error_set(code, CAIRN_SUBSYS_CLI, __VA_ARGS__)
#define W 640       /* chart width */
#define H 200       /* histogram height */
#define PAD 40      /* left and bottom margins */
#define MAX_BARS 24 /* categories drawn per feature (reference, then new ones) */
#define REF_COLOR "#4c78a8"
#define CUR_COLOR "#f58518"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || (n == 2 && c < 0xc2)) return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (n == 3) {
        unsigned cp = ((c & 15u) << 12) | ((s[1] & 63u) << 6) | (s[2] & 63u);
        if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    }
    if (n == 4) {
        unsigned cp = ((c & 7u) << 18) | ((s[1] & 63u) << 12);
        if (cp < 0x10000 || cp > 0x10ffff) return 0;
    }
    return n;
}

/* Writes s as HTML/XML text (also safe inside a quoted attribute). */
static void esc(FILE *fp, const char *s)
{
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    while (*u) {
        unsigned c = *u;
        int n = utf8_len(u);
        if (c == '&')
            fputs("&amp;", fp);
        else if (c == '<')
            fputs("&lt;", fp);
        else if (c == '>')
            fputs("&gt;", fp);
        else if (c == '"')
            fputs("&quot;", fp);
        else if (c == '\'')
            fputs("&#39;", fp);
        else if ((c < 0x20 && c != '\t') || c == 0x7f || n == 0)
            fputs("\xef\xbf\xbd", fp); /* U+FFFD */
        else
            fwrite(u, 1, (size_t)n, fp);
        u += n ? n : 1;
    }
}

static void num(FILE *fp, double v)
{
    if (isnan(v))
        fputs("-", fp);
    else
        fprintf(fp, "%.4g", v);
}

/* The drift scores: one row per feature, its bar on its own axis ([0, 1]
 * for p-values, [0, max(2 threshold, score)] for distances), the threshold
 * as a vertical line. */
static void score_chart(FILE *fp, const cli_drift_report *r)
{
    int rowh = 22, h = r->n * rowh + 30, x0 = 200, bw = W - x0 - 160;
    fprintf(fp,
            "<svg width=\"%d\" height=\"%d\" "
            "role=\"img\" aria-label=\"drift scores\">\n",
            W, h);
    for (int i = 0; i < r->n; i++) {
        const cli_drift_feature *d = &r->f[i];
        int y = 10 + i * rowh;
        double s = d->r.score, t = d->r.threshold;
        double axis = cairn_drift_score_is_pvalue(d->r.stat) ? 1.0 : fmax(2 * t, isnan(s) ? 0 : s);
        if (!(axis > 0)) axis = 1;
        double len = isnan(s) ? 0 : fmin(s / axis, 1.0) * bw;
        fprintf(fp, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"end\">", x0 - 6,
                y + 14);
        esc(fp, d->name);
        fprintf(fp, "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"16\" fill=\"%s\"/>\n",
                x0, y + 2, len, d->r.drift ? "#d62728" : "#2ca02c");
        fprintf(fp,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#000\" "
                "stroke-dasharray=\"3,2\"/>\n",
                x0 + t / axis * bw, y, x0 + t / axis * bw, y + 20);
        fprintf(fp, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s ", x0 + bw + 6, y + 14,
                cairn_drift_stat_name(d->r.stat));
        num(fp, s);
        fputs(" / ", fp);
        num(fp, t);
        fputs("</text>\n", fp);
    }
    fprintf(fp,
            "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#555\">bar: score; dashed: "
            "threshold; red: drift</text>\n</svg>\n",
            x0, h - 6);
}

/* Bars of two share series over k slots, with labels under each slot
 * (NULL: numeric edges are drawn by the caller). */
static void bars(FILE *fp, int k, const double *ref, const double *cur, const char *const *labels)
{
    double top = 0;
    for (int i = 0; i < k; i++)
        top = fmax(top, fmax(ref[i], cur[i]));
    if (!(top > 0)) top = 1;
    double slot = (double)(W - PAD - 10) / (k > 0 ? k : 1);
    for (int i = 0; i < k; i++) {
        double x = PAD + i * slot, hr = ref[i] / top * (H - 20), hc = cur[i] / top * (H - 20);
        fprintf(fp,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                "fill-opacity=\"0.6\"/>\n",
                x + 1, H - hr, slot - 2, hr, REF_COLOR);
        fprintf(fp,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                "fill-opacity=\"0.45\" stroke=\"%s\"/>\n",
                x + 1 + slot * 0.25, H - hc, slot * 0.5 - 2 > 1 ? slot * 0.5 - 2 : 1, hc, CUR_COLOR,
                CUR_COLOR);
        if (labels) {
            fprintf(fp, "<text font-size=\"10\" transform=\"translate(%.1f,%d) rotate(40)\">",
                    x + slot / 2, H + 12);
            esc(fp, labels[i]);
            fputs("</text>\n", fp);
        }
    }
    fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", PAD, H, W - 10,
            H);
    fprintf(fp, "<text x=\"4\" y=\"14\" font-size=\"10\">%.3g</text>\n", top);
    fprintf(fp,
            "<rect x=\"%d\" y=\"4\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" "
            "y=\"13\" font-size=\"11\">reference</text><rect x=\"%d\" y=\"4\" width=\"10\" "
            "height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"13\" font-size=\"11\">current</text>\n",
            W - 170, REF_COLOR, W - 156, W - 90, CUR_COLOR, W - 76);
}

/* A numeric feature: shares per histogram bin of the profile; current
 * shares from the sketch's CDF (exact at its bucket boundaries). */
static void numeric_chart(FILE *fp, const cli_drift_feature *d)
{
    cairn_profile_numeric pn;
    cairn_profile_feature_numeric(d->pf, &pn);
    uint64_t n = cairn_sketch_count(d->sk), below = 0, above = 0;
    const uint64_t *bc;
    cairn_sketch_bins(d->sk, &bc, &below, &above);
    int k = pn.n_hist_edges > 1 ? pn.n_hist_edges - 1 : 0;
    static const int max_k = 10000;
    double *ref = cairn_calloc((size_t)max_k * 2, sizeof(double)), *cur = ref + max_k;
    if (k > max_k) k = max_k;
    for (int i = 0; i < k; i++) {
        ref[i] = pn.count ? (double)pn.hist_counts[i] / (double)pn.count : 0;
        if (!n) {
            cur[i] = 0;
            continue;
        }
        double lo = i == 0 ? (double)below / (double)n : cairn_sketch_cdf(d->sk, pn.hist_edges[i]);
        double hi = i == k - 1 ? 1.0 - (double)above / (double)n
                               : cairn_sketch_cdf(d->sk, pn.hist_edges[i + 1]);
        cur[i] = fmax(hi - lo, 0);
    }
    fprintf(fp,
            "<svg width=\"%d\" height=\"%d\" "
            "role=\"img\" aria-label=\"histogram of ",
            W, H + 40);
    esc(fp, d->name);
    fputs("\">\n", fp);
    bars(fp, k, ref, cur, NULL);
    if (k > 0) {
        fprintf(fp, "<text x=\"%d\" y=\"%d\" font-size=\"10\">", PAD, H + 14);
        num(fp, pn.hist_edges[0]);
        fprintf(fp, "</text><text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">", W - 10,
                H + 14);
        num(fp, pn.hist_edges[k]);
        fputs("</text>\n", fp);
    }
    fprintf(fp,
            "<text x=\"%d\" y=\"%d\" font-size=\"11\">current below the reference's min: "
            "%.2f%%, above its max: %.2f%%</text>\n</svg>\n",
            PAD, H + 34, n ? 100.0 * (double)below / (double)n : 0,
            n ? 100.0 * (double)above / (double)n : 0);
    cairn_free(ref);
}

/* A categorical feature: the profile's categories (and its other bucket),
 * then current categories the profile does not list. */
static void categorical_chart(FILE *fp, const cli_drift_feature *d)
{
    cairn_profile_categorical pc;
    cairn_profile_feature_categorical(d->pf, &pc);
    uint64_t n = cairn_catcount_count(d->cc), listed = 0;
    double ref[MAX_BARS + 2], cur[MAX_BARS + 2];
    const char *labels[MAX_BARS + 2];
    int k = 0;
    for (int i = 0; i < pc.n_categories && k < MAX_BARS; i++, k++) {
        uint64_t c = cairn_catcount_get(d->cc, pc.names[i]);
        listed += c;
        labels[k] = pc.names[i];
        ref[k] = pc.count ? (double)pc.counts[i] / (double)pc.count : 0;
        cur[k] = n ? (double)c / (double)n : 0;
    }
    int full = k == pc.n_categories;
    for (int i = 0; full && i < cairn_catcount_size(d->cc) && k < MAX_BARS; i++) {
        uint64_t c;
        const char *name = cairn_catcount_name(d->cc, i, &c);
        int known = 0;
        for (int j = 0; j < pc.n_categories && !known; j++)
            known = !strcmp(pc.names[j], name);
        if (known || c == 0) continue;
        listed += c;
        labels[k] = name;
        ref[k] = 0;
        cur[k++] = n ? (double)c / (double)n : 0;
    }
    /* everything else: the profile's other bucket, current values not drawn */
    uint64_t ref_listed = 0;
    for (int i = 0; i < k && i < pc.n_categories; i++)
        ref_listed += pc.counts[i];
    labels[k] = "(other)";
    ref[k] = pc.count ? (double)(pc.count - ref_listed) / (double)pc.count : 0;
    cur[k] = n ? (double)(n - listed) / (double)n : 0;
    if (ref[k] > 0 || cur[k] > 0) k++;

    fprintf(fp,
            "<svg width=\"%d\" height=\"%d\" "
            "role=\"img\" aria-label=\"categories of ",
            W, H + 70);
    esc(fp, d->name);
    fputs("\">\n", fp);
    bars(fp, k, ref, cur, labels);
    fputs("</svg>\n", fp);
}

static void feature_table(FILE *fp, const cli_drift_report *r)
{
    fputs("<table>\n<tr><th>feature</th><th>type</th><th>statistic</th><th>score</th>"
          "<th>threshold</th><th>drift</th><th>missing</th><th>out of range</th>"
          "<th>new category</th></tr>\n",
          fp);
    for (int i = 0; i < r->n; i++) {
        const cli_drift_feature *d = &r->f[i];
        fprintf(fp, "<tr%s><td><a href=\"#f%d\">", d->r.drift ? " class=\"drift\"" : "", i);
        esc(fp, d->name);
        fprintf(fp, "</a></td><td>%s</td><td>%s</td><td>",
                d->categorical ? "categorical" : "numeric", cairn_drift_stat_name(d->r.stat));
        num(fp, d->r.score);
        fputs("</td><td>", fp);
        num(fp, d->r.threshold);
        fprintf(fp, "</td><td>%s</td><td>%.2f%%</td><td>%.2f%%</td><td>%.2f%%</td></tr>\n",
                d->r.drift ? "yes" : "no", 100 * d->r.missing_rate, 100 * d->r.out_of_range_rate,
                100 * d->r.new_category_rate);
    }
    fputs("</table>\n", fp);
}

int cli_drift_write_html(const cli_drift_report *r, const char *path)
{
    FILE *fp = fopen(path, "w");
    if (!fp) return ERR(CAIRN_EIO, "%s: cannot write: %s", path, strerror(errno));
    fputs(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<title>Cairn drift report</title>\n<style>\n"
        "body{font-family:sans-serif;margin:2em;color:#222}\n"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
        "text-align:left}\ntr.drift td{background:#fde0e0}\n.verdict{font-weight:bold}\n"
        "section{margin-top:2em}\n</style>\n</head>\n<body>\n<h1>Drift report</h1>\n<p>Reference: ",
        fp);
    esc(fp, r->reference);
    fprintf(fp, " (%llu rows)<br>Current: ", (unsigned long long)r->reference_rows);
    esc(fp, r->current);
    fprintf(fp, " (%llu rows)", (unsigned long long)r->current_rows);
    if (r->target) {
        fputs("<br>Target (excluded): ", fp);
        esc(fp, r->target);
    }
    fprintf(fp,
            "</p>\n<p class=\"verdict\">%d of %d columns drifted (%.1f%%). Dataset drift: "
            "%s (rule: at least half of the columns drift).</p>\n",
            r->drifted, r->n, 100 * r->share, r->dataset_drift ? "yes" : "no");
    for (int i = 0; i < r->n_skipped; i++) {
        fputs("<p>Skipped: ", fp);
        esc(fp, r->skipped[i]);
        fputs("</p>\n", fp);
    }
    fputs("<h2>Drift scores</h2>\n", fp);
    score_chart(fp, r);
    fputs("<h2>Columns</h2>\n", fp);
    feature_table(fp, r);
    for (int i = 0; i < r->n; i++) {
        const cli_drift_feature *d = &r->f[i];
        fprintf(fp, "<section id=\"f%d\">\n<h3>", i);
        esc(fp, d->name);
        fprintf(fp, " — %s, %s ", d->categorical ? "categorical" : "numeric",
                cairn_drift_stat_name(d->r.stat));
        num(fp, d->r.score);
        fprintf(fp, " (threshold ");
        num(fp, d->r.threshold);
        fprintf(fp, "): %s</h3>\n", d->r.drift ? "drift" : "no drift");
        if (d->categorical)
            categorical_chart(fp, d);
        else
            numeric_chart(fp, d);
        fputs("</section>\n", fp);
    }
    fputs("</body>\n</html>\n", fp);
    int bad = ferror(fp);
    if (fclose(fp) != 0 || bad) return ERR(CAIRN_EIO, "%s: write error", path);
    return 0;
}
