#!/usr/bin/env bash
# ci/layering.sh: the layers keep to their seams (seconds, grep and awk only). Fails, naming
# file and line, when
#   1. src/ includes a header of platform/posix or platform/win32 (or any posix.h, win32.h,
#      kernel.h), or tests an OS macro in #if/#ifdef/#elif (_WIN32, __linux__, __APPLE__...);
#   2. platform/posix and platform/win32 include anything of each other;
#   3. platform/ names a function defined in src/*.c other than the error setters
#      (spill__error_set_os, spill__error_in): the platform reaches the core only through them
#      and the callbacks the core registers;
#   4. tools/ or bench/ include anything but spill.h, their own headers and system/APR ones.
# Comments and string literals are blanked first: a comment may name what code may not.
set -euo pipefail
cd "$(dirname "$0")/.."

# code FILE...: FILE:LINE:TEXT for every line, comments and string contents blanked (kept on
# #include lines, whose "path" is the point).
code() {
    awk '
    FNR == 1 { inc = 0 }
    {
        s = $0; n = length(s); out = ""; q = ""; keep = (s ~ /^[ \t]*#[ \t]*include/)
        for (i = 1; i <= n; i++) {
            c = substr(s, i, 1); d = substr(s, i, 2)
            if (inc) { if (d == "*/") { inc = 0; i++ } continue }
            if (q != "") {
                if (c == "\\") { if (keep) out = out substr(s, i, 2); i++; continue }
                if (c == q) { q = ""; out = out c } else if (keep) out = out c
                continue
            }
            if (d == "/*") { inc = 1; out = out " "; i++; continue }
            if (d == "//") break
            if (c == "\"" || c == "'\''") q = c
            out = out c
        }
        print FILENAME ":" FNR ":" out
    }' "$@"
}

# sources DIR...: the C and C++ files under each DIR
sources() { find "$@" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \) | sort; }

# includes DIR...: FILE:LINE:KIND:PATH for each #include under DIR, KIND " or <
includes() {
    # shellcheck disable=SC2046 # file names have no spaces
    code $(sources "$@") |
        sed -nE 's/^([^:]+:[0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*(["<])([^">]+)[">].*/\1:\2:\3/p'
}

# header_names DIR...: the base names of the headers under each DIR
header_names() { find "$@" -type f -name '*.h' -exec basename {} \; | sort -u; }

# Each check prints FILE:LINE: WHAT for every violation.

# 1. The core knows no platform: no platform header, no OS test.
check_core() {
    local file line kind path os
    local -A plat=()
    for path in $(header_names platform/posix platform/win32) posix.h win32.h kernel.h; do
        plat[$path]=1
    done
    while IFS=: read -r file line kind path; do
        if [[ /$path == */posix/* || /$path == */win32/* || -n ${plat[${path##*/}]:-} ]]; then
            echo "$file:$line: src/ includes the platform's $path (rule 1)"
        fi
    done < <(includes src)
    # every #if/#ifdef/#ifndef/#elif line, with its continuation lines
    os='_WIN32|_WIN64|__WIN32__|WIN32|__CYGWIN__|__MINGW32__|__MINGW64__|_MSC_VER|__linux__|__linux|__gnu_linux__|__ANDROID__|__APPLE__|__MACH__|__FreeBSD__|__NetBSD__|__OpenBSD__|__DragonFly__|__sun|__unix__|__unix|__GLIBC__|__HAIKU__'
    # shellcheck disable=SC2046 # file names have no spaces
    code $(sources src) | awk -v os="$os" '
        { text = $0; sub(/^[^:]*:[^:]*:/, "", text); split($0, f, ":") }
        cont || text ~ /^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|elifdef|elifndef)([^A-Za-z0-9_]|$)/ {
            if (match(text, "(^|[^A-Za-z0-9_])(" os ")([^A-Za-z0-9_]|$)"))
                print f[1] ":" f[2] ": src/ tests an OS macro: " text " (rule 1)"
            cont = (text ~ /\\[ \t]*$/)
            next
        }
        { cont = 0 }'
}

# 2. platform/posix and platform/win32 include nothing of each other.
check_platforms() {
    local a=$1 b=$2 file line kind path
    local -A other=()
    for path in $(header_names "platform/$b") "$b.h"; do other[$path]=1; done
    while IFS=: read -r file line kind path; do
        if [[ /$path == */$b/* || -n ${other[${path##*/}]:-} ]]; then
            echo "$file:$line: platform/$a includes $b's $path (rule 2)"
        fi
    done < <(includes "platform/$a")
}

# 3. The platform names no core function but the error setters. The core's functions: the
# names at the start of a line of src/*.c followed by "(", whose "{" comes before any ";".
core_functions() {
    code src/*.c | awk '
        { text = $0; sub(/^[^:]*:[^:]*:/, "", text) }
        pending == "" && text ~ /^[A-Za-z_]/ && match(text, /spill_[A-Za-z0-9_]*[ \t]*\(/) {
            pending = substr(text, RSTART, RLENGTH)
            sub(/[ \t]*\($/, "", pending)
            text = substr(text, RSTART + RLENGTH)
        }
        pending != "" {
            b = index(text, "{"); s = index(text, ";")
            if (b && (!s || b < s)) { print pending; pending = "" } else if (s) pending = ""
        }' | sort -u
}
check_platform_calls() {
    local allowed=" spill__error_set_os spill__error_in "
    # shellcheck disable=SC2046 # file names have no spaces
    code $(sources platform) | awk -v allowed="$allowed" '
        NR == FNR { core[$0] = 1; next }
        {
            text = $0; sub(/^[^:]*:[^:]*:/, "", text); split($0, f, ":")
            while (match(text, /[A-Za-z_][A-Za-z0-9_]*/)) {
                w = substr(text, RSTART, RLENGTH); text = substr(text, RSTART + RLENGTH)
                if (w in core && index(allowed, " " w " ") == 0)
                    print f[1] ":" f[2] ": platform/ names the core function " w " (rule 3)"
            }
        }' <(core_functions) -
}

# 4. tools/ and bench/ see the library as its users do: spill.h (spill.hpp), their own headers,
# system and APR headers; nothing of src/ or platform/, whatever the include path finds.
check_clients() {
    local file line path kind
    local -A internal=()
    for path in $(header_names src platform) spill_int.h platform.h process.h posix.h win32.h \
        kernel.h; do
        internal[$path]=1
    done
    while IFS=: read -r file line kind path; do
        if [[ /$path == */src/* || /$path == */platform/* || -n ${internal[${path##*/}]:-} ]]; then
            echo "$file:$line: $file includes the library's internal $path (rule 4)"
        elif [[ $kind == '"' && $path != spill.h && $path != spill.hpp &&
            ! -f $(dirname "$file")/$path ]]; then
            echo "$file:$line: $file includes \"$path\": not spill.h nor a header of its own (rule 4)"
        fi
    done < <(includes tools bench)
}

found=$({
    check_core
    check_platforms posix win32
    check_platforms win32 posix
    check_platform_calls
    check_clients
})
if [ -n "$found" ]; then
    echo "$found" >&2
    echo "ci/layering.sh: FAILED: $(echo "$found" | wc -l) violation(s) of the layering (above)" >&2
    exit 1
fi
echo "ci/layering.sh: src/, platform/, tools/ and bench/ keep to their layers"
