/* SPDX-License-Identifier: MIT */
/* suite: the lines every test program's main() would otherwise repeat. */
#include "suite.h"

int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}
