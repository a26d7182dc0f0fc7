#!/usr/bin/env bash
# ci/deb-check.sh DEBS SOURCE: run by ci/deb.sh as root inside the throwaway root (or on the
# machine): installs the packages in DEBS, uses them as a user would, then purges them. SOURCE
# is the tree (tests/consumer, the header-derived export check, the symbols file).
set -euo pipefail
debs=$1 src=$2
t=$(mktemp -d /tmp/deb-check.XXXXXX)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
say() { echo "-- $*"; }

say "dpkg -i"
dpkg -i "$debs"/libspill0_*.deb "$debs"/libspill-dev_*.deb "$debs"/spill_*.deb >"$t/dpkg.log" ||
    { cat "$t/dpkg.log"; exit 1; }

say "the installed library exports spill.h's functions, as the symbols file lists"
objdump -p "/usr/lib/$multiarch/libspill.so.0" | grep -q 'SONAME *libspill.so.0$'
sh "$src/cmake/check-exports.sh" "/usr/lib/$multiarch/libspill.so.0" /usr/include/spill.h \
    "$src/packaging/debian/libspill0.symbols"

say "tests/consumer with find_package (shared, then static) and with pkg-config"
for target in spill::spill spill::spill_static; do
    b=$t/consumer-${target#spill::}
    cmake -S "$src/tests/consumer" -B "$b" -DSPILL_CONSUMER_TARGET=$target >"$b.log" 2>&1 &&
        cmake --build "$b" >>"$b.log" 2>&1 || { cat "$b.log"; exit 1; }
    "$b/consumer" "$t/root-${target#spill::}" | grep 'consumer ok'
done
if ldd "$t/consumer-spill_static/consumer" | grep -q libspill; then
    echo "the static consumer links libspill.so" >&2
    exit 1
fi
cc "$src/tests/consumer/main.c" -o "$t/consumer-pc" $(pkg-config --cflags --libs spill)
"$t/consumer-pc" "$t/root-pc" | grep 'consumer ok'

say "spill demo, from the installed program"
[ "$(command -v spill)" = /usr/bin/spill ]
spill --version
spill demo >"$t/demo.log" 2>&1 || { cat "$t/demo.log"; exit 1; }
grep 'Verdict' "$t/demo.log"

say "--as-owner: root reaps a root of uid 65534 as that user"
r=$t/owned/root
mkdir -p "$r"
chmod 755 "$t"
chown 65534:65534 "$t/owned" "$r"
setpriv --reuid=65534 --regid=65534 --clear-groups -- spill hold --root "$r" --chunks 2 \
    --ready-file "$t/owned/ready" >/dev/null &
holder=$!
while [ ! -s "$t/owned/ready" ]; do
    kill -0 $holder 2>/dev/null || { echo "spill hold ended early" >&2; exit 1; }
    sleep 0.1 # waits on a file the holder writes, with the holder's liveness checked
done
kill -KILL $holder
wait $holder 2>/dev/null || true
if spill reap --root "$r" >/dev/null 2>&1; then
    echo "root reaped a user's root without --as-owner" >&2
    exit 1
fi
spill reap --as-owner --root "$r" --json | tee "$t/as-owner.json"
grep -q '"reaped":1,' "$t/as-owner.json"
[ -z "$(ls -A "$r")" ]
set +e
setpriv --reuid=65534 --regid=65534 --clear-groups -- spill reap --as-owner --root "$r" 2>/dev/null
rc=$?
set -e
[ $rc -eq 2 ] || { echo "--as-owner as a user exited $rc, not 2" >&2; exit 1; }

say "ls --prometheus passes promtool check metrics"
spill hold --root "$t/prom" --chunks 3 --ready-file "$t/ready-prom" >/dev/null &
holder=$!
while [ ! -s "$t/ready-prom" ]; do
    kill -0 $holder 2>/dev/null || { echo "spill hold ended early" >&2; exit 1; }
    sleep 0.1
done
spill ls --root "$t/prom" --prometheus | tee "$t/metrics.prom" | promtool check metrics
grep -q 'spill_directories{root="'"$t"'/prom",state="live"} 1' "$t/metrics.prom"
spill ls --root "$t/prom" --prometheus --output "$t/out.prom"
promtool check metrics <"$t/out.prom"
kill -TERM $holder
wait $holder

say "man spill, and man -l on the page"
MANWIDTH=80 man -l "/usr/share/man/man1/spill.1.gz" >"$t/man.txt" 2>/dev/null
grep -q -- '--as-owner' "$t/man.txt"
MANWIDTH=80 man -P cat spill >/dev/null 2>&1
head -5 "$t/man.txt"

say "bash completion"
words=$(bash -c 'source /usr/share/bash-completion/completions/spill
    COMP_WORDS=(spill reap --as); COMP_CWORD=2; _spill; echo "${COMPREPLY[*]}"
    COMP_WORDS=(spill l); COMP_CWORD=1; _spill; echo "${COMPREPLY[*]}"')
[ "$words" = $'--as-owner\nls' ] || { echo "completion said: $words" >&2; exit 1; }

say "systemd-analyze verify on the units, system and user"
u=$t/units
mkdir -p "$u/system" "$u/user"
inst=$(systemd-escape --path /var/lib/spill-ci/spill)
for m in system user; do
    dir=/lib/systemd/system
    [ $m = user ] && dir=/usr/lib/systemd/user
    cp "$dir/spill-reap@.service" "$u/$m/spill-reap@$inst.service"
    cp "$dir/spill-reap@.timer" "$u/$m/spill-reap@$inst.timer"
    grep -q "^ExecStart=/usr/bin/spill reap $([ $m = system ] && echo '--as-owner ')--root %f$" \
        "$u/$m/spill-reap@$inst.service"
done
# the metrics drop-in, verified as one unit with the service (a section may come twice)
cat "$u/system/spill-reap@$inst.service" /usr/share/doc/spill/examples/metrics.conf \
    >"$u/system/spill-reap-metrics@$inst.service"
SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=yes \
    "$u/system/spill-reap@$inst.service" "$u/system/spill-reap@$inst.timer" \
    "$u/system/spill-reap-metrics@$inst.service" 2>&1 | tee "$t/verify"
mkdir -m 700 "$t/run" # a user manager's runtime directory, which --user needs
XDG_RUNTIME_DIR=$t/run SYSTEMD_LOG_LEVEL=notice systemd-analyze --user verify --man=yes \
    "$u/user/spill-reap@$inst.service" "$u/user/spill-reap@$inst.timer" 2>&1 | tee -a "$t/verify"
if grep -v '^$' "$t/verify" | grep -q .; then
    echo "systemd-analyze verify had something to say (above)" >&2
    exit 1
fi

say "dpkg --purge leaves nothing"
dpkg --purge spill libspill-dev libspill0 >"$t/purge.log" || { cat "$t/purge.log"; exit 1; }
for f in /usr/bin/spill /usr/include/spill.h "/usr/lib/$multiarch/libspill.so.0" \
    /lib/systemd/system/spill-reap@.service /usr/share/man/man1/spill.1.gz; do
    [ ! -e "$f" ] || { echo "$f is still there after the purge" >&2; exit 1; }
done
rm -rf "$t"
echo "deb-check: all good"
