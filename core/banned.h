/*
 * banned.h: calls we do not use, poisoned so that the compiler refuses them.
 *
 * Include it last in every .c file, after all system headers (which may
 * themselves mention these names).  Use snprintf and the buf helpers for
 * strings, util_parse_i64 and friends for numbers, gmtime_r and
 * localtime_r for time.
 */
#ifndef CODER_CFG_BANNED_H
#define CODER_CFG_BANNED_H

#if defined(__GNUC__) && !defined(CODER_CFG_NO_BANNED)
#pragma GCC poison strcpy strcat sprintf vsprintf strtok atoi atol atoll
#pragma GCC poison gmtime localtime
#endif

#endif
