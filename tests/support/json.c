/* SPDX-License-Identifier: MIT */
/* json: a recursive-descent JSON reader, strict on purpose. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    const char *s, *end;
    char *err;
    size_t errlen;
    int depth;
};

static bool fail(struct parser *p, const char *why)
{
    if (p->err && p->err[0] == '\0')
        snprintf(p->err, p->errlen, "%s at offset %ld", why, (long)(p->end - p->s));
    return false;
}

static void skip_ws(struct parser *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

static bool parse_value(struct parser *p, struct json *v);

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void put_utf8(char *out, size_t *n, unsigned cp)
{
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xc0 | (cp >> 6));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xe0 | (cp >> 12));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*n)++] = (char)(0xf0 | (cp >> 18));
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    }
}

/* Length of a valid UTF-8 sequence at s (within end), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
    size_t len;
    unsigned min, cp;
    if (s[0] < 0x80) return 1;
    if ((s[0] & 0xe0) == 0xc0) { len = 2; min = 0x80; cp = s[0] & 0x1f; }
    else if ((s[0] & 0xf0) == 0xe0) { len = 3; min = 0x800; cp = s[0] & 0x0f; }
    else if ((s[0] & 0xf8) == 0xf0) { len = 4; min = 0x10000; cp = s[0] & 0x07; }
    else return 0;
    if ((size_t)(end - s) < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

static bool parse_hex4(struct parser *p, unsigned *cp)
{
    if (p->end - p->s < 4)
        return fail(p, "short \\u escape");
    *cp = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p->s[i]);
        if (h < 0)
            return fail(p, "bad \\u escape");
        *cp = (*cp << 4) | (unsigned)h;
    }
    p->s += 4;
    return true;
}

static bool parse_string(struct parser *p, char **out)
{
    p->s++; /* opening quote */
    size_t cap = (size_t)(p->end - p->s) + 1, n = 0;
    char *buf = malloc(cap * 2 + 4);
    if (!buf)
        return fail(p, "out of memory");
    while (p->s < p->end && *p->s != '"') {
        unsigned char c = (unsigned char)*p->s;
        if (c < 0x20) {
            free(buf);
            return fail(p, "raw control character in string");
        }
        if (c == '\\') {
            p->s++;
            if (p->s >= p->end) break;
            char e = *p->s++;
            unsigned cp;
            switch (e) {
            case '"': buf[n++] = '"'; break;
            case '\\': buf[n++] = '\\'; break;
            case '/': buf[n++] = '/'; break;
            case 'b': buf[n++] = '\b'; break;
            case 'f': buf[n++] = '\f'; break;
            case 'n': buf[n++] = '\n'; break;
            case 'r': buf[n++] = '\r'; break;
            case 't': buf[n++] = '\t'; break;
            case 'u':
                if (!parse_hex4(p, &cp)) { free(buf); return false; }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;
                    if (p->end - p->s < 2 || p->s[0] != '\\' || p->s[1] != 'u') {
                        free(buf);
                        return fail(p, "lone high surrogate");
                    }
                    p->s += 2;
                    if (!parse_hex4(p, &lo)) { free(buf); return false; }
                    if (lo < 0xdc00 || lo > 0xdfff) { free(buf); return fail(p, "bad surrogate pair"); }
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    free(buf);
                    return fail(p, "lone low surrogate");
                }
                if (cp == 0) { free(buf); return fail(p, "NUL in string"); }
                put_utf8(buf, &n, cp);
                break;
            default:
                free(buf);
                return fail(p, "bad escape");
            }
            continue;
        }
        size_t len = utf8_len((const unsigned char *)p->s, (const unsigned char *)p->end);
        if (len == 0) {
            free(buf);
            return fail(p, "invalid UTF-8");
        }
        memcpy(buf + n, p->s, len);
        n += len;
        p->s += len;
    }
    if (p->s >= p->end) {
        free(buf);
        return fail(p, "unterminated string");
    }
    p->s++;
    buf[n] = '\0';
    *out = buf;
    return true;
}

