/*
 * check_optval.c: serpent's value types (options-semantics.md 3, 4, 5).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/jsonx.h"
#include "core/opt.h"

static const char *const auth_choices[] = { "password", "awsiamrds", NULL };

static struct opt_desc
desc(enum opt_type t)
{
    struct opt_desc d;

    memset(&d, 0, sizeof(d));
    d.name = "Test";
    d.type = t;
    if (t == OPT_ENUM || t == OPT_ENUM_ARRAY)
        d.choices = auth_choices;
    return d;
}

static struct opt_desc
struct_desc(enum opt_struct_kind k)
{
    struct opt_desc d = desc(OPT_STRUCT);

    d.skind = k;
    return d;
}

/* Every helper result lives in this buffer until the next call. */
static char out_text[65536];

static const char *
keep(struct buf *b)
{
    snprintf(out_text, sizeof(out_text), "%s", buf_str(b));
    buf_release(b);
    return out_text;
}

static void
setup_value(struct opt_value *v, const struct opt_desc *d)
{
    ck_assert_int_eq(optval_init(v, d->type), 0);
}

/* Sets text and returns the error message, or "" on success. */
static const char *
set(struct opt_value *v, const struct opt_desc *d, const char *text)
{
    struct err e;

    err_clear(&e);
    if (optval_set(v, d, text, &e) == 0)
        return "";
    ck_assert_msg(e.msg[0] != '\0', "error without a message");
    snprintf(out_text, sizeof(out_text), "%s", e.msg);
    return out_text;
}

static const char *
text(const struct opt_value *v, const struct opt_desc *d)
{
    struct buf b;

    buf_init(&b);
    ck_assert_int_eq(optval_text(v, d, &b), 0);
    return keep(&b);
}

static const char *
json_text(json_t *j)
{
    struct buf b;

    ck_assert_ptr_nonnull(j);
    buf_init(&b);
    ck_assert_int_eq(jsonx_dump(j, &b, false), 0);
    json_decref(j);
    return keep(&b);
}

static const char *
yaml_text(const struct opt_value *v, const struct opt_desc *d, int indent)
{
    struct buf b;

    buf_init(&b);
    ck_assert_int_eq(optval_yaml(v, d, indent, &b), 0);
    return keep(&b);
}

/* Parses text as one value (of its type) and formats it back. */
static const char *
reformat(enum opt_type t, const char *in)
{
    struct opt_desc d = desc(t);
    struct opt_value v;
    const char *msg;
    char copy[4096];

    setup_value(&v, &d);
    msg = set(&v, &d, in);
    ck_assert_msg(msg[0] == '\0', "set %s: %s", in, msg);
    snprintf(copy, sizeof(copy), "%s", text(&v, &d));
    optval_release(&v);
    snprintf(out_text, sizeof(out_text), "%s", copy);
    return out_text;
}

/* Applies the YAML document "k:<yaml>" to v through optval_set_yaml. */
static int
apply_yaml(struct opt_value *v, const struct opt_desc *d, const char *yaml,
           struct err *e)
{
    yaml_parser_t p;
    yaml_document_t doc;
    yaml_node_t *root, *val;
    char src[8192];
    int rc;

    snprintf(src, sizeof(src), "k:%s\n", yaml);
    ck_assert(yaml_parser_initialize(&p));
    yaml_parser_set_input_string(&p, (const unsigned char *)src,
                                 strlen(src));
    ck_assert_msg(yaml_parser_load(&p, &doc), "yaml does not parse: %s",
                  src);
    root = yaml_document_get_root_node(&doc);
    ck_assert_ptr_nonnull(root);
    ck_assert_int_eq(root->type, YAML_MAPPING_NODE);
    val = yaml_document_get_node(&doc,
                                 root->data.mapping.pairs.start->value);
    err_clear(e);
    rc = optval_set_yaml(v, d, &doc, val, e);
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return rc;
}

/* --- durations ---------------------------------------------------------- */

START_TEST(duration_format_matches_go_table)
{
    static const struct {
        int64_t ns;
        const char *text;
    } table[] = {
        { 0, "0s" },
        { 1, "1ns" },
        { 1500, "1.5\xc2\xb5s" },
        { 1000000, "1ms" },
        { 1234567, "1.234567ms" },
        { 15000000, "15ms" },
        { 100000000, "100ms" },
        { 500000000, "500ms" },
        { 1000000000, "1s" },
        { 1500000000, "1.5s" },
        { INT64_C(30000000000), "30s" },
        { INT64_C(60000000000), "1m0s" },
        { INT64_C(61001000000), "1m1.001s" },
        { INT64_C(90000000000), "1m30s" },
        { INT64_C(3600000000000), "1h0m0s" },
        { INT64_C(3600500000000), "1h0m0.5s" },
        { INT64_C(86400000000000), "24h0m0s" },
        { INT64_C(604800000000000), "168h0m0s" },
        { INT64_C(5184000000000000), "1440h0m0s" },
        { INT64_C(3155760000000000000), "876600h0m0s" },
        { INT64_C(-1500000000), "-1.5s" },
        { INT64_MAX, "2562047h47m16.854775807s" },
        { INT64_MIN, "-2562047h47m16.854775808s" },
    };
    char out[40];
    size_t i;

    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        opt_duration_format(table[i].ns, out);
        ck_assert_str_eq(out, table[i].text);
    }
}
END_TEST

static int64_t
dur(const char *s)
{
    struct err e;
    int64_t ns = -42;

    err_clear(&e);
    ck_assert_msg(opt_duration_parse(s, &ns, &e) == 0, "%s: %s", s, e.msg);
    return ns;
}

static const char *
dur_error(const char *s)
{
    struct err e;
    int64_t ns = 42;

    err_clear(&e);
    ck_assert_int_eq(opt_duration_parse(s, &ns, &e), ERR_INVALID);
    ck_assert(ns == 0);
    snprintf(out_text, sizeof(out_text), "%s", e.msg);
    return out_text;
}

START_TEST(duration_parses_days_weeks_and_go_units)
{
    ck_assert_str_eq(reformat(OPT_DURATION, "60d"), "1440h0m0s");
    ck_assert_str_eq(reformat(OPT_DURATION, "7d"), "168h0m0s");
    ck_assert_str_eq(reformat(OPT_DURATION, "1w"), "168h0m0s");
    ck_assert_str_eq(reformat(OPT_DURATION, "1m"), "1m0s");
    ck_assert_str_eq(reformat(OPT_DURATION, "90s"), "1m30s");
    ck_assert_str_eq(reformat(OPT_DURATION, "1.5s"), "1.5s");
    ck_assert(dur("0") == 0);
    ck_assert(dur("+0") == 0);
    ck_assert(dur("-0") == 0);
    ck_assert(dur("30m1h") == dur("1h30m"));
    ck_assert(dur("1.5h") == INT64_C(5400000000000));
    ck_assert(dur("-1.5s") == INT64_C(-1500000000));
    ck_assert(dur("1us") == 1000);
    ck_assert(dur("1\xc2\xb5s") == 1000);
    ck_assert(dur("1\xce\xbcs") == 1000);
    ck_assert(dur(".5s") == 500000000);
    ck_assert(dur("1.s") == 1000000000);
    ck_assert(dur("2562047h47m16.854775807s") == INT64_MAX);
    ck_assert(dur("-9223372036854775808ns") == INT64_MIN);
}
END_TEST

