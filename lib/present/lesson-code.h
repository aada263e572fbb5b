/* SPDX-License-Identifier: MIT */
/* lesson-code: lesson code that another process runs (a child, a worker), shown as written.
 *
 * LESSON prints its code and runs it here. Code that a child runs cannot be a LESSON's
 * argument, so it is written once with LESSON_CODE, which defines the function and keeps its
 * body's text beside it (fn_code); the step in which the other process runs it shows that
 * text between this process's own calls around it, in the order they happen:
 *
 *     LESSON_CODE(void, child_writes,
 *         for (size_t off = 0; off < len; off += page)
 *             p[off] = 2;
 *     )                                    (the child calls child_writes())
 *     ...
 *     LESSON_AROUND(&n, kill(child, SIGCONT);, child_writes,
 *                   waitpid(child, NULL, WUNTRACED););
 *
 * shows the three lines, kill, the loop, waitpid, and runs kill and waitpid here, between the
 * observer's "before" and "after" as LESSON does. The first part is code with no comma outside
 * parentheses (a macro argument ends at such a comma); the last may have them. */
#ifndef VMLAB_LESSON_CODE_H
#define VMLAB_LESSON_CODE_H

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>

#include "narrate.h"
#include "probe.h"

#define LESSON_CODE(type, fn, ...)                \
    static const char fn##_code[] = #__VA_ARGS__; \
    static LESSON_FN type fn(void) { __VA_ARGS__ }

#define LESSON_AROUND(n, first, fn, ...)                                                   \
    do {                                                                                   \
        char lesson_text_[sizeof #first + sizeof fn##_code + sizeof #__VA_ARGS__];         \
        snprintf(lesson_text_, sizeof lesson_text_, "%s\n%s\n%s", #first, fn##_code,       \
                 #__VA_ARGS__);                                                            \
        narrate_lesson_before((n), lesson_text_);                                          \
        first                                                                              \
        __VA_ARGS__                                                                        \
        narrate_lesson_after(n);                                                           \
    } while (0)

/* A LESSON whose code may fault (a read of a PROT_NONE page, a write to a hugetlb page the
 * pool cannot back): the probe's handlers (lib/kernel/probe.h), armed by the demo's
 * observer around the code only, catch the signal and jump back here; *result then says
 * how the code ended (faulted, signal, si_code, address). The function holding it is a
 * LESSON_FN, and what the code changes before a fault is static or volatile. */
#define LESSON_CAUGHT(n, result, ...)                                                      \
    do {                                                                                   \
        if (probe_install() != 0)                                                          \
            narrate_fail_errno((n), "sigaction", errno);                                   \
        if (sigsetjmp(probe_env, 1) == 0) {                                                \
            narrate_lesson_before((n), #__VA_ARGS__);                                      \
            __VA_ARGS__                                                                    \
        }                                                                                  \
        narrate_lesson_after(n); /* after the code, or after the jump that cut it short */ \
        probe_uninstall();                                                                 \
        probe_outcome(result);                                                             \
    } while (0)

#endif
