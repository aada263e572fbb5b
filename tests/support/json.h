/* SPDX-License-Identifier: MIT */
/* A small, strict JSON reader for the tests: the demos' --json output must be
 * valid JSON (RFC 8259, UTF-8) before any fact in it is checked. */
#ifndef VMLAB_TEST_JSON_H
#define VMLAB_TEST_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
    enum json_type type;
    bool boolean;
    double number;
    bool is_integer;
    int64_t integer;
    char *string;          /* JSON_STRING, NUL-terminated (no NULs inside) */
    size_t count;          /* items of an array or members of an object */
    char **keys;           /* JSON_OBJECT */
    struct json *items;
};

/* Parses one JSON text (a whole line of JSON Lines); NULL if invalid, with
 * a reason in err. */
struct json *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(struct json *v);

/* Member of an object, or NULL. */
const struct json *json_get(const struct json *obj, const char *key);
/* Follows "a.b.c" through nested objects. */
const struct json *json_path(const struct json *obj, const char *path);
bool json_get_int(const struct json *obj, const char *path, int64_t *out);
const char *json_get_string(const struct json *obj, const char *path);

#endif