START_TEST(duration_rejects_what_go_rejects)
{
    ck_assert_str_eq(dur_error("90"), "missing unit in duration \"90\"");
    ck_assert_str_eq(dur_error("1H"), "unknown unit \"H\" in duration "
                     "\"1H\"");
    ck_assert_str_eq(dur_error(""), "invalid duration \"\"");
    ck_assert_str_eq(dur_error("1 h"), "unknown unit \" h\" in duration "
                     "\"1 h\"");
    ck_assert_str_eq(dur_error("."), "invalid duration \".\"");
    ck_assert_str_eq(dur_error("-"), "invalid duration \"-\"");
    ck_assert_str_eq(dur_error("9223372036854775808ns"),
                     "invalid duration \"9223372036854775808ns\"");
    ck_assert_str_eq(dur_error("2562048h"), "invalid duration "
                     "\"2562048h\"");
    ck_assert_str_eq(dur_error("15251w"), "unknown unit \"w\" in "
                     "duration \"15251w\"");
}
END_TEST

START_TEST(duration_json_is_nanoseconds_and_yaml_is_text)
{
    struct opt_desc d = desc(OPT_DURATION);
    struct opt_value v;

    setup_value(&v, &d);
    ck_assert_str_eq(set(&v, &d, "24h"), "");
    ck_assert_str_eq(json_text(optval_json(&v, &d)), "86400000000000");
    ck_assert_str_eq(json_text(optval_config_json(&v, &d)),
                     "86400000000000");
    ck_assert_str_eq(yaml_text(&v, &d, 0), " 24h0m0s");
    ck_assert_str_eq(set(&v, &d, "bad"), "invalid duration \"bad\"");
    ck_assert(v.i == 0);
    optval_release(&v);
}
END_TEST

/* --- CSV and string arrays ---------------------------------------------- */

static const char *
csv(const char *s)
{
    struct buf b;
    struct err e;
    char **items = NULL;
    size_t n = 0, i;

    err_clear(&e);
    buf_init(&b);
    if (opt_csv_split(s, &items, &n, &e) < 0) {
        ck_assert_uint_eq(n, 0);
        snprintf(out_text, sizeof(out_text), "error: %s", e.msg);
        buf_release(&b);
        return out_text;
    }
    for (i = 0; i < n; i++)
        buf_addf(&b, "[%s]", items[i]);
    for (i = 0; i < n; i++)
        free(items[i]);
    free(items);
    return keep(&b);
}

START_TEST(csv_reads_one_record_like_go)
{
    ck_assert_str_eq(csv("a,b"), "[a][b]");
    ck_assert_str_eq(csv("a, b"), "[a][ b]");
    ck_assert_str_eq(csv("\"a,b\",c"), "[a,b][c]");
    ck_assert_str_eq(csv("\"say \"\"hi\"\"\""), "[say \"hi\"]");
    ck_assert_str_eq(csv(","), "[][]");
    ck_assert_str_eq(csv("a,"), "[a][]");
    ck_assert_str_eq(csv(" "), "[ ]");
    ck_assert_str_eq(csv("a,b\nc"), "[a][b]");
    ck_assert_str_eq(csv("\n\na"), "[a]");
    ck_assert_str_eq(csv("a\r\n"), "[a]");
    ck_assert_str_eq(csv("a\r"), "[a]");
    ck_assert_str_eq(csv("'x',y"), "['x'][y]");
    ck_assert_str_eq(csv("\"a\nb\",c"), "[a\nb][c]");
    ck_assert_str_eq(csv("\"a\r\nb\""), "[a\nb]");
}
END_TEST

START_TEST(csv_errors_carry_go_text_and_position)
{
    ck_assert_str_eq(csv("a\"b"), "error: parse error on line 1, "
                     "column 2: bare \" in non-quoted-field");
    ck_assert_str_eq(csv("x \"y\""), "error: parse error on line 1, "
                     "column 3: bare \" in non-quoted-field");
    ck_assert_str_eq(csv("\"a\"b"), "error: parse error on line 1, "
                     "column 3: extraneous or missing \" in "
                     "quoted-field");
    ck_assert_str_eq(csv("\"abc"), "error: parse error on line 1, "
                     "column 5: extraneous or missing \" in "
                     "quoted-field");
    ck_assert_str_eq(csv("\n"), "error: EOF");
}
END_TEST

START_TEST(string_array_appends_and_empty_clears_to_nil)
{
    struct opt_desc d = desc(OPT_STRING_ARRAY);
    struct opt_value v;

    setup_value(&v, &d);
    ck_assert_str_eq(json_text(optval_json(&v, &d)), "null");
    ck_assert_str_eq(yaml_text(&v, &d, 0), "");
    ck_assert_str_eq(set(&v, &d, "a"), "");
    ck_assert_str_eq(set(&v, &d, "b,c"), "");
    ck_assert_str_eq(json_text(optval_json(&v, &d)), "[\"a\",\"b\",\"c\"]");
    ck_assert_str_eq(set(&v, &d, "x\"y"), "parse error on line 1, "
                     "column 2: bare \" in non-quoted-field");
    ck_assert_uint_eq(v.n, 3);
    ck_assert_str_eq(yaml_text(&v, &d, 2), "\n    - a\n    - b\n    - c");
    ck_assert_str_eq(set(&v, &d, ""), "");
    ck_assert_ptr_null(v.list);
    ck_assert_str_eq(json_text(optval_config_json(&v, &d)), "null");
    optval_release(&v);
}
END_TEST

START_TEST(string_array_empty_non_nil_list_is_json_brackets)
{
    struct opt_desc d = desc(OPT_STRING_ARRAY);
    struct opt_value v;

    setup_value(&v, &d);
    ck_assert_int_eq(apply_yaml(&v, &d, " []", NULL), 0);
    ck_assert_ptr_nonnull(v.list);
    ck_assert_str_eq(json_text(optval_json(&v, &d)), "[]");
    d.check = OPT_CHECK_PLAIN;
    ck_assert_int_eq(apply_yaml(&v, &d, " []", NULL), 0);
    ck_assert_ptr_nonnull(v.list);
    ck_assert_str_eq(json_text(optval_json(&v, &d)), "[]");
    optval_release(&v);
}
END_TEST

