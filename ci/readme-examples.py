#!/usr/bin/env python3
"""ci/readme-examples.py: runs the examples of README.md and docs/*.md as written, and checks that
every block of commands in them is run somewhere. The bindings leg (ci/bindings.sh) calls it with
the built shared library, the include directory, the `spill` program and cargo's target directory.

A fenced block may follow one marker line:

  <!-- example: c|cpp|rust|python|sh -->   run here as written. Every example runs in one scratch
                                          copy of the tree, in the order of the pages (README.md,
                                          then docs/ by name), sh with the built `spill` on PATH.
  <!-- run by: PATH... -->                the CI scripts that run these commands; each must exist
                                          and be reached from .ci/run, ci/test.sh or the workflow,
                                          and so must every ci/ script the commands name (or it
                                          must be run by an example).
  <!-- not run: REASON -->                cannot run here (another OS, systemd as PID 1, minutes on
                                          an idle machine): printed as skipped, with the reason.

A block of shell commands (sh, bash, console, bat...) without a marker fails, and so does an
indented block that holds a command: commands go in fenced blocks. --check-only checks the
markers and runs nothing."""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHELL_LANGS = {"sh", "bash", "shell", "console", "bat", "cmd", "powershell", "ps1"}
RUNNABLE = {"c", "cpp", "rust", "python", "sh"}
ENTRY_POINTS = [".ci/run", "ci/test.sh", ".github/workflows/ci.yml"]
MARKER = re.compile(r"^\s*<!--\s*(example|run by|not run):\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
# the first word of a line in an indented block that makes it a command
COMMAND = re.compile(r"^(sudo|bash|sh|cmake|ctest|cc|c\+\+|gcc|cargo|pip|pip3|python3|apt-get|"
                     r"brew|systemctl|git|export|make|timeout|ci/\S+|build/\S+|\./\S+|"
                     r"[A-Z_][A-Z0-9_]*=\S*|spill (reap|ls|hold|demo)\b)")


class Block:
    def __init__(self, page, line, lang, code, marker, arg):
        self.page, self.line, self.lang, self.code = page, line, lang, code
        self.marker, self.arg = marker, arg

    def where(self):
        return f"{os.path.relpath(self.page, TOP)}:{self.line}"


def parse(page):
    """The fenced blocks of a page, with their markers; indented commands are errors."""
    lines = open(page, encoding="utf-8").read().split("\n")
    blocks, errors = [], []
    i = 0
    prev_blank = True
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            indent, fence, lang = len(m.group(1)), m.group(2), m.group(3).lower()
            start = i
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
                i += 1
            j = start - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            mk = MARKER.match(lines[j]) if j >= 0 else None
            blocks.append(Block(page, start + 1, lang, "\n".join(body) + "\n",
                                mk.group(1) if mk else None, mk.group(2) if mk else None))
            i += 1
            prev_blank = False
            continue
        line = lines[i]
        if prev_blank and line.startswith("    ") and line.strip():
            # an indented code block (not a list's continuation: those follow text, not a blank)
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                text = lines[i].strip()
                if COMMAND.match(text):
                    errors.append(f"{os.path.relpath(page, TOP)}:{i + 1}: a command in an indented "
                                  f"block ({text[:40]}): put it in a fenced block with a marker")
                i += 1
            prev_blank = True
            continue
        prev_blank = not line.strip()
        i += 1
    return blocks, errors


def reachable():
    """Every file named (ci/..., .ci/...) from the entry points, and from those, on."""
    seen, todo = set(), [p for p in ENTRY_POINTS if os.path.exists(os.path.join(TOP, p))]
    name = re.compile(r"(?<![\w/.-])((?:\.ci|ci)/[\w.-]+)")
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            text = open(os.path.join(TOP, p), encoding="utf-8", errors="replace").read()
        except (IsADirectoryError, FileNotFoundError):
            continue
        for m in name.finditer(text):
            q = m.group(1).rstrip(".")
            if os.path.isfile(os.path.join(TOP, q)) and q not in seen:
                todo.append(q)
    return seen


def check(blocks):
    errors = []
    ci = reachable()
    run_by_examples = set()
    for b in blocks:
        if b.marker == "example" and b.arg == "sh":
            run_by_examples.update(re.findall(r"(?m)^\s*(?:bash\s+)?(ci/[\w.-]+)", b.code))
    for b in blocks:
        if b.marker is None:
            if b.lang in SHELL_LANGS:
                errors.append(f"{b.where()}: a {b.lang} block without a marker "
                              "(example, run by, or not run)")
        elif b.marker == "example":
            if b.arg not in RUNNABLE:
                errors.append(f"{b.where()}: unknown example language {b.arg!r}")
        elif b.marker == "run by":
            named = b.arg.split()
            if not named:
                errors.append(f"{b.where()}: 'run by' names no script")
            for p in named:
                if p not in ci:
                    errors.append(f"{b.where()}: 'run by: {p}': no such file reached from "
                                  f"{', '.join(ENTRY_POINTS)}")
            for p in re.findall(r"(?<![\w/.-])(ci/[\w.-]+\.(?:sh|py))", b.code):
                if p not in ci and p not in run_by_examples:
                    errors.append(f"{b.where()}: {p} is run neither by CI nor by an example")
        elif b.marker == "not run":
            if not b.arg:
                errors.append(f"{b.where()}: 'not run' without a reason")
    return errors


def scratch_tree(dest):
    """A copy of the tree's files (git's tracked and untracked-but-not-ignored ones)."""
    try:
        out = subprocess.run(["git", "-C", TOP, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], check=True, capture_output=True).stdout
        files = [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = None
    if files is None:
        shutil.copytree(TOP, dest, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", "build", "build-*"))
        return
    for f in files:
        src = os.path.join(TOP, f)
        if not os.path.lexists(src):
            continue  # deleted in the work tree
        os.makedirs(os.path.dirname(os.path.join(dest, f)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, f), follow_symlinks=False)


def commands(b, n, tmp, args):
    src = os.path.join(tmp, f"ex{n}")
    lang = b.arg
    if lang == "sh":
        open(src + ".sh", "w").write(b.code)
        return [["bash", "-euo", "pipefail", src + ".sh"]]
    if lang == "c":
        open(src + ".c", "w").write(b.code)
        return [[os.environ.get("CC", "cc"), "-std=c99", "-Wall", "-Wextra", "-Werror",
                 "-I", args.include, src + ".c", "-L", args.libdir, "-lspill", "-o", src], [src]]
    if lang == "cpp":
        open(src + ".cpp", "w").write(b.code)
        return [[os.environ.get("CXX", "c++"), "-std=c++17", "-Wall", "-Werror",
                 "-I", args.include, src + ".cpp", "-L", args.libdir, "-lspill", "-o", src], [src]]
    if lang == "python":
        open(src + ".py", "w").write(b.code)
        return [[sys.executable, src + ".py"]]
    if lang == "rust":
        open(src + ".rs", "w").write(b.code)
        deps = os.path.join(args.rust_target, "deps")
        # cargo test leaves the crate only as deps/libspill-<hash>.rlib: the newest
        rlib = max(glob.glob(os.path.join(deps, "libspill-*.rlib")), key=os.path.getmtime)
        return [["rustc", "--edition", "2021", "--crate-type", "bin", src + ".rs",
                 "--extern", "spill=" + rlib, "-L", "dependency=" + deps, "-o", src], [src]]
    raise ValueError(lang)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", nargs="*", help="pages (default: README.md and docs/*.md)")
    ap.add_argument("--readme", help=argparse.SUPPRESS)  # the old name of one page
    ap.add_argument("--include")       # spill.h and spill.hpp
    ap.add_argument("--libdir")        # the shared libspill
    ap.add_argument("--bindir")        # the built `spill` program, put on PATH for sh examples
    ap.add_argument("--rust-target")   # cargo's target/debug; without it Rust is skipped
    ap.add_argument("--check-only", action="store_true")
    args = ap.parse_args()
    for a in ("include", "libdir", "bindir", "rust_target"):  # the examples run elsewhere
        if getattr(args, a):
            setattr(args, a, os.path.abspath(getattr(args, a)))
    pages = args.docs or ([args.readme] if args.readme else None) or \
        [os.path.join(TOP, "README.md")] + sorted(glob.glob(os.path.join(TOP, "docs", "*.md")))
    pages = [os.path.abspath(p) for p in pages]

    blocks, errors = [], []
    for page in pages:
        b, e = parse(page)
        blocks += b
        errors += e
    errors += check(blocks)
    for e in errors:
        print("readme-examples:", e, file=sys.stderr)
    if errors:
        return 1
    skipped = [b for b in blocks if b.marker == "not run"]
    examples = [b for b in blocks if b.marker == "example"]
    print(f"readme-examples: {len(pages)} pages, {len(examples)} examples, "
          f"{sum(b.marker == 'run by' for b in blocks)} blocks run by CI scripts, "
          f"{len(skipped)} not run here")
    for b in skipped:
        print(f"readme-examples: {b.where()} SKIPPED: {b.arg}")
    if args.check_only:
        return 0
    if not args.include or not args.libdir:
        ap.error("--include and --libdir are needed to run the examples")

    # the examples run as a user would: none of CI's SPILL_ settings (SPILL_BUILD_DIR...)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPILL_")}
    env.update(LD_LIBRARY_PATH=args.libdir, SPILL_LIBRARY=os.path.join(args.libdir, "libspill.so"))
    if args.bindir:
        env["PATH"] = args.bindir + os.pathsep + env.get("PATH", "")
    seen = set()
    with tempfile.TemporaryDirectory(prefix="spill-readme-") as tmp:
        tree = os.path.join(tmp, "tree")
        scratch_tree(tree)
        for n, b in enumerate(examples):
            if b.arg == "rust" and not args.rust_target:
                print(f"readme-examples: {b.where()} (rust) SKIPPED: no cargo build to link it to")
                seen.add(b.arg)
                continue
            print(f"readme-examples: {b.where()} ({b.arg})", flush=True)
            for cmd in commands(b, n, tmp, args):
                print("readme-examples:", " ".join(cmd), flush=True)
                r = subprocess.run(cmd, env=env, cwd=tree)
                if r.returncode != 0:
                    print(f"readme-examples: {b.where()}: exit status {r.returncode}",
                          file=sys.stderr)
                    return 1
            seen.add(b.arg)
    missing = RUNNABLE - seen
    if missing and not args.docs:
        print(f"readme-examples: no example for {sorted(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
