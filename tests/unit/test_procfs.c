/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/kernel/procfs.c, fed with real and hand-broken /proc samples
 * from tests/fixtures/. Every malformed input must give an error status,
 * never a crash or a read past the end (the asan preset runs these too). */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "procfs.h"
#include "suite.h"

static enum procfs_status parse_fixture(const char *name, uintptr_t addr, struct smaps_entry *e)
{
    FILE *f = open_fixture(name);
    enum procfs_status st = smaps_parse_entry(f, addr, e);
    fclose(f);
    return st;
}

static FILE *text(const char *s)
{
    FILE *f = fmemopen((void *)s, strlen(s), "r");
    ck_assert_ptr_nonnull(f);
    return f;
}

static uint64_t field(const struct smaps_entry *e, const char *key)
{
    uint64_t v = 0;
    ck_assert_msg(smaps_get(e, key, &v), "field %s is absent", key);
    return v;
}

/* ---- smaps ---- */

START_TEST(smaps_real_entry_by_address)
{
    struct smaps_entry e;
    /* An address inside the second mapping (the text of /usr/bin/cat). */
    ck_assert_int_eq(parse_fixture("smaps-6.18-cat.txt", 0x5640a581c123, &e), PROCFS_OK);
    ck_assert_uint_eq(e.start, 0x5640a581b000);
    ck_assert_uint_eq(e.end, 0x5640a5820000);
    ck_assert_str_eq(e.perms, "r-xp");
    ck_assert_uint_eq(e.offset, 0x2000);
    ck_assert_str_eq(e.name, "/usr/bin/cat");
    ck_assert_uint_eq(field(&e, "Size"), 20);
    ck_assert_uint_eq(field(&e, "Rss"), 20);
    ck_assert_uint_eq(field(&e, "Pss_Dirty"), 0);
    ck_assert_uint_eq(field(&e, "THPeligible"), 0);
    ck_assert(e.has_vmflags);
    ck_assert_str_eq(e.vmflags, "rd ex mr mw me");
    ck_assert(smaps_has_flag(&e, "ex"));
    ck_assert(smaps_has_flag(&e, "me"));
    ck_assert(!smaps_has_flag(&e, "wr"));
    ck_assert(!smaps_has_flag(&e, "e")); /* a part of a flag is not a flag */
    char header[512];
    smaps_format_header(&e, header, sizeof header);
    ck_assert_str_eq(header, "5640a581b000-5640a5820000 r-xp 00002000 fe:00 247134   /usr/bin/cat");
}
END_TEST

START_TEST(smaps_range_edges)
{
    struct smaps_entry e;
    /* The last byte belongs to the entry; its end address to the next one. */
    ck_assert_int_eq(parse_fixture("smaps-6.18-cat.txt", 0x5640a581ffff, &e), PROCFS_OK);
    ck_assert_uint_eq(e.start, 0x5640a581b000);
    ck_assert_int_eq(parse_fixture("smaps-6.18-cat.txt", 0x5640a5820000, &e), PROCFS_OK);
    ck_assert_uint_eq(e.start, 0x5640a5820000);
    ck_assert_str_eq(e.perms, "r--p");
    ck_assert_int_eq(parse_fixture("smaps-6.18-cat.txt", 0x1000, &e), PROCFS_NOT_FOUND);
}
END_TEST