START_TEST(string_array_text_keeps_serpents_unflushed_writer)
{
    ck_assert_str_eq(reformat(OPT_STRING_ARRAY, "a,b"), "");
}
END_TEST

/* --- bool, int, float, string ------------------------------------------- */

START_TEST(bool_accepts_exactly_go_spellings)
{
    static const char *const yes[] = { "1", "t", "T", "TRUE", "true",
                                       "True", NULL };
    static const char *const no[] = { "0", "f", "F", "FALSE", "false",
                                      "False", "", NULL };
    static const char *const bad[] = { "yes", "on", " true", "tRUE", "2",
                                       NULL };
    struct opt_desc d = desc(OPT_BOOL);
    struct opt_value v;
    size_t i;

    setup_value(&v, &d);
    for (i = 0; yes[i] != NULL; i++) {
        v.b = false;
        ck_assert_str_eq(set(&v, &d, yes[i]), "");
        ck_assert(v.b);
    }
    for (i = 0; no[i] != NULL; i++) {
        v.b = true;
        ck_assert_str_eq(set(&v, &d, no[i]), "");
        ck_assert(!v.b);
    }
    for (i = 0; bad[i] != NULL; i++) {
        v.b = true;
        ck_assert_str_ne(set(&v, &d, bad[i]), "");
        ck_assert(!v.b);
    }
    ck_assert_str_eq(set(&v, &d, "yes"), "invalid boolean \"yes\": want "
                     "true or false");
    v.b = true;
    ck_assert_str_eq(text(&v, &d), "true");
    ck_assert_str_eq(yaml_text(&v, &d, 0), " true");
    ck_assert_str_eq(json_text(optval_json(&v, &d)), "true");
    optval_release(&v);
}
END_TEST

START_TEST(int64_parses_base10_and_clamps_on_overflow)
{
    struct opt_desc d = desc(OPT_INT64);
    struct opt_value v;

    setup_value(&v, &d);
    ck_assert_str_eq(set(&v, &d, "512"), "");
    ck_assert(v.i == 512);
    ck_assert_str_eq(set(&v, &d, "-1"), "");
    ck_assert_str_eq(text(&v, &d), "-1");
    ck_assert_str_eq(set(&v, &d, "1e3"), "invalid integer \"1e3\"");
    ck_assert(v.i == 0);
    ck_assert_str_eq(set(&v, &d, "99999999999999999999"),
                     "integer \"99999999999999999999\" out of range");
    ck_assert(v.i == INT64_MAX);
    ck_assert_str_ne(set(&v, &d, ""), "");
    ck_assert_str_ne(set(&v, &d, "0x10"), "");
    v.i = 42;
    ck_assert_str_eq(yaml_text(&v, &d, 0), " 42");
    ck_assert_str_eq(json_text(optval_json(&v, &d)), "42");
    optval_release(&v);
}
END_TEST

START_TEST(float64_formats_like_go)
{
    struct opt_desc d = desc(OPT_FLOAT64);
    struct opt_value v;

    ck_assert_str_eq(reformat(OPT_FLOAT64, "1.5"), "1.5");
    ck_assert_str_eq(reformat(OPT_FLOAT64, "1e21"), "1000000000000000000000");
    ck_assert_str_eq(reformat(OPT_FLOAT64, "0.000001"), "0.000001");
    ck_assert_str_eq(reformat(OPT_FLOAT64, "-2"), "-2");
    setup_value(&v, &d);
    ck_assert_str_eq(set(&v, &d, "0x10"), "invalid number \"0x10\"");
    ck_assert_str_eq(set(&v, &d, "1e999"), "number \"1e999\" out of "
                     "range");
    ck_assert_str_eq(set(&v, &d, "1e6"), "");
    ck_assert_str_eq(yaml_text(&v, &d, 0), " 1e+06");
    ck_assert_str_eq(json_text(optval_json(&v, &d)), "1000000");
    optval_release(&v);
}
END_TEST

START_TEST(string_stores_text_as_is)
{
    struct opt_desc d = desc(OPT_STRING);
    struct opt_value v, c;

    setup_value(&v, &d);
    ck_assert_str_eq(set(&v, &d, " x \xff"), "");
    ck_assert_str_eq(text(&v, &d), " x \xff");
    ck_assert_str_eq(json_text(optval_json(&v, &d)), "\" x \\ufffd\"");
    ck_assert_int_eq(optval_copy(&c, &v), 0);
    ck_assert_str_eq(c.s, " x \xff");
    optval_release(&c);
    optval_release(&v);
}
END_TEST

/* --- host:port ---------------------------------------------------------- */

START_TEST(hostport_splits_and_joins_like_go)
{
    ck_assert_str_eq(reformat(OPT_HOSTPORT, "127.0.0.1:3443"),
                     "127.0.0.1:3443");
    ck_assert_str_eq(reformat(OPT_HOSTPORT, "[::1]:80"), "[::1]:80");
    ck_assert_str_eq(reformat(OPT_HOSTPORT, ":3000"), ":3000");
    ck_assert_str_eq(reformat(OPT_HOSTPORT, "host:"), "host:");
    ck_assert_str_eq(reformat(OPT_HOSTPORT, "h:x"), "h:x");
}
END_TEST

START_TEST(hostport_errors_clear_host_and_port)
{
    struct opt_desc d = desc(OPT_HOSTPORT);
    struct opt_value v;

    setup_value(&v, &d);
    ck_assert_str_eq(set(&v, &d, ""), "must not be empty");
    ck_assert_str_eq(set(&v, &d, "[::1]:80"), "");
    ck_assert_str_eq(v.host, "::1");
    ck_assert_str_eq(set(&v, &d, ""), "must not be empty");
    ck_assert_str_eq(v.host, "::1");
    ck_assert_str_eq(set(&v, &d, "localhost"), "address localhost: "
                     "missing port in address");
    ck_assert_str_eq(v.host, "");
    ck_assert_str_eq(v.port, "");
    ck_assert_str_eq(set(&v, &d, "::1:80"), "address ::1:80: too many "
                     "colons in address");
    ck_assert_str_eq(set(&v, &d, "[::1]80"), "address [::1]80: missing "
                     "port in address");
    ck_assert_str_eq(set(&v, &d, "[::1"), "address [::1: missing ']' in "
                     "address");
    ck_assert_str_eq(text(&v, &d), "");
    ck_assert_str_eq(yaml_text(&v, &d, 0), "");
    ck_assert_str_eq(json_text(optval_json(&v, &d)), "\"\"");
    ck_assert_str_eq(set(&v, &d, "0.0.0.0:8080"), "");
    ck_assert_str_eq(json_text(optval_json(&v, &d)), "\"0.0.0.0:8080\"");
    ck_assert_str_eq(yaml_text(&v, &d, 0), " 0.0.0.0:8080");
    optval_release(&v);
}
END_TEST

/* --- enum and regexp ---------------------------------------------------- */

