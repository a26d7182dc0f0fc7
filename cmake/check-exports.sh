#!/bin/sh
# check-exports.sh LIB HEADER [SYMBOLS]: the shared library LIB exports exactly the functions
# HEADER declares with SPILL_EXTERN (checked with nm -D), and the Debian symbols file SYMBOLS,
# if given, lists exactly those. The expected list is read from the header, so a function added
# to spill.h is expected at once; a new export without a declaration (a missed `static`, a
# lost visibility attribute) fails here.
set -eu
lib=$1 header=$2 symbols=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "SPILL_EXTERN const spill_error *spill_error_last(void);" -> spill_error_last; a name in
# parentheses, "SPILL_EXTERN void (spill_opts_init)(spill_opts *o);", is one a macro also has
sed -nE 's/^SPILL_EXTERN[^(]*[^A-Za-z0-9_(]\(?(spill_[A-Za-z0-9_]+)\)?[[:space:]]*\(.*/\1/p' \
    "$header" | sort -u >"$tmp/header"
if [ ! -s "$tmp/header" ]; then
    echo "check-exports: no SPILL_EXTERN declarations found in $header" >&2
    exit 1
fi
nm -D --defined-only "$lib" | awk 'NF >= 3 && $2 ~ /^[TDBRVWi]$/ { print $3 }' |
    sed 's/@.*//' | sort -u >"$tmp/lib"
status=0
if ! diff -u "$tmp/header" "$tmp/lib" >"$tmp/diff"; then
    echo "check-exports: $lib exports other functions than $header declares" \
        "(- declared, not exported; + exported, not declared):" >&2
    sed '1,2d' "$tmp/diff" | grep '^[-+]' >&2
    status=1
fi
if [ -n "$symbols" ]; then
    sed -nE 's/^ ([A-Za-z0-9_]+)@Base .*/\1/p' "$symbols" | sort -u >"$tmp/symbols"
    if ! diff -u "$tmp/header" "$tmp/symbols" >"$tmp/diff"; then
        echo "check-exports: $symbols is not in step with $header" \
            "(- declared, not in the symbols file; + listed, not declared):" >&2
        sed '1,2d' "$tmp/diff" | grep '^[-+]' >&2
        status=1
    fi
fi
[ $status -ne 0 ] || echo "check-exports: $(wc -l <"$tmp/header") functions, as spill.h declares"
exit $status