START_TEST(smaps_stops_after_its_entry)
{
    struct smaps_entry e;
    FILE *f = open_fixture("smaps-6.18-cat.txt");
    ck_assert_int_eq(smaps_parse_entry(f, 0x5640a5819000, &e), PROCFS_OK);
    long pos = ftell(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    /* The first entry is 25 lines of a 950-line file: it must not read on. */
    ck_assert_msg(pos < size / 10, "read %ld of %ld bytes for the first entry", pos, size);
}
END_TEST

START_TEST(smaps_older_kernel_layout)
{
    struct smaps_entry e;
    uint64_t v;
    ck_assert_int_eq(parse_fixture("smaps-4.19-no-pss-dirty.txt", 0x7f3a1c800000, &e), PROCFS_OK);
    ck_assert_str_eq(e.name, "");
    ck_assert_uint_eq(field(&e, "Size"), 16384);
    ck_assert_uint_eq(field(&e, "Rss"), 4);
    ck_assert_uint_eq(field(&e, "Private_Dirty"), 4);
    /* Fields newer kernels add are absent, not zero. */
    ck_assert(!smaps_get(&e, "Pss_Dirty", &v));
    ck_assert(!smaps_get(&e, "KSM", &v));
    ck_assert(!smaps_get(&e, "THPeligible", &v));
    ck_assert(smaps_has_flag(&e, "nh"));
    ck_assert_int_eq(parse_fixture("smaps-4.19-no-pss-dirty.txt", 0x7ffc8a3e1000, &e), PROCFS_OK);
    ck_assert_str_eq(e.name, "[stack]");
    ck_assert(smaps_has_flag(&e, "gd"));
}
END_TEST

START_TEST(smaps_unknown_keys_and_empty_values)
{
    struct smaps_entry e;
    uint64_t v;
    ck_assert_int_eq(parse_fixture("smaps-unknown-keys.txt", 0x7f0000000000, &e), PROCFS_OK);
    ck_assert_uint_eq(field(&e, "FutureCounter"), 123);
    ck_assert_uint_eq(field(&e, "SomeFlagWithoutUnit"), 7);
    ck_assert_uint_eq(field(&e, "Private_Dirty"), 8);
    ck_assert(!smaps_get(&e, "NewEmptyField", &v));
    ck_assert(smaps_has_flag(&e, "zz"));
    /* An empty VmFlags line is a mapping with no flags, not an error. */
    ck_assert_int_eq(parse_fixture("smaps-unknown-keys.txt", 0x7f0000010000, &e), PROCFS_OK);
    ck_assert(e.has_vmflags);
    ck_assert_str_eq(e.vmflags, "");
    ck_assert(!smaps_has_flag(&e, "rd"));
}
END_TEST

START_TEST(smaps_missing_rss_is_absent)
{
    struct smaps_entry e;
    uint64_t v = 12345;
    ck_assert_int_eq(parse_fixture("smaps-missing-rss.txt", 0x7f0000001000, &e), PROCFS_OK);
    ck_assert(!smaps_get(&e, "Rss", &v));
    ck_assert_uint_eq(v, 12345); /* untouched: absent is not 0 */
    ck_assert_uint_eq(field(&e, "Size"), 16);
}
END_TEST

START_TEST(smaps_broken_inputs)
{
    struct smaps_entry e;
    ck_assert_int_eq(parse_fixture("smaps-truncated.txt", 0x5640a5819000, &e), PROCFS_TRUNCATED);
    ck_assert_int_eq(parse_fixture("smaps-overflow.txt", 0x7f0000000000, &e), PROCFS_OVERFLOW);
    ck_assert_int_eq(parse_fixture("smaps-bad-number.txt", 0x7f0000000000, &e), PROCFS_MALFORMED);
    ck_assert_int_eq(parse_fixture("smaps-header-overflow.txt", 0x7f0000000000, &e),
                     PROCFS_OVERFLOW);
    ck_assert_int_eq(parse_fixture("smaps-nul-byte.txt", 0x7f0000000000, &e), PROCFS_MALFORMED);
}
END_TEST

START_TEST(smaps_hostile_text)
{
    struct smaps_entry e;
    static const char *const cases[] = {
        "",                                      /* empty: nothing covers it */
        "7f00-7f10 rw-p 0 00:00 0\n",            /* header only: found, no fields */
        "7f10-7f00 rw-p 0 00:00 0\n",            /* end before start */
        "7f00-7f10 rw-p\n",                      /* header cut short */
        "7f00-7f10 rw-p 0 00:00 0\nRss 4 kB\n",  /* no colon */
        "7f00-7f10 rw-p 0 00:00 0\nRss: -4 kB\n",
        "7f00-7f10 rw-p 0 00:00 0\nRss: 4 kB extra\n",
        "7f00-7f10 rw-p 0 00:00 0\n: 4 kB\n",
        "7f00-7f10 rw-p 0 00:00 0\nRs s: 4 kB\n",
        "7f00-7f10 rw-p 0 00:00 0\nRss: 4 kB",   /* last line without newline */
    };
    static const enum procfs_status want[] = {
        PROCFS_NOT_FOUND, PROCFS_OK, PROCFS_MALFORMED, PROCFS_MALFORMED, PROCFS_MALFORMED,
        PROCFS_MALFORMED, PROCFS_MALFORMED, PROCFS_MALFORMED, PROCFS_MALFORMED, PROCFS_TRUNCATED,
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = cases[i][0] ? text(cases[i]) : fopen("/dev/null", "re");
        ck_assert_ptr_nonnull(f);
        enum procfs_status st = smaps_parse_entry(f, 0x7f08, &e);
        fclose(f);
        ck_assert_msg(st == want[i], "case %zu: got '%s', want '%s'", i, procfs_strerror(st),
                      procfs_strerror(want[i]));
    }
}
END_TEST

START_TEST(smaps_very_long_lines)
{
    /* A name longer than any buffer, then an enormous unknown key: both cut
     * or skipped, the fields after them still read. */
    size_t n = 10000;
    char *buf = malloc(3 * n);
    ck_assert_ptr_nonnull(buf);
    int len = snprintf(buf, 3 * n, "7f00-7f10 rw-p 0 00:00 0 /");
    memset(buf + len, 'a', n);
    len += (int)n;
    len += sprintf(buf + len, "\n");
    memset(buf + len, 'K', n);
    len += (int)n;
    len += sprintf(buf + len, ": 1 kB\nRss: 8 kB\n");
    FILE *f = fmemopen(buf, (size_t)len, "r");
    struct smaps_entry e;
    ck_assert_int_eq(smaps_parse_entry(f, 0x7f00, &e), PROCFS_OK);
    fclose(f);
    ck_assert_uint_eq(strlen(e.name), sizeof e.name - 1);
    ck_assert_uint_eq(field(&e, "Rss"), 8);
    free(buf);
}
END_TEST

START_TEST(smaps_live_mapping)
{
    long page = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, (size_t)page * 3, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    /* Split off the middle page so it is a mapping of its own. */
    ck_assert_int_eq(mprotect(p + page, (size_t)page, PROT_READ), 0);
    struct smaps_entry e;
    ck_assert_int_eq(smaps_read_entry((uintptr_t)(p + page), &e), PROCFS_OK);
    ck_assert_uint_eq(e.start, (uintptr_t)(p + page));
    ck_assert_uint_eq(e.end - e.start, (uintptr_t)page);
    ck_assert_str_eq(e.perms, "r--p");
    ck_assert_uint_eq(field(&e, "Size"), (uint64_t)page / 1024);
    ck_assert_uint_eq(field(&e, "Rss"), 0);
    munmap(p, (size_t)page * 3);
    ck_assert_int_eq(smaps_read_entry((uintptr_t)(p + page), &e), PROCFS_NOT_FOUND);
}
END_TEST

/* ---- meminfo and status ---- */

START_TEST(meminfo_by_key)
{
    struct procfs_want want[] = {{"MemTotal", 0, false}, {"HugePages_Total", 0, false},
                                 {"Committed_AS", 0, false}, {"NoSuchKey", 0, false},
                                 {"Active(anon)", 0, false}};
    FILE *f = open_fixture("meminfo-6.18.txt");
    ck_assert_int_eq(procfs_parse_wanted(f, want, 5, ':'), PROCFS_OK);
    fclose(f);
    ck_assert(want[0].present);
    ck_assert_uint_eq(want[0].value, 24684084);
    ck_assert(want[1].present);
    ck_assert_uint_eq(want[1].value, 0);
    ck_assert(want[2].present);
    ck_assert(!want[3].present);
    ck_assert(want[4].present);
}
END_TEST

START_TEST(meminfo_old_kernel_has_no_memavailable)
{
    struct procfs_want want[] = {{"MemAvailable", 99, false}, {"Committed_AS", 0, false}};
    FILE *f = open_fixture("meminfo-3.10-no-memavailable.txt");
    ck_assert_int_eq(procfs_parse_wanted(f, want, 2, ':'), PROCFS_OK);
    fclose(f);
    ck_assert(!want[0].present);
    ck_assert(want[1].present);
    ck_assert_uint_eq(want[1].value, 903556);
}
END_TEST

START_TEST(meminfo_broken)
{
    struct procfs_want want[] = {{"Committed_AS", 0, false}};
    FILE *f = open_fixture("meminfo-truncated.txt");
    ck_assert_int_eq(procfs_parse_wanted(f, want, 1, ':'), PROCFS_TRUNCATED);
    fclose(f);
    f = open_fixture("meminfo-no-colon.txt");
    ck_assert_int_eq(procfs_parse_wanted(f, want, 1, ':'), PROCFS_MALFORMED);
    fclose(f);
    f = text("Committed_AS: 18446744073709551616 kB\n");
    ck_assert_int_eq(procfs_parse_wanted(f, want, 1, ':'), PROCFS_OVERFLOW);
    fclose(f);
    f = text("Committed_AS: 18446744073709551615 kB\n");
    ck_assert_int_eq(procfs_parse_wanted(f, want, 1, ':'), PROCFS_OK);
    fclose(f);
    ck_assert_uint_eq(want[0].value, UINT64_MAX);
}
END_TEST

START_TEST(status_numbers_among_text)
{
    struct procfs_want want[] = {{"VmRSS", 0, false}, {"RssAnon", 0, false},
                                 {"HugetlbPages", 0, false}, {"VmPTE", 0, false}};
    FILE *f = open_fixture("status-6.18.txt");
    ck_assert_int_eq(procfs_parse_wanted(f, want, 4, ':'), PROCFS_OK);
    fclose(f);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(want[i].present, "%s absent", want[i].key);
    ck_assert_uint_eq(want[0].value, 1664);
    ck_assert_uint_eq(want[1].value, 112);
    /* Asking for a text field as a number is an error, not a 0. */
    struct procfs_want name[] = {{"Name", 0, false}};
    f = open_fixture("status-6.18.txt");
    ck_assert_int_eq(procfs_parse_wanted(f, name, 1, ':'), PROCFS_MALFORMED);
    fclose(f);
}
END_TEST

START_TEST(one_key_or_minus_one)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", VMLAB_FIXTURES, "meminfo-3.10-no-memavailable.txt");
    ck_assert_int_eq(procfs_read_one(path, "Committed_AS"), 903556);
    ck_assert_int_eq(procfs_read_one(path, "MemAvailable"), -1); /* absent, not 0 */
    ck_assert_int_eq(procfs_read_one("/nonexistent/meminfo", "MemTotal"), -1);
    snprintf(path, sizeof path, "%s/%s", VMLAB_FIXTURES, "meminfo-no-colon.txt");
    ck_assert_int_eq(procfs_read_one(path, "Committed_AS"), -1); /* malformed file */
}
END_TEST