START_TEST(enum_matches_ignoring_case_and_keeps_the_text)
{
    struct opt_desc d = desc(OPT_ENUM);
    struct opt_value v;

    setup_value(&v, &d);
    ck_assert_str_eq(set(&v, &d, "PASSWORD"), "");
    ck_assert_str_eq(text(&v, &d), "PASSWORD");
    ck_assert_str_eq(set(&v, &d, "x"), "invalid choice: x, should be one "
                     "of [password awsiamrds]");
    ck_assert_str_eq(v.s, "PASSWORD");
    ck_assert_str_eq(set(&v, &d, ""), "invalid choice: , should be one "
                     "of [password awsiamrds]");
    ck_assert_str_eq(set(&v, &d, "password"), "");
    ck_assert_str_eq(json_text(optval_json(&v, &d)),
                     "{\"Choices\":[\"password\",\"awsiamrds\"],"
                     "\"Value\":\"password\"}");
    ck_assert_str_eq(json_text(optval_config_json(&v, &d)),
                     "\"password\"");
    ck_assert_str_eq(yaml_text(&v, &d, 0), " password");
    ck_assert(optval_is_default(&v, &d) == false);
    d.def = "password";
    ck_assert(optval_is_default(&v, &d));
    optval_release(&v);
}
END_TEST

START_TEST(enum_array_checks_every_item)
{
    struct opt_desc d = desc(OPT_ENUM_ARRAY);
    struct opt_value v;

    setup_value(&v, &d);
    ck_assert_str_eq(json_text(optval_json(&v, &d)),
                     "{\"Choices\":[\"password\",\"awsiamrds\"],"
                     "\"Value\":null}");
    ck_assert_str_eq(set(&v, &d, "password,AWSIAMRDS"), "");
    ck_assert_str_eq(set(&v, &d, "password,x"), "invalid choice: x, "
                     "should be one of [password awsiamrds]");
    ck_assert_uint_eq(v.n, 2);
    ck_assert_str_eq(json_text(optval_config_json(&v, &d)),
                     "[\"password\",\"AWSIAMRDS\"]");
    optval_release(&v);
}
END_TEST

START_TEST(regexp_compiles_and_reports_go_style_errors)
{
    struct opt_desc d = desc(OPT_REGEXP);
    struct opt_value v, c;
    const char *msg;

    setup_value(&v, &d);
    ck_assert_str_eq(set(&v, &d, "^[a-z]+$"), "");
    ck_assert_ptr_nonnull(v.re);
    msg = set(&v, &d, "(");
    ck_assert_msg(strncmp(msg, "invalid regex expression: ", 26) == 0,
                  "%s", msg);
    ck_assert_str_eq(v.s, "^[a-z]+$");
    ck_assert_str_eq(set(&v, &d, "a(?=b)"), "invalid regex expression: "
                     "error parsing regexp: invalid or unsupported Perl "
                     "syntax: `(?=`");
    ck_assert_str_eq(set(&v, &d, "(a)\\1"), "invalid regex expression: "
                     "error parsing regexp: invalid or unsupported Perl "
                     "syntax: `\\1`");
    ck_assert_str_eq(json_text(optval_json(&v, &d)), "\"^[a-z]+$\"");
    ck_assert_str_eq(yaml_text(&v, &d, 0), " ^[a-z]+$");
    ck_assert_int_eq(optval_copy(&c, &v), 0);
    ck_assert_ptr_nonnull(c.re);
    ck_assert_ptr_ne(c.re, v.re);
    optval_release(&c);
    ck_assert_str_eq(set(&v, &d, "[a-z]"), "");
    ck_assert_str_eq(yaml_text(&v, &d, 0), " '[a-z]'");
    ck_assert_str_eq(set(&v, &d, ""), "");
    ck_assert_ptr_nonnull(v.re);
    optval_release(&v);
}
END_TEST

/* --- type names --------------------------------------------------------- */

static const char *
type_name(const struct opt_desc *d)
{
    struct buf b;

    buf_init(&b);
    ck_assert_int_eq(optval_type_name(d, &b), 0);
    return keep(&b);
}

START_TEST(type_names_match_serpent)
{
    struct opt_desc d = desc(OPT_ENUM);

    ck_assert_str_eq(type_name(&d), "enum[password\\|awsiamrds]");
    ck_assert_uint_eq(strlen(type_name(&d)), 25);
    d = desc(OPT_ENUM_ARRAY);
    ck_assert_str_eq(type_name(&d), "enum-array[password\\|awsiamrds]");
    d = desc(OPT_HOSTPORT);
    ck_assert_str_eq(type_name(&d), "host:port");
    d = desc(OPT_INT64);
    ck_assert_str_eq(type_name(&d), "int");
    d = desc(OPT_STRING_ARRAY);
    ck_assert_str_eq(type_name(&d), "string-array");
    d = desc(OPT_YAML_PATH);
    ck_assert_str_eq(type_name(&d), "yaml-config-path");
    d = struct_desc(OPT_STRUCT_LINKS);
    ck_assert_str_eq(type_name(&d), "struct[[]codersdk.LinkConfig]");
    d = struct_desc(OPT_STRUCT_MAP_UUIDS);
    ck_assert_str_eq(type_name(&d), "struct[map[string][]uuid.UUID]");
}
END_TEST

/* --- validate checks ---------------------------------------------------- */

START_TEST(validate_checks_labels_provisioners_and_wildcards)
{
    struct opt_desc d = desc(OPT_STRING_ARRAY);
    struct opt_value v;
    struct err e;

    setup_value(&v, &d);
    d.check = OPT_CHECK_AGG_LABELS;
    ck_assert_str_eq(set(&v, &d, "agent_name,username"), "");
    ck_assert_str_eq(set(&v, &d, "foo"), "\"foo\" is not a valid "
                     "aggregation label; only one or more of "
                     "[\"agent_name\" \"template_name\" \"username\" "
                     "\"workspace_name\"] are acceptable");
    ck_assert_int_eq(apply_yaml(&v, &d, " [bar]", &e), 0);
    ck_assert_str_eq(v.list[0], "bar");
    ck_assert_int_eq(apply_yaml(&v, &d, " agent_name", &e), ERR_INVALID);
    ck_assert_str_eq(e.msg, "cannot unmarshal !!str `agent_name` into "
                     "serpent.StringArray");
    ck_assert_int_eq(apply_yaml(&v, &d, " template_name", &e),
                     ERR_INVALID);
    ck_assert_str_eq(e.msg, "cannot unmarshal !!str `templat...` into "
                     "serpent.StringArray");
    d.check = OPT_CHECK_PROVISIONERS;
    ck_assert_str_eq(set(&v, &d, ""), "");
    ck_assert_str_eq(set(&v, &d, "terraform,echo"), "");
    ck_assert_str_eq(set(&v, &d, "docker"), "provisioner type 'docker' "
                     "is not supported");
    optval_release(&v);

    d = desc(OPT_STRING);
    d.check = OPT_CHECK_WILDCARD;
    setup_value(&v, &d);
    ck_assert_str_eq(set(&v, &d, "*.example.com"), "");
    ck_assert_str_eq(set(&v, &d, "*--apps.Example.com:8080"), "");
    ck_assert_str_eq(set(&v, &d, ""), "");
    ck_assert_str_ne(set(&v, &d, "example.com"), "");
    ck_assert_str_ne(set(&v, &d, "*.*.example.com"), "");
    ck_assert_str_ne(set(&v, &d, "a.*.example.com"), "");
    ck_assert_str_ne(set(&v, &d, "https://*.example.com"), "");
    ck_assert_str_eq(set(&v, &d, "*"), "invalid wildcard access URL "
                     "\"*\": hostname pattern must contain at least two "
                     "labels");
    optval_release(&v);
}
END_TEST

