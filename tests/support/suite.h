/* SPDX-License-Identifier: MIT */
/* suite: run a Check suite and return how many of its tests failed. */
#ifndef VMLAB_TEST_SUITE_H
#define VMLAB_TEST_SUITE_H

#include <check.h>

int run_suite(Suite *s);

#endif
