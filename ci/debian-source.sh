# ci/debian-source.sh: Debian's own sources for the cross legs (Windows, macOS, musl) and the
# mirror the i386 and systemd roots come from; sourced.
# spill_debian_source DIR PKG...   downloads the bookworm source packages into DIR, through a
#                                  private apt configuration (the machine's apt state untouched)
# spill_build_cunit ORIG WORK PREFIX CC AR [CFLAGS...]
#                                  builds CUnit's Framework and Basic interface as a static
#                                  library into PREFIX (include/CUnit, lib/libcunit.a, its .pc)

# The machine's bookworm mirror and its key, as "URL<TAB>KEYFILE", from apt's sources (one-line
# and deb822 formats; the first entry naming bookworm).
spill_debian_mirror() {
    local one_line=() deb822=() f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] && one_line+=("$f")
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] && deb822+=("$f")
    done
    {
        ((${#one_line[@]} == 0)) || awk '
            $1 == "deb" || $1 == "deb-src" {
                i = 2; opts = ""
                if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) { opts = opts " " $i; i++ }
                                  opts = opts " " $i; i++ }
                if ($(i + 1) == "bookworm") {
                    key = ""
                    if (match(opts, /signed-by=[^] ]+/)) key = substr(opts, RSTART + 10, RLENGTH - 10)
                    print $i "\t" key; exit
                }
            }' "${one_line[@]}"
        ((${#deb822[@]} == 0)) || awk 'BEGIN { RS = ""; FS = "\n" }
            {
                types = ""; uris = ""; suites = ""; key = ""; enabled = "yes"
                for (n = 1; n <= NF; n++) {
                    l = $n
                    if (l ~ /^[ \t]*#/ || l ~ /^[ \t]/) continue
                    c = index(l, ":"); if (!c) continue
                    k = tolower(substr(l, 1, c - 1)); v = substr(l, c + 1)
                    gsub(/^[ \t]+|[ \t]+$/, "", v)
                    if (k == "types") types = v; else if (k == "uris") uris = v
                    else if (k == "suites") suites = v; else if (k == "signed-by") key = v
                    else if (k == "enabled") enabled = tolower(v)
                }
                if (enabled == "no" || (" " types " ") !~ / deb(-src)? /) next
                if ((" " suites " ") !~ / bookworm /) next
                split(uris, u, /[ \t]+/)
                if (key !~ /^\//) key = ""
                print u[1] "\t" key; exit
            }' "${deb822[@]}"
    } | awk 'NR == 1'
}

spill_debian_source() {
    local dir=$1 line mirror key; shift
    line=$(spill_debian_mirror) || true
    mirror=${line%%$'\t'*}
    key=${line#*$'\t'}
    if [[ -z $mirror ]]; then
        echo "ci/debian-source.sh: no bookworm entry in apt's sources" >&2
        return 1
    fi
    mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial"
    if [[ -n $key ]]; then
        printf 'deb-src [signed-by=%s] %s bookworm main\n' "$key" "$mirror" >"$dir/apt/sources.list"
    else
        printf 'deb-src %s bookworm main\n' "$mirror" >"$dir/apt/sources.list"
    fi
    # Sandbox::User=root: the download directory is ours (root-owned), not writable by _apt.
    local apt_own=(-o "Dir::Etc::SourceList=$dir/apt/sources.list" -o Dir::Etc::SourceParts=-
                   -o "Dir::State::Lists=$dir/apt/lists" -o "Dir::Cache=$dir/apt/cache"
                   -o APT::Sandbox::User=root)
    apt-get -q "${apt_own[@]}" update >"$dir/apt/update.log" 2>&1 ||
        { tail -n 20 "$dir/apt/update.log" >&2; return 1; }
    (cd "$dir" && apt-get -q "${apt_own[@]}" source --download-only "$@") >"$dir/apt/source.log" 2>&1 ||
        { tail -n 20 "$dir/apt/source.log" >&2; return 1; }
}

spill_build_cunit() {
    local orig=$1 work=$2 prefix=$3 cc=$4 ar=$5; shift 5
    local src=$work/cunit inc=$work/cunit-include obj=$work/cunit-obj cfg ver rel c h o objs=()
    rm -rf "$src" "$inc" "$obj"
    mkdir -p "$src" "$inc/CUnit" "$obj"
    tar -xf "$orig" -C "$src" --strip-components=1
    cfg=$src/configure.in
    ver="$(sed -n 's/^VERSION_MAJOR=//p' "$cfg").$(sed -n 's/^VERSION_MINOR=//p' "$cfg")"
    rel=$(sed -n 's/^RELEASE=//p' "$cfg")
    if ! [[ $ver =~ ^[0-9]+\.[0-9]+$ && -n $rel ]]; then
        echo "ci/debian-source.sh: cannot read CUnit's version from $cfg" >&2
        return 1
    fi
    # The tarball's CUnit.h is stale (2.1-2); made from CUnit.h.in as configure would.
    sed -e "s/@VERSION@/$ver/g" -e "s/@RELEASE@/$rel/g" \
        "$src/CUnit/Headers/CUnit.h.in" >"$inc/CUnit/CUnit.h"
    for h in Basic.h CUError.h CUnit_intl.h MyMem.h TestDB.h TestRun.h Util.h; do
        cp "$src/CUnit/Headers/$h" "$inc/CUnit/"
    done
    for c in "$src"/CUnit/Sources/Framework/*.c "$src/CUnit/Sources/Basic/Basic.c"; do
        o=$obj/$(basename "${c%.c}").o
        $cc -O2 "$@" -I"$inc/CUnit" -c "$c" -o "$o" >"$o.log" 2>&1 || { cat "$o.log" >&2; return 1; }
        objs+=("$o")
    done
    $ar rcs "$obj/libcunit.a" "${objs[@]}"
    rm -rf "$prefix/include/CUnit"
    install -d "$prefix/include/CUnit" "$prefix/lib/pkgconfig"
    install -m 644 "$inc"/CUnit/*.h "$prefix/include/CUnit/"
    install -m 644 "$obj/libcunit.a" "$prefix/lib/libcunit.a"
    cat >"$prefix/lib/pkgconfig/cunit.pc" <<PC
prefix=\${pcfiledir}/../..
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: CUnit
Description: CUnit $ver-$rel unit testing framework (static, Framework + Basic)
Version: $ver-$rel
Cflags: -I\${includedir}
Libs: -L\${libdir} -lcunit
PC
}