/* --- URL ---------------------------------------------------------------- */

static const char *
url_error(const char *in)
{
    struct opt_desc d = desc(OPT_URL);
    struct opt_value v;
    char msg[1024];

    setup_value(&v, &d);
    ck_assert_str_eq(set(&v, &d, "https://keep.example"), "");
    snprintf(msg, sizeof(msg), "%s", set(&v, &d, in));
    if (msg[0] != '\0')
        ck_assert_str_eq(v.s, "https://keep.example");
    optval_release(&v);
    snprintf(out_text, sizeof(out_text), "%s", msg);
    return out_text;
}

START_TEST(url_normalises_like_go_url_string)
{
    ck_assert_str_eq(reformat(OPT_URL, ""), "");
    ck_assert_str_eq(reformat(OPT_URL, "HTTPS://Example.COM/a b?q=1 2#f g"),
                     "https://Example.COM/a%20b?q=1 2#f%20g");
    ck_assert_str_eq(reformat(OPT_URL, "example.com"), "example.com");
    ck_assert_str_eq(reformat(OPT_URL, "http://"), "http:");
    ck_assert_str_eq(reformat(OPT_URL, "http://x#"), "http://x");
    ck_assert_str_eq(reformat(OPT_URL, "http://x?"), "http://x?");
    ck_assert_str_eq(reformat(OPT_URL, "mailto:a@b.c"), "mailto:a@b.c");
    ck_assert_str_eq(reformat(OPT_URL, "http://u:p%40ss@h:80/p"),
                     "http://u:p%40ss@h:80/p");
    ck_assert_str_eq(reformat(OPT_URL, "http://[::1]:8080/x"),
                     "http://[::1]:8080/x");
    ck_assert_str_eq(reformat(OPT_URL, "http://h/%7e"), "http://h/%7e");
    ck_assert_str_eq(reformat(OPT_URL, "http://h/a%2Fb"), "http://h/a%2Fb");
    ck_assert_str_eq(reformat(OPT_URL, "file:///etc"), "file:///etc");
    ck_assert_str_eq(reformat(OPT_URL, "*"), "*");
    ck_assert_str_eq(reformat(OPT_URL, "/a/b:c"), "/a/b:c");
    ck_assert_str_eq(reformat(OPT_URL, "a:b/c:d"), "a:b/c:d");
}
END_TEST

START_TEST(url_refuses_what_go_refuses_and_keeps_the_old_value)
{
    ck_assert_str_eq(url_error("http://x/%zz"), "parse \"http://x/%zz\": "
                     "invalid URL escape \"%zz\"");
    ck_assert_str_eq(url_error("http://x/%4"), "parse \"http://x/%4\": "
                     "invalid URL escape \"%4\"");
    ck_assert_str_eq(url_error("http://x\x01"), "parse \"http://x\x01\": "
                     "net/url: invalid control character in URL");
    ck_assert_str_eq(url_error("http://[::1/x"), "parse \"http://[::1/x\":"
                     " missing ']' in host");
    ck_assert_str_eq(url_error("1a:b"), "parse \"1a:b\": first path "
                     "segment in URL cannot contain colon");
    ck_assert_str_eq(url_error(":foo"), "parse \":foo\": missing protocol "
                     "scheme");
    ck_assert_str_eq(url_error("http://h:port/"), "parse \"http://h:port/"
                     "\": invalid port \":port\" after host");
    ck_assert_str_eq(url_error("http://a b/"), "parse \"http://a b/\": "
                     "invalid character \" \" in host name");
}
END_TEST

START_TEST(url_json_is_a_string_and_empty_yaml_prints_nothing)
{
    struct opt_desc d = desc(OPT_URL);
    struct opt_value v;

    setup_value(&v, &d);
    ck_assert_str_eq(json_text(optval_json(&v, &d)), "\"\"");
    ck_assert_str_eq(yaml_text(&v, &d, 0), "");
    ck_assert_str_eq(set(&v, &d, "https://dev.coder.com"), "");
    ck_assert_str_eq(json_text(optval_config_json(&v, &d)),
                     "\"https://dev.coder.com\"");
    ck_assert_str_eq(yaml_text(&v, &d, 0), " https://dev.coder.com");
    optval_release(&v);
}
END_TEST

/* --- Struct[T] ---------------------------------------------------------- */

static const char *
struct_json(const struct opt_value *v, const struct opt_desc *d)
{
    return json_text(optval_config_json(v, d));
}

START_TEST(struct_map_merges_and_sorts_keys)
{
    struct opt_desc d = struct_desc(OPT_STRUCT_MAP_STRING);
    struct opt_value v;

    setup_value(&v, &d);
    ck_assert_str_eq(struct_json(&v, &d), "null");
    ck_assert_str_eq(yaml_text(&v, &d, 0), " {}");
    ck_assert_str_eq(set(&v, &d, ""), "");
    ck_assert_ptr_null(v.js);
    ck_assert_str_eq(set(&v, &d, "{\"access_type\": \"offline\"}"), "");
    ck_assert_str_eq(text(&v, &d), "access_type: offline\n");
    ck_assert_str_eq(set(&v, &d, "b: 2\na: x"), "");
    ck_assert_str_eq(struct_json(&v, &d),
                     "{\"a\":\"x\",\"access_type\":\"offline\",\"b\":\"2\"}");
    ck_assert_str_eq(set(&v, &d, "[1]"), "cannot unmarshal !!seq into "
                     "map[string]string");
    ck_assert_str_eq(set(&v, &d, "{a: [1]}"), "cannot unmarshal !!seq "
                     "into string");
    ck_assert_str_eq(set(&v, &d, "{a: "), "yaml: line 1: did not find "
                     "expected node content");
    ck_assert_uint_eq(json_object_size(v.js), 3);
    ck_assert_str_eq(yaml_text(&v, &d, 2), "\n    a: x\n    access_type: "
                     "offline\n    b: \"2\"");
    ck_assert_str_eq(set(&v, &d, "null"), "");
    ck_assert_ptr_null(v.js);
    ck_assert_str_eq(set(&v, &d, "{}"), "");
    ck_assert_str_eq(struct_json(&v, &d), "{}");
    optval_release(&v);
}
END_TEST

