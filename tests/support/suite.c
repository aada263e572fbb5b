/* SPDX-License-Identifier: MIT */
/* suite: the lines every test program's main() would otherwise repeat. */
#include "suite.h"

FILE *open_fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", VMLAB_FIXTURES, name);
    FILE *f = fopen(path, "re");
    ck_assert_msg(f != NULL, "cannot open fixture %s", path);
    return f;
}

int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}
