/*
 * check_options_table.c: placeholder suite until its module lands.
 */
#include <check.h>
#include <stdlib.h>

int
main(void)
{
    Suite *s = suite_create("check_options_table");
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