/* ---- single values ---- */

START_TEST(number_values)
{
    static const struct { const char *in; enum procfs_status st; int64_t v; } cases[] = {
        {"0\n", PROCFS_OK, 0},
        {"  50  \n", PROCFS_OK, 50},
        {"-1000\n", PROCFS_OK, -1000},                 /* oom_score_adj */
        {"max\n", PROCFS_OK, INT64_MAX},               /* cgroup v2: no limit */
        {"9223372036854771712\n", PROCFS_OK, INT64_C(9223372036854771712)}, /* v1's */
        {"9223372036854775807\n", PROCFS_OK, INT64_MAX},
        {"9223372036854775808\n", PROCFS_OVERFLOW, 0},
        {"18446744073709551616\n", PROCFS_OVERFLOW, 0},
        {"abc\n", PROCFS_MALFORMED, 0},
        {"maximum\n", PROCFS_MALFORMED, 0},
        {"12x\n", PROCFS_MALFORMED, 0},
        {"- 1\n", PROCFS_MALFORMED, 0},
        {"5 6\n", PROCFS_MALFORMED, 0},
        {"5\n6\n", PROCFS_MALFORMED, 0},
        {"\n", PROCFS_MALFORMED, 0},
        {"7", PROCFS_TRUNCATED, 0},
        {"", PROCFS_TRUNCATED, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = 0;
        enum procfs_status st = procfs_parse_number(cases[i].in, strlen(cases[i].in), &v);
        ck_assert_msg(st == cases[i].st, "case %zu: %s", i, procfs_strerror(st));
        if (st == PROCFS_OK)
            ck_assert_int_eq(v, cases[i].v);
    }
    ck_assert_int_eq(procfs_parse_number("1\0\n", 3, &(int64_t){0}), PROCFS_MALFORMED);
}
END_TEST

/* The file reader, over files of its own: what the parser says, or PROCFS_IO
 * with errno for a file that is not there. */
START_TEST(number_files)
{
    char dir[] = "/tmp/vmlab-number-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/value", dir);
    static const struct { const char *in; enum procfs_status st; int64_t v; } cases[] = {
        {"42\n", PROCFS_OK, 42},
        {"-17\n", PROCFS_OK, -17},
        {"max\n", PROCFS_OK, INT64_MAX},
        {"42", PROCFS_TRUNCATED, 0},
        {"", PROCFS_TRUNCATED, 0},
        {"x\n", PROCFS_MALFORMED, 0},
        /* longer than any number: refused, not cut */
        {"                                                                  1\n", PROCFS_MALFORMED,
         0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs(cases[i].in, f);
        ck_assert_int_eq(fclose(f), 0);
        int64_t v = 0;
        enum procfs_status st = procfs_read_number(path, &v);
        ck_assert_msg(st == cases[i].st, "case %zu: %s", i, procfs_strerror(st));
        if (st == PROCFS_OK)
            ck_assert_int_eq(v, cases[i].v);
    }
    /* A line of words, as cgroup.controllers has it. */
    FILE *f = fopen(path, "we");
    ck_assert_ptr_nonnull(f);
    fputs("cpu io memory pids\n", f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert(procfs_lists_word(path, "memory"));
    ck_assert(procfs_lists_word(path, "pids"));
    ck_assert(!procfs_lists_word(path, "mem"));
    char text[8];
    ck_assert_int_eq(procfs_read_text(path, text, sizeof text), 7); /* cut to fit, ended */
    ck_assert_str_eq(text, "cpu io ");
    ck_assert_int_eq(unlink(path), 0);
    errno = 0;
    ck_assert_int_eq(procfs_read_number(path, &(int64_t){0}), PROCFS_IO);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert(!procfs_lists_word(path, "memory"));
    ck_assert_int_eq(procfs_read_text(path, text, sizeof text), -1);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(choice_values)
{
    char out[16];
    FILE *f = text("always [madvise] never\n");
    ck_assert_int_eq(procfs_parse_choice(f, out, sizeof out), PROCFS_OK);
    fclose(f);
    ck_assert_str_eq(out, "madvise");
    static const char *const bad[] = {"always madvise never\n", "[]\n", "[a] [b]\n", "[never\n"};
    for (size_t i = 0; i < 4; i++) {
        f = text(bad[i]);
        ck_assert_int_eq(procfs_parse_choice(f, out, sizeof out), PROCFS_MALFORMED);
        fclose(f);
    }
    f = text("[averyveryverylongchoice]\n");
    ck_assert_int_eq(procfs_parse_choice(f, out, sizeof out), PROCFS_OVERFLOW);
    fclose(f);
}
END_TEST

START_TEST(vm_sysctl_names)
{
    uint64_t v = 99;
    errno = 0;
    ck_assert_int_eq(procfs_read_vm_sysctl("../../etc/passwd", &v), PROCFS_IO);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(procfs_read_vm_sysctl("..", &v), PROCFS_IO);
    ck_assert_int_eq(procfs_read_vm_sysctl("no_such_knob", &v), PROCFS_IO);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(procfs_read_vm_sysctl("overcommit_memory", &v), PROCFS_OK);
    ck_assert_uint_le(v, 2);
}
END_TEST

static Suite *procfs_suite(void)
{
    Suite *s = suite_create("procfs");
    TCase *smaps = tcase_create("smaps");
    tcase_add_test(smaps, smaps_real_entry_by_address);
    tcase_add_test(smaps, smaps_range_edges);
    tcase_add_test(smaps, smaps_stops_after_its_entry);
    tcase_add_test(smaps, smaps_older_kernel_layout);
    tcase_add_test(smaps, smaps_unknown_keys_and_empty_values);
    tcase_add_test(smaps, smaps_missing_rss_is_absent);
    tcase_add_test(smaps, smaps_broken_inputs);
    tcase_add_test(smaps, smaps_hostile_text);
    tcase_add_test(smaps, smaps_very_long_lines);
    tcase_add_test(smaps, smaps_live_mapping);
    suite_add_tcase(s, smaps);
    TCase *keyed = tcase_create("keyed");
    tcase_add_test(keyed, meminfo_by_key);
    tcase_add_test(keyed, meminfo_old_kernel_has_no_memavailable);
    tcase_add_test(keyed, meminfo_broken);
    tcase_add_test(keyed, status_numbers_among_text);
    tcase_add_test(keyed, one_key_or_minus_one);
    suite_add_tcase(s, keyed);
    TCase *values = tcase_create("values");
    tcase_add_test(values, number_values);
    tcase_add_test(values, number_files);
    tcase_add_test(values, choice_values);
    tcase_add_test(values, vm_sysctl_names);
    suite_add_tcase(s, values);
    return s;
}

int main(void)
{
    int failed = run_suite(procfs_suite());
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
