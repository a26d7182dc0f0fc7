#!/usr/bin/env bash
# ci/install-prefix.sh WORK_DIR: what `cmake --install` leaves under a prefix of the user's
# choosing, as a user of it sees it (Linux; the packaging leg). A static and a shared build (in
# WORK_DIR), each installed under a prefix other than the configured one, then:
#   - both copies of spill-reap@.service start PREFIX/bin/spill, as metrics.conf's ExecStartPost
#     does; DESTDIR stages the files and never enters those paths;
#   - the user managers' copy has PrivateUsers=yes, the system manager's has none;
#   - `systemd-analyze verify` is silent on both copies and on the metrics drop-in;
#   - `pkg-config --cflags spill` is spill's include directory and nothing of APR's, and a C
#     client builds and runs with `pkg-config --static --libs` (static) and `--libs` (shared).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:?usage: ci/install-prefix.sh WORK_DIR}
start=$SECONDS
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

fail() { echo "ci/install-prefix.sh: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (apt-get install systemd)"

# the configured prefix stays /usr/local: each install names another one
for kind in static shared; do
    shared=OFF
    [ $kind = static ] || shared=ON
    bash ci/build.sh "$work/$kind" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPILL_WERROR=ON \
        -DBUILD_SHARED_LIBS=$shared -DSPILL_BUILD_TESTS=OFF -DSPILL_BUILD_BENCH=OFF \
        -DSPILL_BUILD_EXAMPLES=OFF -DSPILL_MAN=OFF >/dev/null
    cmake --install "$work/$kind" --prefix "$t/$kind" >/dev/null
done

# line FILE KEY: FILE's one line starting KEY= (fails unless there is exactly one)
line() {
    local found
    found=$(grep "^$2=" "$1") || fail "$1 has no $2="
    [ "$(printf '%s\n' "$found" | wc -l)" = 1 ] || fail "$1 has $2= more than once"
    printf '%s\n' "$found"
}

# check_paths UNITS_DIR DOC_DIR BINDIR: the units and metrics.conf start BINDIR/spill
check_paths() {
    local m want as_owner
    for m in system user; do
        as_owner=
        [ $m = user ] || as_owner="--as-owner "
        want="ExecStart=$3/spill reap $as_owner--root %f"
        [ "$(line "$1/$m/spill-reap@.service" ExecStart)" = "$want" ] ||
            fail "$m unit: $(line "$1/$m/spill-reap@.service" ExecStart), not $want"
    done
    want="ExecStartPost=$3/spill ls --as-owner --root %f --prometheus"
    [[ "$(line "$2/metrics.conf" ExecStartPost)" == "$want "* ]] ||
        fail "metrics.conf: $(line "$2/metrics.conf" ExecStartPost), not $want ..."
}

p=$t/static
echo "-- the units start $p/bin/spill"
check_paths "$p/lib/systemd" "$p/share/doc/spill/examples" "$p/bin"

echo "-- DESTDIR stages the files and is never in their paths"
DESTDIR=$t/stage cmake --install "$work/static" --prefix /opt/spill >/dev/null
check_paths "$t/stage/opt/spill/lib/systemd" "$t/stage/opt/spill/share/doc/spill/examples" \
    /opt/spill/bin
DESTDIR=$t/stage2 cmake --install "$work/static" >/dev/null # the configured prefix
check_paths "$t/stage2/usr/local/lib/systemd" "$t/stage2/usr/local/share/doc/spill/examples" \
    /usr/local/bin
! grep -rl "$t/stage" "$t/stage" "$t/stage2" || fail "a staged file names DESTDIR (above)"

echo "-- PrivateUsers=yes in the user managers' copy only"
[ "$(line "$p/lib/systemd/user/spill-reap@.service" PrivateUsers)" = PrivateUsers=yes ] ||
    fail "the user managers' copy lacks PrivateUsers=yes (systemd then fails its start)"
! grep -q '^PrivateUsers=' "$p/lib/systemd/system/spill-reap@.service" ||
    fail "the system manager's copy has PrivateUsers= (--as-owner must switch to real users)"

echo "-- systemd-analyze verify: both copies, the metrics drop-in with the system's"
inst=$(systemd-escape --path /var/lib/spill-ci/spill)
for m in system user; do
    mkdir -p "$t/units/$m"
    cp "$p/lib/systemd/$m/spill-reap@.service" "$t/units/$m/spill-reap@$inst.service"
    cp "$p/lib/systemd/$m/spill-reap@.timer" "$t/units/$m/spill-reap@$inst.timer"
done
# a drop-in verified as one unit with the service it extends (a section may come twice)
cat "$t/units/system/spill-reap@$inst.service" "$p/share/doc/spill/examples/metrics.conf" \
    >"$t/units/system/spill-reap-metrics@$inst.service"
mkdir -m 700 "$t/run" # a user manager's runtime directory, which --user needs
{
    SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$t/units/system/"* 2>&1 || true
    XDG_RUNTIME_DIR=$t/run SYSTEMD_LOG_LEVEL=notice systemd-analyze --user verify --man=no \
        "$t/units/user/"* 2>&1 || true
} >"$t/verify"
! grep . "$t/verify" || fail "systemd-analyze verify had something to say (above)"

# a client of its own, as a user would write it
cat >"$t/client.c" <<'EOF'
#include <spill.h>
#include <stdio.h>
int main(int argc, char **argv) {
    spill_t *s;
    uint8_t addr[SPILL_ADDR_LEN] = {1};
    if (argc != 2 || spill_open(argv[1], NULL, &s) != SPILL_OK)
        return 1;
    if (spill_put(s, addr, "chunk", 5) != SPILL_OK || spill_close(s) != SPILL_OK)
        return 1;
    puts("client ok");
    return 0;
}
EOF
# pc KIND ARGS...: pkg-config on the prefix of KIND
pc() {
    local kind=$1
    shift
    PKG_CONFIG_PATH=$(dirname "$(find "$t/$kind" -name spill.pc)") pkg-config "$@" spill
}
# client KIND PKG_CONFIG_LIBS_ARGS...: builds the client with pkg-config's lines, runs it
client() {
    local kind=$1
    shift
    # shellcheck disable=SC2046 # pkg-config's output is words
    cc -Wall -Werror "$t/client.c" -o "$t/client-$kind" $(pc "$kind" --cflags) \
        $(pc "$kind" "$@")
    [ "$(LD_LIBRARY_PATH=$(pc "$kind" --variable=libdir) "$t/client-$kind" "$t/root-$kind")" \
        = "client ok" ] || fail "the $kind client failed"
}

for kind in static shared; do
    echo "-- pkg-config --cflags spill ($kind): spill's include directory and nothing of APR's"
    read -r -a words <<<"$(pc $kind --cflags)"
    want=("-I$t/$kind/include")
    [ $kind = shared ] || want+=(-DSPILL_STATIC) # spill.h's import/export switch (Windows)
    # the include directory as spill.pc spells it (from its own place: .../lib/pkgconfig/../..)
    words[0]=-I$(realpath -m "${words[0]#-I}")
    [ "${words[*]}" = "${want[*]}" ] ||
        fail "pkg-config --cflags spill ($kind) gave: $(pc $kind --cflags) (want ${want[*]})"
done

echo "-- a C client, static: pkg-config --static --libs spill (APR's libraries with it)"
client static --static --libs
echo "-- a C client, shared: pkg-config --libs spill"
client shared --libs
echo "ci/install-prefix.sh: ok ($((SECONDS - start)) s)"
