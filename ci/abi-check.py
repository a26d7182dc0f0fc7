#!/usr/bin/env python3
"""ci/abi-check.py REPORT RELEASE: reads abidiff's report (an earlier release against this tree)
and accepts only what keeps that release's programs working: functions added, and versioned structs grown at their end (every member
inserted at or past the old size; none moved, removed or retyped). Anything else it does not
recognise fails the check, so a new kind of change is looked at by a person."""
import re
import sys

ALLOWED = [
    r"Functions changes summary: 0 Removed, \d+ Changed( \(\d+ filtered out\))?, \d+ Added functions?",
    r"Variables changes summary: 0 Removed, 0 Changed, \d+ Added variables?",
    r"\d+ Added functions?:",
    r"\[A\] 'function .*",
    r"\d+ functions? with some indirect sub-type changes?:",
    r"\[C\] 'function .*' (at \S+ )?has some indirect sub-type changes:",
    r"parameter \d+ of type '.*' has sub-type changes:",
    r"in pointed to type '.*'( at \S+)?:",
    r"in unqualified underlying type '.*'( at \S+)?:",
    r"underlying type 'struct spill_(opts|reap_stats)' at .* changed:",
    # spill_entry is filled by the library and lent to the scan callback: a program reads the
    # members it knows, so members added at its end are invisible to it
    r"underlying type 'struct spill_entry' at .* changed:",
    r"no data member changes? \(\d+ filtered\);",
    r"\d+ data member insertions?:",
]


def main(path, release):
    old_size = None
    bad = []
    for line in open(path, encoding="utf-8"):
        text = line.strip()
        if not text:
            continue
        m = re.fullmatch(r"type size changed from (\d+) to (\d+) \(in bits\)", text)
        if m:
            old_size = int(m.group(1))
            if int(m.group(2)) < old_size:
                bad.append(text)
            continue
        m = re.fullmatch(r"'.*', at offset (\d+) \(in bits\) at .*", text)
        if m:
            if old_size is None or int(m.group(1)) < old_size:
                bad.append(text + "  <- inserted before the old end")
            continue
        if not any(re.fullmatch(p, text) for p in ALLOWED):
            bad.append(text)
    for b in bad:
        print("abi-check: not compatible with %s: %s" % (release, b), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "the baseline"))
