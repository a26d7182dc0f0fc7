#!/usr/bin/env python3
"""ci/readme-examples.py: runs the README's binding examples as written. Each is the fenced block
after a line `<!-- example: rust|cpp|python -->`; the bindings leg (ci/bindings.sh) calls this
with the built library, the include directory and the Rust target directory."""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile


def blocks(readme: str):
    text = open(readme, encoding="utf-8").read()
    for m in re.finditer(r"<!-- example: (\w+) -->\s*```\w*\n(.*?)```", text, re.S):
        yield m.group(1), m.group(2)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readme", required=True)
    ap.add_argument("--include", required=True)   # spill.h and spill.hpp
    ap.add_argument("--libdir", required=True)    # the shared libspill
    ap.add_argument("--rust-target")  # cargo's target/debug; without it Rust is skipped
    args = ap.parse_args()
    for a in ("readme", "include", "libdir", "rust_target"):  # the examples run elsewhere
        if getattr(args, a):
            setattr(args, a, os.path.abspath(getattr(args, a)))
    env = dict(os.environ, LD_LIBRARY_PATH=args.libdir,
               SPILL_LIBRARY=os.path.join(args.libdir, "libspill.so"))
    seen = set()
    with tempfile.TemporaryDirectory(prefix="spill-readme-") as tmp:
        for i, (lang, code) in enumerate(blocks(args.readme)):
            src = os.path.join(tmp, f"ex{i}")
            if lang == "python":
                open(src + ".py", "w").write(code)
                cmds = [[sys.executable, src + ".py"]]
            elif lang == "cpp":
                open(src + ".cpp", "w").write(code)
                cmds = [[os.environ.get("CXX", "c++"), "-std=c++17", "-Wall", "-Werror",
                         "-I", args.include, src + ".cpp", "-L", args.libdir, "-lspill",
                         "-o", src], [src]]
            elif lang == "rust" and not args.rust_target:
                print("readme-examples: the Rust example SKIPPED: no cargo build to link it to")
                seen.add(lang)
                continue
            elif lang == "rust":
                open(src + ".rs", "w").write(code)
                deps = os.path.join(args.rust_target, "deps")
                # cargo test leaves the crate only as deps/libspill-<hash>.rlib: the newest
                rlib = max(glob.glob(os.path.join(deps, "libspill-*.rlib")), key=os.path.getmtime)
                cmds = [["rustc", "--edition", "2021", "--crate-type", "bin", src + ".rs",
                         "--extern", "spill=" + rlib,
                         "-L", "dependency=" + deps, "-o", src], [src]]
            else:
                print(f"readme-examples: unknown language {lang}", file=sys.stderr)
                return 1
            for cmd in cmds:
                print("readme-examples:", " ".join(cmd), flush=True)
                subprocess.run(cmd, check=True, env=env, cwd=tmp)
            seen.add(lang)
    missing = {"rust", "cpp", "python"} - seen
    if missing:
        print(f"readme-examples: no example for {sorted(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
