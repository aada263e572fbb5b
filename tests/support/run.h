/* SPDX-License-Identifier: MIT */
/* run: start a demo as a child process and collect what it printed and how
 * it ended - the demo tests judge the program from the outside, as a student
 * or a grading script would. */
#ifndef VMLAB_TEST_RUN_H
#define VMLAB_TEST_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"

struct run_result {
    int exit_code;      /* -1 when killed by a signal */
    int signal;         /* the signal that killed it, or 0 */
    char *out, *err;    /* everything written to stdout and stderr, NUL-terminated */
    size_t out_len, err_len;
};

enum run_as { RUN_AS_SELF, RUN_AS_NOBODY };

/* Runs argv[0] (a path) with stdin from /dev/null. RUN_AS_NOBODY drops to
 * uid/gid 65534 first (the caller must be root). Returns 0, or -1 if the
 * program could not be started. */
int run_program(const char *const argv[], enum run_as as, struct run_result *r);
void run_result_free(struct run_result *r);

/* The demo's directory, from the VMLAB_DEMO_DIR environment variable that
 * CTest sets. */
const char *demo_dir(void);
/* Copies a program into a fresh directory any user may read and enter, so
 * that an unprivileged run works even from a build tree under /root.
 * Returns the new path (static buffer) or NULL. */
const char *copy_for_nobody(const char *path);
/* Copies a program into dir (made by an earlier copy_for_nobody); returns
 * the new path (static buffer) or NULL. */
const char *copy_program_into(const char *dir, const char *path);
/* Removes such a copy and its directory. */
void remove_copy(const char *copy);

/* Splits the captured stdout into lines and parses each as JSON. Returns the
 * number of objects, or -1 (with the bad line in err) if any is not JSON. */
int parse_json_lines(const char *text, struct json **objs, int max, char *err, size_t errlen);
void free_json_lines(struct json **objs, int n);

/* Number of lines in text (a last line without '\n' counts). */
int count_lines(const char *text);

#endif
