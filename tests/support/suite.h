/* SPDX-License-Identifier: MIT */
/* suite: what every unit test program needs: its suite run, its fixtures. */
#ifndef VMLAB_TEST_SUITE_H
#define VMLAB_TEST_SUITE_H

#include <check.h>
#include <stdio.h>

/* Runs the suite; how many of its tests failed. */
int run_suite(Suite *s);

/* tests/fixtures/<name>, open for reading (asserted). */
FILE *open_fixture(const char *name);

#endif
