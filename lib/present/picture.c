/* SPDX-License-Identifier: MIT */
/* picture: the SVG that --svg writes from a run's own measurements. */
#define _GNU_SOURCE
#include "picture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "narrate.h"

#define MAX_BARS 32
#define MAX_PICS 16
#define MAX_SERIES 8
#define MAX_SAMPLES 256
#define WIDTH 800
#define CELLS_PER_ROW 64
#define MAX_CELLS 4096   /* a longer picture is drawn several pages a square */

struct bar {
    char label[200];
    int64_t before, after;
};

struct pic {
    char label[256];
    char *cells;
};

struct series {
    char key[48];
    int64_t v[MAX_SAMPLES];
    size_t n;
};

struct picture_book {
    struct bar bars[MAX_BARS];
    size_t nbars;
    struct pic pics[MAX_PICS];
    size_t npics;
    struct series series[MAX_SERIES];
    size_t nseries;
    int64_t limit_kB;    /* the memory limit a series ran under; -1 unknown */
    bool incomplete;
};

bool picture_book_add_step(struct picture_book **book, const struct narrator *n)
{
    if (!*book) {
        *book = calloc(1, sizeof **book);
        if (!*book)
            return false;
        (*book)->limit_kB = -1;
    }
    struct picture_book *b = *book;
    for (size_t i = 0; i < n->nrows; i++) {
        const struct narrate_row *r = &n->rows[i];
        if (strcmp(r->key, "Committed_AS") != 0 || !r->has_before || !r->has_after)
            continue;
        if (b->nbars == MAX_BARS) {
            b->incomplete = true;
            break;
        }
        struct bar *bar = &b->bars[b->nbars++];
        snprintf(bar->label, sizeof bar->label, "%d. %s", n->step, n->title);
        bar->before = r->before;
        bar->after = r->after;
    }
    for (size_t i = 0; i < n->nfacts; i++) {
        const struct narrate_fact *f = &n->facts[i];
        if (f->picture) {
            if (b->npics == MAX_PICS || !(b->pics[b->npics].cells = strdup(f->picture))) {
                b->incomplete = true;
                continue;
            }
            snprintf(b->pics[b->npics].label, sizeof b->pics[0].label, "%d. %s: %s", n->step,
                     n->title, f->key);
            b->npics++;
        } else if (f->is_series && strncmp(f->key, "samples_", 8) == 0) {
            if (b->nseries == MAX_SERIES) {
                b->incomplete = true;
                continue;
            }
            struct series *s = &b->series[b->nseries++];
            snprintf(s->key, sizeof s->key, "%s", f->key);
            s->n = narrate_series_values(f, s->v, MAX_SAMPLES);
        } else if (f->is_number && (strcmp(f->key, "effective_limit_bytes") == 0 ||
                                    (strcmp(f->key, "limit_bytes") == 0 && b->limit_kB < 0))) {
            b->limit_kB = strtoll(f->text, NULL, 10) / 1024;
        }
    }
    return true;
}

/* A line of text at x, y ("font-size=..." and the like in attrs), as XML character data. */
static void text_at(FILE *out, int x, int y, const char *attrs, const char *s)
{
    fprintf(out, "<text x=\"%d\" y=\"%d\" %s>", x, y, attrs);
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*s, out);
        }
    }
    fputs("</text>\n", out);
}

static void heading(FILE *out, int *y, const char *text)
{
    *y += 28;
    text_at(out, 20, *y, "font-size=\"16\" font-weight=\"bold\"", text);
    *y += 10;
}

static void draw_bars(FILE *out, const struct picture_book *b, int64_t commit_limit, int *y)
{
    int64_t top = commit_limit > 0 ? commit_limit : 0;
    for (size_t i = 0; i < b->nbars; i++) {
        if (b->bars[i].before > top)
            top = b->bars[i].before;
        if (b->bars[i].after > top)
            top = b->bars[i].after;
    }
    if (b->nbars == 0 || top <= 0)
        return;
    heading(out, y, "Commit charge (Committed_AS) before and after each step");
    const int x0 = 300, span = 460;
    int first = *y;
    for (size_t i = 0; i < b->nbars; i++) {
        const struct bar *bar = &b->bars[i];
        char label[48];
        snprintf(label, sizeof label, "%.44s%s", bar->label, strlen(bar->label) > 44 ? "..." : "");
        text_at(out, 20, *y + 14, "font-size=\"11\"", label);
        fprintf(out, "<rect class=\"before\" x=\"%d\" y=\"%d\" width=\"%lld\" height=\"8\" "
                     "fill=\"#9e9e9e\"/>\n",
                x0, *y + 2, (long long)(bar->before * span / top));
        fprintf(out, "<rect class=\"after\" x=\"%d\" y=\"%d\" width=\"%lld\" height=\"8\" "
                     "fill=\"#1565c0\"/>\n",
                x0, *y + 11, (long long)(bar->after * span / top));
        *y += 24;
    }
    if (commit_limit > 0) {
        int x = x0 + (int)(commit_limit * span / top);
        fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#c62828\" "
                     "stroke-width=\"2\"/>\n<text x=\"%d\" y=\"%d\" font-size=\"11\" "
                     "fill=\"#c62828\" text-anchor=\"end\">CommitLimit %lld kB</text>\n",
                x, first, x, *y, x - 4, *y + 12, (long long)commit_limit);
    }
    text_at(out, x0, *y + 26, "font-size=\"11\"", "grey: before, blue: after");
    *y += 34;
}

