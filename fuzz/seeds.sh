#!/usr/bin/env bash
# fuzz/seeds.sh: writes the checked-in seed corpus (fuzz/corpus/seed-*), one scenario each.
# The input format is tree.c's, read a byte at a time (values are taken modulo each choice):
#   head: grace (%4: 0, 30, 3600, UINT32_MAX), threads (1 + (>>2)%4)
#   then entries, each a kind (%10: 0-3 spill dir, 4 spill_open'ed, 5 symlink, 6 file, 7 FIFO,
#   8 hard link to the victim, 9 unrelated dir) and its bytes:
#   spill dir: name form (%16: 0-5 spill_, 6-7 staging, 8-12 and 14-15 not looked at, 13 long),
#              secs (%8: now, +1e5, -1e5, 0, 2001, 1e11, 2^63, 2^64-1), .lock shape (%19, see
#              enum lock_shape), its byte, children, mode (%10; /10%8 == 7: another user's),
#              mtime (%3: 2001, now, +1e5), hold (&1)
#   children: count (%6), then each a kind (%14: 0 file, 1 chunk, 2 read-only, 3-4 symlink,
#              5 FIFO, 6 hard link, 7-8 subdir, 9 chain, 10 nested .lock, 11 another user's
#              file, 12-13 another user's dir) and its bytes
set -euo pipefail
cd "$(dirname "$0")/corpus"

seed() {
    local name=$1; shift
    local out="" b
    for b in "$@"; do out+=$(printf '\\%03o' "$b"); done
    printf "$out" >"seed-$name"
}

# an orphan with a record and chunks, reaped at once whatever the grace
seed orphan-record    1   0 0 4 1 5   2 0 10 1 3 4   0 0 0
# the same, its lock held by the fuzzer process: live
seed held-flock       3   0 0 4 1 5   2 0 10 1 3 4   0 0 1
# a spill opened in-process, with links to the victim, a FIFO and a hard link inside
seed opened-hostile   0   4 3 20 1 40 2 7 9   5 3 0 4 1 5 6 0 25
# not directories under spill names: symlinks to the victim, a file, a FIFO, a hard link
seed top-not-dirs     0   5 0 3 0   5 1 3 1   5 2 3 7   6 3 3   7 4 3   8 0 0
# .lock as a symlink, FIFO, directory, hard links: unsafe
seed lock-shapes      0   0 0 4 13 0 0 0 0 0   1 0 4 14 0 0 0 0 0   2 0 4 15 0 0 0 0 0 \
                          3 0 4 16 0 0 0 0 0   0 0 4 17 0 0 0 0 0   1 0 4 18 0 1 0 0 0 0
# foreign and lockless directories, new and old, under a grace of an hour
seed foreign-young    2   0 0 0 5 0 1 0 10 0 1 0   1 0 4 0 0 0 0 0   2 0 4 9 0 0 0 0 0 \
                          3 0 0 8 1 0 0 1 0
# staging directories: a record is an orphan at once, none needs 60 seconds
seed staging          0   0 6 0 1 3 0 0 1 0   1 7 0 0 0 0 1 0   2 6 4 5 0 0 0 0 0
# chains of 64, 65 and 72 levels inside orphans
seed deep             0   0 0 4 1 0 1 9 62 1 0 0 0   1 0 4 1 0 1 9 63 1 0 0 0 \
                          2 0 4 0 0 1 9 71 0 0 0 0
# subdirectories of every mode, and top directories the user cannot enter or write
seed modes            0   0 0 4 1 0 3 7 3 1 0 5 8 4 0 8 5 0 0 0 0 \
                          1 0 4 1 0 1 0 9 5 0 0   2 0 4 0 0 0 8 0 0   3 0 4 1 0 0 6 0 0
# names the reaper never looks at, each holding a record
seed names            0   0 8 4 1 0 0 0 0 0   0 9 4 1 0 0 0 0 0   0 10 4 1 0 0 0 0 0 \
                          0 11 4 1 0 0 0 0 0  0 12 4 1 0 0 0 0 0  0 13 4 1 0 0 0 0 0 \
                          0 14 4 1 0 0 0 0 0  0 15 4 1 0 0 0 0 0  9 1 1 0 10
# name timestamps in the future and past the end of int64, under the largest grace
seed future           3   0 0 1 0 0 0 0 0   1 0 6 5 0 0 0 0 0   2 0 7 0 0 0 0 0 \
                          3 0 5 0 0 0 2 0   0 0 2 0 0 0 0 0
# another user's directory, and another user's files and directories inside an orphan
seed other-users      0   0 0 4 1 0 0 70 0 0   1 0 4 1 0 3 11 12 13 0 0 0
# many orphans and live spills at once, for a reaper with four workers
seed many             12  0 0 4 1 1 1 0 9 0 0 0   1 1 4 2 2 1 0 9 0 0 0   2 2 4 3 3 0 0 0 0 \
                          3 3 4 4 4 0 0 0 0   4 2 1 5 2 2 0   0 4 4 7 7 0 0 0 0 \
                          1 5 4 8 8 0 0 0 1   2 6 4 1 9 0 0 0 0