START_TEST(struct_slice_is_replaced_and_keeps_field_order)
{
    struct opt_desc d = struct_desc(OPT_STRUCT_LINKS);
    struct opt_value v;

    setup_value(&v, &d);
    ck_assert_str_eq(yaml_text(&v, &d, 0), " []");
    ck_assert_str_eq(text(&v, &d), "[]\n");
    ck_assert_str_eq(set(&v, &d, "[{\"icon\":\"docs\",\"name\":\"Docs\","
                         "\"target\":\"https://x\"}]"), "");
    ck_assert_str_eq(struct_json(&v, &d), "[{\"name\":\"Docs\",\"target\":"
                     "\"https://x\",\"icon\":\"docs\"}]");
    ck_assert_str_eq(set(&v, &d, "- name: A\n  location: navbar\n- name: B"),
                     "");
    ck_assert_str_eq(struct_json(&v, &d), "[{\"name\":\"A\",\"target\":\"\","
                     "\"icon\":\"\",\"location\":\"navbar\"},{\"name\":\"B\","
                     "\"target\":\"\",\"icon\":\"\"}]");
    ck_assert_str_eq(yaml_text(&v, &d, 0), "\n  - name: A\n    target: \"\""
                     "\n    icon: \"\"\n    location: navbar\n  - name: B\n"
                     "    target: \"\"\n    icon: \"\"");
    ck_assert_str_eq(set(&v, &d, "foo"), "cannot unmarshal !!str `foo` "
                     "into []codersdk.LinkConfig");
    ck_assert_str_eq(set(&v, &d, "[]"), "");
    ck_assert_str_eq(struct_json(&v, &d), "[]");
    optval_release(&v);
}
END_TEST

START_TEST(external_auth_hides_secret_fields_from_json_only)
{
    struct opt_desc d = struct_desc(OPT_STRUCT_EXTERNAL_AUTH);
    struct opt_value v;
    char js[4096];
    const char *y;

    setup_value(&v, &d);
    ck_assert_str_eq(set(&v, &d, "[{type: github, client_secret: s3cr3t, "
                         "extra_token_keys: [k], scopes: [repo], "
                         "no_refresh: yes}]"), "");
    snprintf(js, sizeof(js), "%s", struct_json(&v, &d));
    ck_assert_ptr_null(strstr(js, "s3cr3t"));
    ck_assert_ptr_null(strstr(js, "extra_token_keys"));
    ck_assert_ptr_nonnull(strstr(js, "\"no_refresh\":true,\"scopes\":"
                                 "[\"repo\"],\"device_flow\":false"));
    ck_assert(strncmp(js, "[{\"type\":\"github\",\"client_id\":\"\",\"id\"",
                      37) == 0);
    y = yaml_text(&v, &d, 0);
    ck_assert_ptr_nonnull(strstr(y, "\n    client_secret: s3cr3t\n"));
    ck_assert_ptr_nonnull(strstr(y, "\n    extra_token_keys:\n      - k\n"));
    ck_assert_ptr_nonnull(strstr(y, "\n    code_challenge_methods_supported:"
                                 " []"));
    ck_assert_str_eq(set(&v, &d, "[{no_refresh: maybe}]"), "cannot "
                     "unmarshal !!str `maybe` into bool");
    optval_release(&v);
}
END_TEST

START_TEST(uuid_map_validates_and_canonicalises)
{
    struct opt_desc d = struct_desc(OPT_STRUCT_MAP_UUIDS);
    struct opt_value v;

    setup_value(&v, &d);
    ck_assert_str_eq(set(&v, &d, "{\"g\": [\"5C1B7B3E-7D0A-4C51-9B7E-"
                         "2F0F6D2F2C11\"]}"), "");
    ck_assert_str_eq(struct_json(&v, &d), "{\"g\":[\"5c1b7b3e-7d0a-4c51-"
                     "9b7e-2f0f6d2f2c11\"]}");
    ck_assert_str_eq(set(&v, &d, "{h: [abc]}"), "invalid UUID length: 3");
    ck_assert_str_eq(set(&v, &d, "{h: [zc1b7b3e-7d0a-4c51-9b7e-"
                         "2f0f6d2f2c11]}"), "invalid UUID format");
    ck_assert_str_eq(set(&v, &d, "{h: 5c1b7b3e7d0a4c519b7e2f0f6d2f2c11}"),
                     "cannot unmarshal !!str `5c1b7b3...` into "
                     "[]uuid.UUID");
    ck_assert_str_eq(set(&v, &d, "{h: [5c1b7b3e7d0a4c519b7e2f0f6d2f2c11]}"),
                     "");
    ck_assert_str_eq(struct_json(&v, &d), "{\"g\":[\"5c1b7b3e-7d0a-4c51-"
                     "9b7e-2f0f6d2f2c11\"],\"h\":[\"5c1b7b3e-7d0a-4c51-9b7e-"
                     "2f0f6d2f2c11\"]}");
    optval_release(&v);
}
END_TEST

START_TEST(struct_yaml_node_without_children_makes_a_nil_slice)
{
    struct opt_desc d = struct_desc(OPT_STRUCT_LINKS);
    struct opt_value v;
    struct err e;

    setup_value(&v, &d);
    ck_assert_str_eq(set(&v, &d, "[{name: a}]"), "");
    ck_assert_int_eq(apply_yaml(&v, &d, " foo", &e), 0);
    ck_assert_ptr_null(v.js);
    ck_assert_int_eq(apply_yaml(&v, &d, "\n  - name: b\n    icon: bug", &e),
                     0);
    ck_assert_str_eq(struct_json(&v, &d), "[{\"name\":\"b\",\"target\":\"\","
                     "\"icon\":\"bug\"}]");
    ck_assert_int_eq(apply_yaml(&v, &d, " []", &e), 0);
    ck_assert_str_eq(struct_json(&v, &d), "null");
    ck_assert_int_eq(apply_yaml(&v, &d, " {a: b}", &e), ERR_INVALID);
    ck_assert_str_eq(e.msg, "cannot unmarshal !!map into "
                     "[]codersdk.LinkConfig");
    optval_release(&v);
}
END_TEST