static void draw_pic(FILE *out, const struct pic *p, int *y)
{
    size_t pages = strlen(p->cells);
    size_t per = (pages + MAX_CELLS - 1) / MAX_CELLS; /* pages a square */
    if (per == 0)
        per = 1;
    char label[400];
    snprintf(label, sizeof label, "%s (%zu page%s%s)", p->label, pages, pages == 1 ? "" : "s",
             per > 1 ? "; a square is several pages, darker: more resident" : "");
    heading(out, y, label);
    size_t squares = (pages + per - 1) / per;
    for (size_t s = 0; s < squares; s++) {
        size_t resident = 0, from = s * per, to = from + per < pages ? from + per : pages;
        for (size_t i = from; i < to; i++)
            resident += p->cells[i] == '#' ? 2 : p->cells[i] == '+' ? 1 : 0;
        const char *fill = resident == 0 ? "#e0e0e0" : resident == 2 * (to - from) ? "#2e7d32"
                                                                                 : "#a5d6a7";
        fprintf(out, "<rect x=\"%zu\" y=\"%zu\" width=\"8\" height=\"8\" fill=\"%s\"/>\n",
                20 + (s % CELLS_PER_ROW) * 9, (size_t)*y + (s / CELLS_PER_ROW) * 9, fill);
    }
    *y += (int)((squares + CELLS_PER_ROW - 1) / CELLS_PER_ROW) * 9 + 8;
}

static const struct series *find_series(const struct picture_book *b, const char *key)
{
    for (size_t i = 0; i < b->nseries; i++)
        if (strcmp(b->series[i].key, key) == 0)
            return &b->series[i];
    return NULL;
}

/* Memory, drawn against the limit: not VmSize, which is address space (under
 * AddressSanitizer, terabytes) and would flatten everything else. */
static bool plotted(const struct series *s, const struct series *t)
{
    return s != t && strstr(s->key, "_kB") && !strstr(s->key, "VmSize");
}

static void draw_series(FILE *out, const struct picture_book *b, int *y)
{
    const struct series *t = find_series(b, "samples_t_ms");
    if (!t || t->n < 2)
        return;
    static const char *const colors[] = {"#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f"};
    int64_t top = b->limit_kB > 0 ? b->limit_kB : 1, tmax = t->v[t->n - 1] > 0 ? t->v[t->n - 1] : 1;
    for (size_t i = 0; i < b->nseries; i++)
        if (plotted(&b->series[i], t))
            for (size_t k = 0; k < b->series[i].n; k++)
                if (b->series[i].v[k] > top)
                    top = b->series[i].v[k];
    heading(out, y, "Over time (kB), against the memory limit");
    *y += 10;
    const int x0 = 60, w = 700, h = 240, y0 = *y + h;
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                 "stroke=\"#616161\"/>\n", x0, *y, w, h);
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\">0</text><text x=\"%d\" y=\"%d\" "
                 "font-size=\"11\" text-anchor=\"end\">%lld ms</text>\n",
            x0, y0 + 14, x0 + w, y0 + 14, (long long)tmax);
    if (b->limit_kB > 0) {
        int ly = y0 - (int)(b->limit_kB * h / top);
        fprintf(out, "<line class=\"limit\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                     "stroke=\"#c62828\" stroke-dasharray=\"6 4\" stroke-width=\"2\"/>\n"
                     "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#c62828\">limit %lld kB"
                     "</text>\n",
                x0, ly, x0 + w, ly, x0 + 4, ly + 14, (long long)b->limit_kB);
    }
    int legend = 0;
    for (size_t i = 0; i < b->nseries; i++) {
        const struct series *s = &b->series[i];
        if (!plotted(s, t))
            continue;
        const char *color = colors[legend % 5];
        fprintf(out, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                     "points=\"", color);
        for (size_t k = 0; k < s->n && k < t->n; k++)
            fprintf(out, "%lld,%lld ", (long long)x0 + (long long)(t->v[k] * w / tmax),
                    (long long)y0 - (long long)(s->v[k] * h / top));
        fputs("\"/>\n", out);
        char attrs[48];
        snprintf(attrs, sizeof attrs, "font-size=\"11\" fill=\"%s\"", color);
        text_at(out, x0 + 10 + 170 * legend, y0 + 30, attrs, s->key + 8);
        legend++;
    }
    *y = y0 + 44;
}

int picture_book_write(const struct picture_book *b, const char *path, const char *demo,
                       int64_t commit_limit_kB)
{
    char *body = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&body, &len);
    if (!out)
        return -1;
    char title[128];
    snprintf(title, sizeof title, "%s: what this run measured", demo);
    text_at(out, 20, 30, "font-size=\"20\" font-weight=\"bold\"", title);
    int y = 40;
    if (b) {
        draw_bars(out, b, commit_limit_kB, &y);
        for (size_t i = 0; i < b->npics; i++)
            draw_pic(out, &b->pics[i], &y);
        draw_series(out, b, &y);
        if (b->incomplete) {
            y += 20;
            text_at(out, 20, y, "font-size=\"12\"", "(more was measured than this picture holds)");
        }
    }
    if (y == 40) {
        y += 24;
        text_at(out, 20, y, "font-size=\"12\"", "Nothing to draw: this run measured no commit "
                "charge, residency or time series.");
    }
    if (fclose(out) != 0) {
        free(body);
        return -1;
    }
    FILE *f = fopen(path, "we");
    if (!f) {
        free(body);
        return -1;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" "
               "fill=\"white\"/>\n",
            WIDTH, y + 20);
    fwrite(body, 1, len, f);
    fputs("</svg>\n", f);
    free(body);
    int err = ferror(f) ? EIO : 0;
    if (fclose(f) != 0 || err) {
        errno = err ? err : errno;
        return -1;
    }
    return 0;
}

void picture_book_free(struct picture_book *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->npics; i++)
        free(b->pics[i].cells);
    free(b);
}
