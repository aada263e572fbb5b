/* SPDX-License-Identifier: MIT */
/* lesson_asserts: the checks of tests/support/lesson.h against this test's
 * own demo source (VMLAB_DEMO_SOURCE), under the names the tests of
 * mlock-pages, madvise-pages, fault-cost and huge-fault-cost use. */
#ifndef VMLAB_TEST_LESSON_ASSERTS_H
#define VMLAB_TEST_LESSON_ASSERTS_H

#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "demo_test.h"
#include "lesson.h"

static inline void assert_code_is_source(const struct json *step)
{
    assert_code_in(step, VMLAB_DEMO_SOURCE);
}

static inline void assert_lesson_step(const struct json *step)
{
    assert_lesson_step_in(step, VMLAB_DEMO_SOURCE);
}

static inline int assert_answers_real(const char *path, const char *demo)
{
    return assert_answers_real_in(path, demo, VMLAB_DEMO_SOURCE);
}

#endif
