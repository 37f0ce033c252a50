/*
 * util.c: checked number parsing, clocks, UUIDs and randomness.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "util.h"
#include "banned.h"

int
util_parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    *out = 0;
    if (len == 0)
        return ERR_INVALID;
    for (i = 0; i < len; i++) {
        unsigned d;

        if (s[i] < '0' || s[i] > '9')
            return ERR_INVALID;
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            *out = UINT64_MAX;
            return ERR_TOO_LARGE;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int
util_parse_i64(const char *s, size_t len, int64_t *out)
{
    bool neg = false;
    uint64_t v;
    int rc;

    *out = 0;
    if (len > 0 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        s++;
        len--;
    }
    rc = util_parse_u64(s, len, &v);
    if (rc == ERR_INVALID)
        return rc;

    if (neg) {
        if (rc < 0 || v > (uint64_t)INT64_MAX + 1) {
            *out = INT64_MIN;
            return ERR_TOO_LARGE;
        }
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
        return 0;
    }
    if (rc < 0 || v > (uint64_t)INT64_MAX) {
        *out = INT64_MAX;
        return ERR_TOO_LARGE;
    }
    *out = (int64_t)v;
    return 0;
}

int64_t
util_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * UTIL_NS_PER_SEC + ts.tv_nsec;
}

int64_t
util_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * UTIL_NS_PER_SEC + ts.tv_nsec;
}

int
util_crypto_init(void)
{
    return sodium_init() < 0 ? ERR_INTERNAL : 0;
}

void
util_uuid_new(char out[UTIL_UUID_LEN + 1])
{
    unsigned char b[16];

    util_crypto_init();
    randombytes_buf(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, UTIL_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
}

bool
util_uuid_valid(const char *s)
{
    size_t i;

    if (strlen(s) != UTIL_UUID_LEN)
        return false;
    for (i = 0; i < UTIL_UUID_LEN; i++) {
        char c = s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
            continue;
        }
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
              (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

void
util_random_alnum(char *out, size_t n)
{
    static const char alphabet[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t i;

    util_crypto_init();
    for (i = 0; i < n; i++)
        out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
}

void
util_time_rfc3339(int64_t t, char out[40])
{
    time_t secs = (time_t)(t / UTIL_NS_PER_SEC);
    long frac = (long)(t % UTIL_NS_PER_SEC);
    struct tm tm;
    char digits[16];
    int n;

    if (frac < 0) {
        frac += UTIL_NS_PER_SEC;
        secs -= 1;
    }
    gmtime_r(&secs, &tm);
    n = (int)strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);

    /* RFC3339Nano drops trailing zeros, and the dot with them. */
    if (frac > 0) {
        int len;

        snprintf(digits, sizeof(digits), "%09ld", frac);
        len = 9;
        while (len > 0 && digits[len - 1] == '0')
            len--;
        digits[len] = '\0';
        n += snprintf(out + n, (size_t)(40 - n), ".%s", digits);
    }
    snprintf(out + n, (size_t)(40 - n), "Z");
}

bool
util_ascii_ieq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char x = *a;
        char y = *b;

        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return *a == *b;
}

size_t
util_utf8_len(const unsigned char *s, size_t left)
{
    size_t n, i;
    unsigned long cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4;
    else
        return 0;
    if (n > left)
        return 0;
    cp = s[0] & (0xffu >> (n + 1));
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}