START_TEST(struct_map_of_lists_writes_nested_blocks)
{
    struct opt_desc d = struct_desc(OPT_STRUCT_MAP_STRINGS);
    struct opt_value v, back;
    struct err e;
    struct buf y;

    setup_value(&v, &d);
    ck_assert_str_eq(set(&v, &d, "{admin: [owner, \"true\"], a10: [], "
                         "a9: ~}"), "");
    ck_assert_str_eq(struct_json(&v, &d), "{\"a10\":[],\"a9\":null,"
                     "\"admin\":[\"owner\",\"true\"]}");
    buf_init(&y);
    ck_assert_int_eq(optval_yaml(&v, &d, 0, &y), 0);
    ck_assert_str_eq(buf_str(&y), "\n  a9: []\n  a10: []\n  admin:\n"
                     "    - owner\n    - \"true\"");
    setup_value(&back, &d);
    ck_assert_int_eq(apply_yaml(&back, &d, buf_str(&y), &e), 0);
    ck_assert_str_eq(struct_json(&back, &d), "{\"a10\":[],\"a9\":[],"
                     "\"admin\":[\"owner\",\"true\"]}");
    buf_release(&y);
    optval_release(&back);
    optval_release(&v);
}
END_TEST

/* --- YAML output and input ---------------------------------------------- */

static const char *
ystr(const char *s)
{
    struct buf b;

    buf_init(&b);
    ck_assert_int_eq(opt_yaml_string(s, 0, &b), 0);
    return keep(&b);
}

START_TEST(yaml_quotes_strings_that_would_change_type)
{
    ck_assert_str_eq(ystr("plain"), "plain");
    ck_assert_str_eq(ystr(""), "\"\"");
    ck_assert_str_eq(ystr("true"), "\"true\"");
    ck_assert_str_eq(ystr("yes"), "\"yes\"");
    ck_assert_str_eq(ystr("Off"), "\"Off\"");
    ck_assert_str_eq(ystr("123"), "\"123\"");
    ck_assert_str_eq(ystr("1.5"), "\"1.5\"");
    ck_assert_str_eq(ystr("0x1F"), "\"0x1F\"");
    ck_assert_str_eq(ystr("1_000"), "\"1_000\"");
    ck_assert_str_eq(ystr("1:30"), "\"1:30\"");
    ck_assert_str_eq(ystr("2024-01-02"), "\"2024-01-02\"");
    ck_assert_str_eq(ystr("2024-13-02"), "2024-13-02");
    ck_assert_str_eq(ystr(".inf"), "\".inf\"");
    ck_assert_str_eq(ystr("null"), "\"null\"");
    ck_assert_str_eq(ystr("~"), "\"~\"");
    ck_assert_str_eq(ystr("1.2.3"), "1.2.3");
    ck_assert_str_eq(ystr("0.0.0.0:8080"), "0.0.0.0:8080");
    ck_assert_str_eq(ystr("-"), "'-'");
    ck_assert_str_eq(ystr("-a"), "-a");
}
END_TEST

START_TEST(yaml_quotes_strings_that_cannot_be_plain)
{
    ck_assert_str_eq(ystr("*.example.com"), "'*.example.com'");
    ck_assert_str_eq(ystr("a: b"), "'a: b'");
    ck_assert_str_eq(ystr("a:b"), "a:b");
    ck_assert_str_eq(ystr("%s%n"), "'%s%n'");
    ck_assert_str_eq(ystr("@x"), "'@x'");
    ck_assert_str_eq(ystr("`x"), "'`x'");
    ck_assert_str_eq(ystr("a #b"), "'a #b'");
    ck_assert_str_eq(ystr("a#b"), "a#b");
    ck_assert_str_eq(ystr("- a"), "'- a'");
    ck_assert_str_eq(ystr("x "), "'x '");
    ck_assert_str_eq(ystr(" x"), "' x'");
    ck_assert_str_eq(ystr("it's"), "it's");
    ck_assert_str_eq(ystr("'q"), "'''q'");
    ck_assert_str_eq(ystr("---"), "'---'");
    ck_assert_str_eq(ystr("a\tb"), "\"a\\tb\"");
    ck_assert_str_eq(ystr("\xf0\x9f\x98\x80"), "\"\\U0001F600\"");
    ck_assert_str_eq(ystr("caf\xc3\xa9"), "caf\xc3\xa9");
    ck_assert_str_eq(ystr("\xff"), "!!binary /w==");
}
END_TEST

START_TEST(yaml_writes_multi_line_strings_as_literal_blocks)
{
    struct buf b;

    ck_assert_str_eq(ystr("a\nb"), "|-\n  a\n  b");
    ck_assert_str_eq(ystr("a\n"), "|\n  a");
    ck_assert_str_eq(ystr("a\n\n"), "|+\n  a\n");
    ck_assert_str_eq(ystr(" a\nb"), "|2-\n   a\n  b");
    ck_assert_str_eq(ystr("a\n\nb"), "|-\n  a\n\n  b");
    ck_assert_str_eq(ystr("a \nb"), "\"a \\nb\"");
    ck_assert_str_eq(ystr("a\nb "), "\"a\\nb \"");
    buf_init(&b);
    ck_assert_int_eq(opt_yaml_string("x\ny", 4, &b), 0);
    ck_assert_str_eq(buf_str(&b), "|-\n      x\n      y");
    buf_release(&b);
}
END_TEST

/*
 * Sets in, writes the value as "k:<yaml>", reads that back into a fresh
 * value and expects the same JSON.
 */
static void
assert_round_trip(const struct opt_desc *d, const char *in)
{
    struct opt_value v, back;
    struct buf y;
    struct err e;
    char want[4096];

    setup_value(&v, d);
    setup_value(&back, d);
    ck_assert_str_eq(set(&v, d, in), "");
    buf_init(&y);
    ck_assert_int_eq(optval_yaml(&v, d, 0, &y), 0);
    ck_assert_msg(apply_yaml(&back, d, buf_str(&y), &e) == 0,
                  "%s -> %s: %s", in, buf_str(&y), e.msg);
    snprintf(want, sizeof(want), "%s", json_text(optval_json(&v, d)));
    ck_assert_msg(strcmp(json_text(optval_json(&back, d)), want) == 0,
                  "%s -> k:%s -> %s, want %s", in, buf_str(&y), out_text,
                  want);
    buf_release(&y);
    optval_release(&back);
    optval_release(&v);
}

