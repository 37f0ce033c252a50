/*
 * semver.h: version comparison as golang.org/x/mod/semver does it.
 *
 * Versions are "v" MAJOR [. MINOR [. PATCH]] [-PRERELEASE] [+BUILD]; the
 * short forms "v2" and "v2.1" mean v2.0.0 and v2.1.0 and take no
 * pre-release or build part.  An invalid version sorts before every valid
 * one, and two invalid versions are equal.
 */
#ifndef CODER_CFG_API_SEMVER_H
#define CODER_CFG_API_SEMVER_H

#include <stdbool.h>

/* True when v is a valid semantic version in the form above. */
bool semver_valid(const char *v);

/* -1, 0 or +1 as a sorts before, with or after b. */
int semver_compare(const char *a, const char *b);

/*
 * Coder's update-check verdict: own (this server's version) with
 * everything from its first '-' or '+' removed, compared with latest (the
 * newest release tag); true when own is at least latest.
 */
bool semver_is_current(const char *own, const char *latest);

#endif
