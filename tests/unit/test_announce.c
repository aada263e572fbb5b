/* SPDX-License-Identifier: MIT */
/* announce: the file that tells vmlab-watch which demo runs now. */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "announce.h"
#include "suite.h"

/* The text, read back through a file of its own as vmlab-watch reads it. */
static bool parse(const char *text, struct announcement *a)
{
    char path[] = "/tmp/vmlab-announce-text-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t len = strlen(text);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    bool ok = announce_read(path, a);
    unlink(path);
    return ok;
}

START_TEST(parses_what_it_writes)
{
    struct announcement a;
    ck_assert(parse("pid 42\ndemo mmap-anon\nstep 2/5\naddr 7f00aa000000\n"
                             "title Write one byte\n", &a));
    ck_assert_int_eq(a.pid, 42);
    ck_assert_str_eq(a.demo, "mmap-anon");
    ck_assert_int_eq(a.step, 2);
    ck_assert_int_eq(a.steps, 5);
    ck_assert_uint_eq(a.addr, 0x7f00aa000000);
    ck_assert_str_eq(a.title, "Write one byte");
}
END_TEST

START_TEST(hostile_text_is_refused_or_bounded)
{
    struct announcement a;
    ck_assert(!parse("", &a));
    ck_assert(!parse("demo x\n", &a));             /* no pid */
    ck_assert(!parse("pid -3\ndemo x\n", &a));     /* not a PID */
    ck_assert(!parse("pid 12abc\ndemo x\n", &a));
    ck_assert(parse("pid 7\ndemo x\naddr zz\nstep 9\nfuture 1\n", &a));
    ck_assert_uint_eq(a.addr, 0);
    ck_assert_int_eq(a.step, 0);
    char long_line[4096]; /* longer than the reader's 1023 bytes: it is cut, not overrun */
    memset(long_line, 'x', sizeof long_line - 1);
    long_line[sizeof long_line - 1] = '\0';
    memcpy(long_line, "pid 5\ndemo ", 11);
    ck_assert(parse(long_line, &a));
    ck_assert_uint_lt(strlen(a.demo), sizeof a.demo);
}
END_TEST

START_TEST(write_read_clear_round_trip)
{
    char dir[] = "/tmp/vmlab-announce-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("XDG_RUNTIME_DIR", dir, 1);
    struct announcement a = {.pid = getpid(), .step = 1, .steps = 3, .addr = 0x1000};
    strcpy(a.demo, "fixture");
    strcpy(a.title, "A title");
    announce_write(&a);
    char path[512];
    ck_assert(announce_path(path, sizeof path));
    struct announcement b;
    ck_assert(announce_read(path, &b));
    ck_assert_int_eq(b.pid, getpid());
    ck_assert_str_eq(b.title, "A title");
    announce_clear();
    ck_assert_int_ne(access(path, F_OK), 0);
    /* A symlink in its place is never followed. */
    ck_assert_int_eq(symlink("/etc/passwd", path), 0);
    ck_assert(!announce_read(path, &b));
    unlink(path);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("announce");
    TCase *tc = tcase_create("file");
    tcase_add_test(tc, parses_what_it_writes);
    tcase_add_test(tc, hostile_text_is_refused_or_bounded);
    tcase_add_test(tc, write_read_clear_round_trip);
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