START_TEST(yaml_output_reads_back_to_the_same_value)
{
    static const char *const strings[] = {
        "true", "123", "1.5", "null", "~", "yes", "", "*.example.com",
        "a: b", "line one\nline two", "trailing\n\n", "%s%n", " lead",
        "tab\there", "quote\"s", "back\\slash", "- dash", "#hash",
        "2024-01-02", "\xe2\x80\xa8sep", NULL
    };
    struct opt_desc d = desc(OPT_STRING);
    size_t i;

    for (i = 0; strings[i] != NULL; i++)
        assert_round_trip(&d, strings[i]);
    d = desc(OPT_STRING_ARRAY);
    assert_round_trip(&d, "\"true\",123,\"a: b\",\"x\ny\",*");
    d = desc(OPT_DURATION);
    assert_round_trip(&d, "60d");
    d = desc(OPT_URL);
    assert_round_trip(&d, "https://x.example/a b");
    assert_round_trip(&d, "*");
    d = desc(OPT_HOSTPORT);
    assert_round_trip(&d, "[::1]:80");
    d = desc(OPT_REGEXP);
    assert_round_trip(&d, "[a-z]+: #x");
    d = desc(OPT_INT64);
    assert_round_trip(&d, "-12");
    d = desc(OPT_BOOL);
    assert_round_trip(&d, "true");
    d = struct_desc(OPT_STRUCT_EXTERNAL_AUTH);
    assert_round_trip(&d, "[{type: gh, client_secret: \"true\", "
                      "scopes: [a], regex: \"^x: y$\", extra_token_keys: [], "
                      "code_challenge_methods_supported: [S256]}]");
    d = struct_desc(OPT_STRUCT_MAP_STRING);
    assert_round_trip(&d, "{\"\": \"multi\\nline\", \"a b\": \"~\"}");
}
END_TEST

START_TEST(yaml_scalars_use_the_raw_text)
{
    struct opt_desc d = desc(OPT_STRING);
    struct opt_value v;
    struct err e;

    setup_value(&v, &d);
    ck_assert_int_eq(apply_yaml(&v, &d, " null", &e), 0);
    ck_assert_str_eq(v.s, "null");
    ck_assert_int_eq(apply_yaml(&v, &d, " 5", &e), 0);
    ck_assert_str_eq(v.s, "5");
    ck_assert_int_eq(apply_yaml(&v, &d, "", &e), 0);
    ck_assert_str_eq(v.s, "");
    ck_assert_int_eq(apply_yaml(&v, &d, " {a: b}", &e), ERR_INVALID);
    ck_assert_str_eq(e.msg, "mapping nodes must implement "
                     "yaml.Unmarshaler");
    d.check = OPT_CHECK_PLAIN;
    ck_assert_int_eq(apply_yaml(&v, &d, " x", &e), 0);
    ck_assert_int_eq(apply_yaml(&v, &d, " null", &e), 0);
    ck_assert_str_eq(v.s, "x");
    optval_release(&v);

    d = desc(OPT_INT64);
    setup_value(&v, &d);
    ck_assert_int_eq(apply_yaml(&v, &d, " \"123\"", &e), 0);
    ck_assert(v.i == 123);
    optval_release(&v);

    d = desc(OPT_STRING_ARRAY);
    setup_value(&v, &d);
    ck_assert_int_eq(apply_yaml(&v, &d, " a,b", &e), 0);
    ck_assert_uint_eq(v.n, 2);
    ck_assert_int_eq(apply_yaml(&v, &d, " [x, ~, \"y\"]", &e), 0);
    ck_assert_str_eq(json_text(optval_json(&v, &d)), "[\"x\",\"y\"]");
    ck_assert_int_eq(apply_yaml(&v, &d, " [[x]]", &e), ERR_INVALID);
    ck_assert_str_eq(e.msg, "cannot unmarshal !!seq into string");
    optval_release(&v);

    d = desc(OPT_HOSTPORT);
    setup_value(&v, &d);
    ck_assert_int_eq(apply_yaml(&v, &d, "", &e), ERR_INVALID);
    ck_assert_str_eq(e.msg, "must not be empty");
    optval_release(&v);
}
END_TEST

START_TEST(is_default_compares_with_the_parsed_default)
{
    struct opt_desc d = desc(OPT_DURATION);
    struct opt_value v;

    d.def = "24h";
    setup_value(&v, &d);
    ck_assert(!optval_is_default(&v, &d));
    ck_assert_str_eq(set(&v, &d, "1d"), "");
    ck_assert(optval_is_default(&v, &d));
    optval_release(&v);

    d = desc(OPT_STRING_ARRAY);
    d.def = "openid,profile,email";
    setup_value(&v, &d);
    ck_assert_str_eq(set(&v, &d, "openid,profile"), "");
    ck_assert(!optval_is_default(&v, &d));
    ck_assert_str_eq(set(&v, &d, "email"), "");
    ck_assert(optval_is_default(&v, &d));
    optval_release(&v);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("check_optval");
    TCase *tc = tcase_create("values");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, duration_format_matches_go_table);
    tcase_add_test(tc, duration_parses_days_weeks_and_go_units);
    tcase_add_test(tc, duration_rejects_what_go_rejects);
    tcase_add_test(tc, duration_json_is_nanoseconds_and_yaml_is_text);
    tcase_add_test(tc, csv_reads_one_record_like_go);
    tcase_add_test(tc, csv_errors_carry_go_text_and_position);
    tcase_add_test(tc, string_array_appends_and_empty_clears_to_nil);
    tcase_add_test(tc, string_array_empty_non_nil_list_is_json_brackets);
    tcase_add_test(tc, string_array_text_keeps_serpents_unflushed_writer);
    tcase_add_test(tc, bool_accepts_exactly_go_spellings);
    tcase_add_test(tc, int64_parses_base10_and_clamps_on_overflow);
    tcase_add_test(tc, float64_formats_like_go);
    tcase_add_test(tc, string_stores_text_as_is);
    tcase_add_test(tc, hostport_splits_and_joins_like_go);
    tcase_add_test(tc, hostport_errors_clear_host_and_port);
    tcase_add_test(tc, enum_matches_ignoring_case_and_keeps_the_text);
    tcase_add_test(tc, enum_array_checks_every_item);
    tcase_add_test(tc, regexp_compiles_and_reports_go_style_errors);
    tcase_add_test(tc, type_names_match_serpent);
    tcase_add_test(tc, validate_checks_labels_provisioners_and_wildcards);
    tcase_add_test(tc, url_normalises_like_go_url_string);
    tcase_add_test(tc, url_refuses_what_go_refuses_and_keeps_the_old_value);
    tcase_add_test(tc, url_json_is_a_string_and_empty_yaml_prints_nothing);
    tcase_add_test(tc, struct_map_merges_and_sorts_keys);
    tcase_add_test(tc, struct_slice_is_replaced_and_keeps_field_order);
    tcase_add_test(tc, external_auth_hides_secret_fields_from_json_only);
    tcase_add_test(tc, uuid_map_validates_and_canonicalises);
    tcase_add_test(tc, struct_yaml_node_without_children_makes_a_nil_slice);
    tcase_add_test(tc, struct_map_of_lists_writes_nested_blocks);
    tcase_add_test(tc, yaml_quotes_strings_that_would_change_type);
    tcase_add_test(tc, yaml_quotes_strings_that_cannot_be_plain);
    tcase_add_test(tc, yaml_writes_multi_line_strings_as_literal_blocks);
    tcase_add_test(tc, yaml_output_reads_back_to_the_same_value);
    tcase_add_test(tc, yaml_scalars_use_the_raw_text);
    tcase_add_test(tc, is_default_compares_with_the_parsed_default);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
