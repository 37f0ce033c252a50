/*
 * check_base.c: the shared helpers (buffers, numbers, times, Go JSON).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/jsonx.h"
#include "core/lazylib.h"
#include "core/util.h"

START_TEST(buf_refuses_to_grow_past_its_cap)
{
    struct buf b;

    buf_init_limit(&b, 8);
    ck_assert_int_eq(buf_adds(&b, "12345678"), 0);
    ck_assert_int_eq(buf_addc(&b, '9'), ERR_TOO_LARGE);
    ck_assert_str_eq(buf_str(&b), "12345678");
    buf_release(&b);
}
END_TEST

START_TEST(buf_addf_prints_percent_text_verbatim)
{
    struct buf b;

    buf_init(&b);
    ck_assert_int_eq(buf_addf(&b, "%s", "%s%n"), 0);
    ck_assert_str_eq(buf_str(&b), "%s%n");
    buf_release(&b);
}
END_TEST

START_TEST(parse_i64_accepts_only_go_base10)
{
    int64_t v;

    ck_assert_int_eq(util_parse_i64("512", 3, &v), 0);
    ck_assert_int_eq(v, 512);
    ck_assert_int_eq(util_parse_i64("-1", 2, &v), 0);
    ck_assert_int_eq(v, -1);
    ck_assert_int_eq(util_parse_i64("+7", 2, &v), 0);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(util_parse_i64("1e3", 3, &v), ERR_INVALID);
    ck_assert_int_eq(util_parse_i64("0x10", 4, &v), ERR_INVALID);
    ck_assert_int_eq(util_parse_i64(" 1", 2, &v), ERR_INVALID);
    ck_assert_int_eq(util_parse_i64("", 0, &v), ERR_INVALID);
    ck_assert_int_eq(util_parse_i64("9223372036854775808", 19, &v),
                     ERR_TOO_LARGE);
    ck_assert(v == INT64_MAX);
    ck_assert_int_eq(util_parse_i64("-9223372036854775808", 20, &v), 0);
    ck_assert(v == INT64_MIN);
}
END_TEST

START_TEST(rfc3339_drops_trailing_zeros_like_go)
{
    char out[40];

    util_time_rfc3339(INT64_C(1763632800123456000), out);
    ck_assert_str_eq(out, "2025-11-20T10:00:00.123456Z");
    util_time_rfc3339(INT64_C(1763632800000000000), out);
    ck_assert_str_eq(out, "2025-11-20T10:00:00Z");
    util_time_rfc3339(0, out);
    ck_assert_str_eq(out, "1970-01-01T00:00:00Z");
}
END_TEST

START_TEST(uuids_are_version_4_and_validate)
{
    char id[UTIL_UUID_LEN + 1];

    util_uuid_new(id);
    ck_assert(util_uuid_valid(id));
    ck_assert_int_eq(id[14], '4');
    ck_assert(!util_uuid_valid("not-a-uuid"));
    ck_assert(util_uuid_valid("5C1B7B3E-7D0A-4C51-9B7E-2F0F6D2F2C11"));
}
END_TEST

static char *
dump(json_t *v)
{
    struct buf b;
    char *s;

    buf_init(&b);
    ck_assert_int_eq(jsonx_dump(v, &b, true), 0);
    json_decref(v);
    s = buf_take(&b, NULL);
    return s;
}

START_TEST(json_escapes_html_like_go)
{
    char *s = dump(json_pack("{s:s}", "m", "<a href=\"x\">&</a>"));

    ck_assert_str_eq(s,
        "{\"m\":\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\"}\n");
    free(s);
}
END_TEST

START_TEST(json_keeps_utf8_and_escapes_line_separators)
{
    char *s = dump(jsonx_string("\xf0\x9f\x91\x8b \xe2\x80\xa8"));

    ck_assert_str_eq(s, "\"\xf0\x9f\x91\x8b \\u2028\"\n");
    free(s);
}
END_TEST

START_TEST(json_replaces_invalid_utf8)
{
    char *s = dump(jsonx_string("a\xff" "b"));

    ck_assert_str_eq(s, "\"a\\ufffdb\"\n");
    free(s);
}
END_TEST

START_TEST(json_reals_use_go_shortest_form)
{
    char out[32];

    jsonx_format_double(30, out);
    ck_assert_str_eq(out, "30");
    jsonx_format_double(12.5, out);
    ck_assert_str_eq(out, "12.5");
    jsonx_format_double(0.1, out);
    ck_assert_str_eq(out, "0.1");
    jsonx_format_double(-1, out);
    ck_assert_str_eq(out, "-1");
    jsonx_format_double(1e-7, out);
    ck_assert_str_eq(out, "1e-7");
    jsonx_format_double(1e21, out);
    ck_assert_str_eq(out, "1e+21");
    jsonx_format_double(123456789.25, out);
    ck_assert_str_eq(out, "123456789.25");
    jsonx_format_double(0.000123, out);
    ck_assert_str_eq(out, "0.000123");
}
END_TEST

START_TEST(json_real_of_integral_value_prints_without_fraction)
{
    char *s = dump(json_pack("[o,o]", jsonx_real(-1), jsonx_real(40.1)));

    ck_assert_str_eq(s, "[-1,40.1]\n");
    free(s);
}
END_TEST

START_TEST(err_set_keeps_message_and_code)
{
    struct err e;

    err_clear(&e);
    ck_assert_int_eq(err_set(&e, ERR_NOT_FOUND, "no user \"%s\"", "bob"),
                     ERR_NOT_FOUND);
    err_prefix(&e, "users");
    ck_assert_str_eq(e.msg, "users: no user \"bob\"");
    ck_assert_str_eq(err_name(ERR_NOT_FOUND), "ERR_NOT_FOUND");
    ck_assert_int_eq(err_set(NULL, ERR_IO, "x"), ERR_IO);
}
END_TEST

START_TEST(utf8_len_accepts_only_valid_sequences)
{
    const unsigned char *u;

    ck_assert_uint_eq(util_utf8_len((const unsigned char *)"a", 1), 1);
    u = (const unsigned char *)"\xc2\xb5";
    ck_assert_uint_eq(util_utf8_len(u, 2), 2);
    u = (const unsigned char *)"\xe2\x80\xa8";
    ck_assert_uint_eq(util_utf8_len(u, 3), 3);
    u = (const unsigned char *)"\xf0\x9f\x91\x8b";
    ck_assert_uint_eq(util_utf8_len(u, 4), 4);
    ck_assert_uint_eq(util_utf8_len(u, 3), 0);
    u = (const unsigned char *)"\xc0\xaf";          /* overlong */
    ck_assert_uint_eq(util_utf8_len(u, 2), 0);
    u = (const unsigned char *)"\xed\xa0\x80";      /* surrogate */
    ck_assert_uint_eq(util_utf8_len(u, 3), 0);
    u = (const unsigned char *)"\xf4\x90\x80\x80";  /* past U+10FFFF */
    ck_assert_uint_eq(util_utf8_len(u, 4), 0);
    u = (const unsigned char *)"\xff";
    ck_assert_uint_eq(util_utf8_len(u, 1), 0);
}
END_TEST

