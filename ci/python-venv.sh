#!/usr/bin/env bash
# ci/python-venv.sh DIR: the Python package as a new user takes it. In a fresh venv under DIR,
# `pip install --no-index bindings/python` (the package's backend builds libspill into it); then,
# from another directory with no SPILL_LIBRARY, PYTHONPATH or LD_LIBRARY_PATH, `import spill`
# must load the library beside the installed package, and the first Python example of
# docs/bindings.md must run as written and print what it should. Debian's python3 needs
# python3-venv for `python3 -m venv`: installed with apt-get if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=${1:?usage: ci/python-venv.sh DIR}
venv=$dir/venv run=$dir/run
rm -rf "$dir"
mkdir -p "$run"

if ! python3 -m venv "$venv" >"$dir/venv.log" 2>&1; then
    command -v apt-get >/dev/null || { cat "$dir/venv.log"; exit 1; }
    echo "installing: python3-venv"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends \
        python3-venv >/dev/null
    rm -rf "$venv"
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --no-index bindings/python

# the example, as the docs show it (the first python block of the Python section)
python3 - "$root/docs/bindings.md" >"$run/example.py" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
section = text[text.index("\n## Python\n"):]
print(re.search(r"<!-- example: python -->\s*```python\n(.*?)```", section, re.S).group(1), end="")
EOF

cd "$run"
user_env=(env -u SPILL_LIBRARY -u PYTHONPATH -u LD_LIBRARY_PATH)
"${user_env[@]}" "$venv/bin/python" -c '
import os, spill, spill._lib
here = os.path.dirname(spill.__file__)
loaded = spill._lib.lib._name
assert os.path.dirname(loaded) == here, f"{loaded} is not the library installed in {here}"
print("python-venv: spill", spill.version(), "loads", loaded)'
"${user_env[@]}" "$venv/bin/python" example.py >example.out
# one chunk in a spill under example-root; an empty dry-run reap; mkdir under a file refused
fail() { echo "python-venv: $1; the example printed:" >&2; cat example.out >&2; exit 1; }
[ "$(wc -l <example.out)" = 3 ] || fail "not 3 lines"
grep -qx "1 chunk(s), 5 bytes in $run/example-root/spill_[0-9_]*" example.out ||
    fail "no line '1 chunk(s), 5 bytes in $run/example-root/spill_...'"
grep -q "^ReapStats(scanned=0, reaped=0, " example.out || fail "no empty ReapStats"
grep -q "^[A-Z]* 20 mkdir /proc/version/x " example.out || fail "no ENOTDIR (20) from mkdir"
[ -z "$(ls -A example-root)" ] || fail "example-root still holds $(ls -A example-root)"
echo "python-venv: the docs' example ran as written: $(head -n 1 example.out)"
