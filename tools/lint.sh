#!/bin/sh
# lint.sh: the mechanical style checks of STYLE.md.
#   - no line over 80 columns in C sources and headers;
#   - none of the banned calls (banned.h poisons them at compile time too);
#   - every .c file under core/ api/ backends/ tools/ includes banned.h;
#   - no TODO/FIXME/XXX marks (NEEDSWORK: with a paragraph is the form).
set -u
cd "$(dirname "$0")/.." || exit 2
status=0
files=$(find core api backends tools tests bench -name '*.[ch]' 2>/dev/null |
    sort)

wide=$(awk 'length($0) > 80 { printf "%s:%d: %d columns\n", FILENAME,
    FNR, length($0) }' $files)
if [ -n "$wide" ]; then
    printf '%s\n' "$wide"
    status=1
fi

banned=$(grep -nE \
    '\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|gmtime|localtime)[[:space:]]*\(' \
    $files | grep -v 'core/banned.h')
if [ -n "$banned" ]; then
    printf 'banned call: %s\n' $banned
    status=1
fi

for f in $(find core api backends tools -name '*.c' | sort); do
    if ! grep -q '#include "[./a-z]*banned.h"' "$f"; then
        echo "$f: does not include banned.h"
        status=1
    fi
done

marks=$(grep -nE '\b(TODO|FIXME|XXX)\b' $files)
if [ -n "$marks" ]; then
    printf '%s\n' "$marks"
    status=1
fi

[ $status -eq 0 ] && echo "lint: clean"
exit $status