static bool parse_number(struct parser *p, struct json *v)
{
    const char *start = p->s;
    if (p->s < p->end && *p->s == '-') p->s++;
    if (p->s >= p->end) return fail(p, "bad number");
    if (*p->s == '0') p->s++;
    else if (*p->s >= '1' && *p->s <= '9') while (p->s < p->end && *p->s >= '0' && *p->s <= '9') p->s++;
    else return fail(p, "bad number");
    bool integer = true;
    if (p->s < p->end && *p->s == '.') {
        integer = false;
        p->s++;
        if (p->s >= p->end || *p->s < '0' || *p->s > '9') return fail(p, "bad fraction");
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9') p->s++;
    }
    if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
        integer = false;
        p->s++;
        if (p->s < p->end && (*p->s == '+' || *p->s == '-')) p->s++;
        if (p->s >= p->end || *p->s < '0' || *p->s > '9') return fail(p, "bad exponent");
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9') p->s++;
    }
    char tmp[64];
    size_t len = (size_t)(p->s - start);
    if (len >= sizeof tmp) return fail(p, "number too long");
    memcpy(tmp, start, len);
    tmp[len] = '\0';
    v->type = JSON_NUMBER;
    v->number = strtod(tmp, NULL);
    v->is_integer = integer && fabs(v->number) < 9.0e18;
    if (v->is_integer) v->integer = strtoll(tmp, NULL, 10);
    return true;
}

static bool parse_literal(struct parser *p, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, word, n) != 0)
        return fail(p, "unexpected character");
    p->s += n;
    return true;
}

static bool append_item(struct json *v, char *key)
{
    struct json *items = realloc(v->items, (v->count + 1) * sizeof *items);
    if (!items) return false;
    v->items = items;
    memset(&v->items[v->count], 0, sizeof v->items[0]);
    if (v->type == JSON_OBJECT) {
        char **keys = realloc(v->keys, (v->count + 1) * sizeof *keys);
        if (!keys) return false;
        v->keys = keys;
        v->keys[v->count] = key;
    }
    v->count++;
    return true;
}

static bool parse_container(struct parser *p, struct json *v, bool object)
{
    char close = object ? '}' : ']';
    v->type = object ? JSON_OBJECT : JSON_ARRAY;
    if (++p->depth > 64) return fail(p, "nested too deep");
    p->s++;
    skip_ws(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
        p->depth--;
        return true;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(p);
        if (object) {
            if (p->s >= p->end || *p->s != '"') return fail(p, "expected a key");
            if (!parse_string(p, &key)) return false;
            for (size_t i = 0; i < v->count; i++)
                if (strcmp(v->keys[i], key) == 0) { free(key); return fail(p, "duplicate key"); }
            skip_ws(p);
            if (p->s >= p->end || *p->s != ':') { free(key); return fail(p, "expected ':'"); }
            p->s++;
        }
        if (!append_item(v, key)) { free(key); return fail(p, "out of memory"); }
        if (!parse_value(p, &v->items[v->count - 1])) return false;
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') { p->s++; continue; }
        if (p->s < p->end && *p->s == close) { p->s++; p->depth--; return true; }
        return fail(p, "expected ',' or a closing bracket");
    }
}

static bool parse_value(struct parser *p, struct json *v)
{
    skip_ws(p);
    if (p->s >= p->end) return fail(p, "unexpected end");
    switch (*p->s) {
    case '{': return parse_container(p, v, true);
    case '[': return parse_container(p, v, false);
    case '"': v->type = JSON_STRING; return parse_string(p, &v->string);
    case 't': v->type = JSON_BOOL; v->boolean = true; return parse_literal(p, "true");
    case 'f': v->type = JSON_BOOL; v->boolean = false; return parse_literal(p, "false");
    case 'n': v->type = JSON_NULL; return parse_literal(p, "null");
    default: return parse_number(p, v);
    }
}

static void free_inner(struct json *v)
{
    for (size_t i = 0; i < v->count; i++) {
        free_inner(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
}

struct json *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct parser p = {text, text + len, err, errlen, 0};
    if (err && errlen) err[0] = '\0';
    struct json *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    bool ok = parse_value(&p, v);
    if (ok) {
        skip_ws(&p);
        if (p.s != p.end) ok = fail(&p, "trailing characters");
    }
    if (!ok) {
        json_free(v);
        return NULL;
    }
    return v;
}

void json_free(struct json *v)
{
    if (!v) return;
    free_inner(v);
    free(v);
}

const struct json *json_get(const struct json *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->count; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

const struct json *json_path(const struct json *obj, const char *path)
{
    char part[128];
    while (obj && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof part) return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        obj = json_get(obj, part);
        path += n + (dot ? 1 : 0);
    }
    return obj;
}

bool json_get_int(const struct json *obj, const char *path, int64_t *out)
{
    const struct json *v = json_path(obj, path);
    if (!v || v->type != JSON_NUMBER || !v->is_integer) return false;
    *out = v->integer;
    return true;
}

const char *json_get_string(const struct json *obj, const char *path)
{
    const struct json *v = json_path(obj, path);
    return v && v->type == JSON_STRING ? v->string : NULL;
}