static void (*test_abort)(void);

static int
bind_libc(void *h, const char **missing)
{
    LAZYLIB_BIND(h, test_abort, "abort", missing);
    return 0;
}

static int
bind_missing(void *h, const char **missing)
{
    void (*f)(void);

    LAZYLIB_BIND(h, f, "coder_cfg_no_such_symbol", missing);
    (void)f;
    return 0;
}

START_TEST(lazylib_loads_once_and_binds)
{
    static struct lazylib lib = LAZYLIB_INIT("libc.so.6", "libc6",
                                             bind_libc);

    ck_assert_int_eq(lazylib_load(&lib, NULL), 0);
    ck_assert_ptr_nonnull(test_abort);
    ck_assert_int_eq(lazylib_load(&lib, NULL), 0);
}
END_TEST

START_TEST(lazylib_missing_library_names_the_package)
{
    static struct lazylib lib = LAZYLIB_INIT("libcoder-cfg-none.so.9",
                                             "coder-cfg-none", bind_libc);
    struct err e;

    err_clear(&e);
    ck_assert_int_eq(lazylib_load(&lib, &e), ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "cannot load "
                                 "libcoder-cfg-none.so.9: "));
    ck_assert_ptr_nonnull(strstr(e.msg, "install the coder-cfg-none "
                                 "package"));
    err_clear(&e);
    ck_assert_int_eq(lazylib_load(&lib, &e), ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "coder-cfg-none"));
}
END_TEST

START_TEST(lazylib_missing_symbol_is_named)
{
    static struct lazylib lib = LAZYLIB_INIT("libc.so.6", "libc6",
                                             bind_missing);
    struct err e;

    err_clear(&e);
    ck_assert_int_eq(lazylib_load(&lib, &e), ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(e.msg, "cannot load libc.so.6 "
                                 "(coder_cfg_no_such_symbol)"));
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("base");
    TCase *tc = tcase_create("base");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, buf_refuses_to_grow_past_its_cap);
    tcase_add_test(tc, buf_addf_prints_percent_text_verbatim);
    tcase_add_test(tc, parse_i64_accepts_only_go_base10);
    tcase_add_test(tc, rfc3339_drops_trailing_zeros_like_go);
    tcase_add_test(tc, uuids_are_version_4_and_validate);
    tcase_add_test(tc, json_escapes_html_like_go);
    tcase_add_test(tc, json_keeps_utf8_and_escapes_line_separators);
    tcase_add_test(tc, json_replaces_invalid_utf8);
    tcase_add_test(tc, json_reals_use_go_shortest_form);
    tcase_add_test(tc, json_real_of_integral_value_prints_without_fraction);
    tcase_add_test(tc, err_set_keeps_message_and_code);
    tcase_add_test(tc, utf8_len_accepts_only_valid_sequences);
    tcase_add_test(tc, lazylib_loads_once_and_binds);
    tcase_add_test(tc, lazylib_missing_library_names_the_package);
    tcase_add_test(tc, lazylib_missing_symbol_is_named);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
