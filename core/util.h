/*
 * util.h: small checked helpers shared by every layer.
 *
 * Numbers from outside text are parsed only through util_parse_*; they
 * accept exactly what Go's strconv accepts for base 10 (optional sign,
 * digits, nothing else) and report overflow.  Times are int64 nanoseconds
 * since the Unix epoch, UTC.
 */
#ifndef CODER_CFG_UTIL_H
#define CODER_CFG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTIL_UUID_LEN 36
#define UTIL_NS_PER_SEC INT64_C(1000000000)

/*
 * Parses s (length len) as a signed base-10 integer.  Returns 0, or
 * ERR_INVALID for anything but [+-]digits and ERR_TOO_LARGE on overflow
 * (then *out holds the clamped limit, as Go does).
 */
int util_parse_i64(const char *s, size_t len, int64_t *out);

/* The same for an unsigned value with no sign allowed. */
int util_parse_u64(const char *s, size_t len, uint64_t *out);

/* Wall-clock time now, in nanoseconds since the epoch. */
int64_t util_now_ns(void);

/* Monotonic time, in nanoseconds, for measuring intervals. */
int64_t util_mono_ns(void);

/* A new random (version 4) UUID, lower case, in out[37]. */
void util_uuid_new(char out[UTIL_UUID_LEN + 1]);

/* True when s is a UUID in the 8-4-4-4-12 hex form (any case). */
bool util_uuid_valid(const char *s);

/* Fills out[0..n) with characters from [0-9A-Za-z] drawn from a CSPRNG. */
void util_random_alnum(char *out, size_t n);

/*
 * Formats t as Go's time.Time JSON form (RFC 3339, UTC "Z", fractional
 * seconds with trailing zeros dropped, as RFC3339Nano does) into out.
 */
void util_time_rfc3339(int64_t t, char out[40]);

/*
 * Length of the valid UTF-8 sequence at s (at most left bytes, left > 0):
 * 1 to 4, or 0 when the bytes there are not valid UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF included).
 */
size_t util_utf8_len(const unsigned char *s, size_t left);

/* Case-insensitive ASCII equality. */
bool util_ascii_ieq(const char *a, const char *b);

/* Initialises libsodium once; safe to call from any thread, many times. */
int util_crypto_init(void);

#endif
