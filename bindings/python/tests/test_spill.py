"""The Python binding as a user sees it: round trip, the directory gone on close and on leaving
`with`, errors with spill_error's fields, reap and scan counts, and a SIGKILLed holder reaped by
the next open."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import queue
import unittest

import spill

HOLDER = r"""
import sys, spill
s = spill.open(sys.argv[1], tag="py-holder")
s.put(bytes([1]) * 32, b"held")
print("READY " + s.path, flush=True)
sys.stdin.read()  # until killed
"""

KEEPER = r"""
import sys, spill
s = spill.open(sys.argv[1], tag="py-job", keep=600)
for n in range(1, 6):
    s.put(bytes([n]) + bytes(30) + bytes([255 - n]), bytes((i * 31 ^ n) % 256 for i in range(1000 * n + 7)))
print("READY " + s.path, flush=True)
sys.stdin.read()  # until killed
"""


def kept_chunk(n: int) -> bytes:
    return bytes((i * 31 ^ n) % 256 for i in range(1000 * n + 7))


def addr(n: int) -> bytes:
    return bytes([n]) + bytes(30) + bytes([255 - n])


class Base(unittest.TestCase):
    def setUp(self) -> None:
        self.base = tempfile.mkdtemp(prefix="spill-py-")
        self.root = os.path.join(self.base, "root")

    def tearDown(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def children(self) -> list:
        """The root's children (the reservations' lock goes with each decision: none)."""
        return sorted(os.listdir(self.root)) if os.path.isdir(self.root) else []


class TestSpill(Base):
    def test_round_trip(self) -> None:
        big = bytes(i * 7 % 256 for i in range(100_000))
        with spill.open(self.root, tag="rt") as s:
            s.put(addr(1), b"hello")
            s.put(addr(2), big)
            s.put(addr(2), b"dedup: ignored")
            s.put(addr(3), b"")
            self.assertEqual(s.get(addr(1)), b"hello")
            self.assertEqual(s.get(addr(2)), big)
            self.assertEqual(s.get(addr(3)), b"")
            self.assertEqual(len(s), 3)
            self.assertEqual(s.total_bytes, 5 + len(big))
            s.remove(addr(1))
            self.assertEqual(list(s.addrs()), [addr(2), addr(3)])
            self.assertTrue(s.path.startswith(self.root))
            with self.assertRaises(spill.SpillError) as cm:
                s.get(addr(1))
            self.assertEqual(cm.exception.code, spill.Code.ENOTFOUND)

    def test_context_manager_closes(self) -> None:
        with spill.open(self.root) as s:
            s.put(addr(1), b"x")
            path = s.path
            self.assertTrue(os.path.isdir(path))
        self.assertFalse(os.path.exists(path))
        self.assertTrue(s.closed)
        self.assertEqual(self.children(), [])
        with self.assertRaises(ValueError):
            s.put(addr(1), b"closed")
        s.close()  # twice is fine

    def test_close_removes_the_directory(self) -> None:
        s = spill.open(self.root)
        path = s.path
        s.close()
        self.assertFalse(os.path.exists(path))
        self.assertTrue(os.path.isdir(self.root))

    def test_a_root_that_is_a_file_is_an_error(self) -> None:
        os.makedirs(self.base, exist_ok=True)
        with open(self.root, "wb") as f:
            f.write(b"not a directory")
        with self.assertRaises(spill.SpillError) as cm:
            spill.open(self.root)
        e = cm.exception
        self.assertIsInstance(e, OSError)
        self.assertIsInstance(e.code, spill.Code)
        self.assertNotEqual(e.code, spill.Code.OK)
        self.assertTrue(e.message)
        self.assertIn("root", e.path)
        with open(self.root, "rb") as f:
            self.assertEqual(f.read(), b"not a directory")

    @unittest.skipUnless(hasattr(os, "geteuid") and os.geteuid() == 0, "needs root to chown")
    def test_a_foreign_root_is_unsafe(self) -> None:
        os.mkdir(self.root, 0o700)
        os.chown(self.root, 12345, 12345)
        with self.assertRaises(spill.SpillError) as cm:
            spill.open(self.root)
        self.assertEqual(cm.exception.code, spill.Code.EUNSAFE)
        with self.assertRaises(spill.SpillError) as cm:
            spill.reap(self.root)
        self.assertEqual(cm.exception.code, spill.Code.EUNSAFE)
        self.assertEqual(self.children(), [])

    def test_a_bad_address_is_refused(self) -> None:
        with spill.open(self.root) as s:
            with self.assertRaises(ValueError):
                s.put(b"short", b"x")

    def test_reap_and_scan_count(self) -> None:
        with spill.open(self.root) as live:
            lockless = os.path.join(self.root, "spill_1_42")
            os.mkdir(lockless)
            with open(os.path.join(lockless, "chunk"), "wb") as f:
                f.write(b"12345")
            entries = {e.name: e for e in spill.scan(self.root)}
            self.assertEqual(len(entries), 2)
            self.assertEqual(entries["spill_1_42"].state, spill.State.YOUNG)
            self.assertEqual(entries[os.path.basename(live.path)].state, spill.State.LIVE)

            st = spill.reap(self.root)
            self.assertEqual((st.scanned, st.live, st.young, st.reaped), (2, 1, 1, 0))
            st = spill.reap(self.root, grace=0, dry_run=True)
            self.assertEqual((st.live, st.young, st.reaped), (1, 0, 1))
            self.assertTrue(os.path.isdir(lockless), "a dry run removes nothing")
            lines = []
            st = spill.reap(self.root, grace=0, threads=2, log=lambda lvl, m: lines.append(m))
            self.assertEqual((st.live, st.reaped, st.bytes_freed), (1, 1, 5))
            self.assertFalse(os.path.exists(lockless))
            self.assertTrue(any("spill_1_42" in m for m in lines), lines)
            self.assertTrue(os.path.isdir(live.path))

    def test_a_reservation_shows_in_scan_and_a_limit_below_it_refuses_the_open(self) -> None:
        mib = 1 << 20
        with spill.open(self.root, expected_bytes=mib) as s:
            e = {e.name: e for e in spill.scan(self.root)}[os.path.basename(s.path)]
            self.assertEqual(e.state, spill.State.LIVE)
            self.assertIsNotNone(e.reserved_bytes, "a live spill's reservation")
            # expected_bytes and the spill's own bookkeeping
            self.assertTrue(mib <= e.reserved_bytes < 2 * mib, e.reserved_bytes)
            self.assertIsNone(e.limit_bytes)

            before = self.children()
            with self.assertRaises(spill.SpillError) as cm:
                spill.open(self.root, expected_bytes=mib, root_limit=mib // 2)
            self.assertEqual(cm.exception.code, spill.Code.ENOSPC, cm.exception)
            self.assertEqual(self.children(), before, "a refused open leaves nothing behind")

            with spill.open(self.root, expected_bytes=mib, root_limit=64 * mib) as limited:
                e = {e.name: e for e in spill.scan(self.root)}[os.path.basename(limited.path)]
                self.assertEqual(e.limit_bytes, 64 * mib)
                self.assertGreaterEqual(e.reserved_bytes, mib)

    def test_default_root(self) -> None:
        self.assertTrue(spill.default_root("spill-py-test").endswith(
            os.path.join("spill-py-test", "spill")))
        self.assertRegex(spill.version(), r"^\d+\.\d+\.\d+$")


def lockless_orphans(root: str, n: int, files: int) -> None:
    os.makedirs(root, mode=0o700, exist_ok=True)
    for i in range(n):
        d = os.path.join(root, f"spill_1_{i + 1}")
        os.mkdir(d)
        for f in range(files):
            with open(os.path.join(d, f"f{f}"), "wb") as out:
                out.write(b"0123456789")


class TestReap02(Base):
    def test_background_open_returns_first_and_the_orphans_go(self) -> None:
        lockless_orphans(self.root, 20, 3)
        go, seen = threading.Event(), queue.Queue()
        first = [True]

        def progress(st: spill.ReapStats) -> bool:
            held = True
            if first[0]:  # the reap waits for the test: open must have returned before it
                first[0] = False
                held = go.wait(20)
            seen.put((st, held))
            return False

        with spill.open(self.root, background=True, grace=0, progress=progress,
                        progress_interval=0) as s:
            self.assertGreater(len(self.children()), 1, "open returned before its reap ended")
            go.set()
            while True:
                st, held = seen.get(timeout=30)  # a deadline, not a sleep
                self.assertTrue(held, "the reap's first callback waited for the test")
                if st.reaped == 20:
                    break
            self.assertFalse(st.cancelled)
            self.assertEqual(self.children(), [os.path.basename(s.path)])

    def test_a_background_reap_keeps_its_callback_after_its_handle_closes(self) -> None:
        lockless_orphans(self.root, 30, 20)
        seen: "queue.Queue[int]" = queue.Queue()
        a = spill.open(self.root, background=True, grace=0, threads=1, progress_interval=0,
                       progress=lambda st: seen.put(st.reaped))
        b = spill.open(self.root, background=True)
        a.close()
        del a
        while seen.get(timeout=30) < 30:
            pass
        b.close()
        self.assertEqual(self.children(), [])

    def test_progress_is_called_and_can_cancel(self) -> None:
        lockless_orphans(self.root, 40, 5)
        calls = []
        stopped = spill.reap(self.root, grace=0, progress_interval=0,
                             progress=lambda st: calls.append(st) or True)
        self.assertTrue(stopped.cancelled, stopped)
        self.assertGreaterEqual(len(calls), 1)
        self.assertLess(stopped.reaped, 40)
        self.assertTrue(self.children(), "the rest is left for the next reap")
        seen = []
        rest = spill.reap(self.root, grace=0, progress_interval=0, progress=seen.append)
        self.assertFalse(rest.cancelled)
        self.assertEqual(stopped.reaped + rest.reaped, 40)
        self.assertEqual(self.children(), [])
        self.assertEqual(seen[-1].reaped, rest.reaped)
        self.assertEqual([s.reaped for s in seen], sorted(s.reaped for s in seen))

    def test_an_exception_in_progress_stops_the_reap(self) -> None:
        lockless_orphans(self.root, 10, 5)

        def boom(st: spill.ReapStats) -> None:
            raise RuntimeError("boom")
        self.assertTrue(spill.reap(self.root, grace=0, progress_interval=0, progress=boom).cancelled)


class TestKill(Base):
    def start(self, script: str) -> "tuple[subprocess.Popen, str]":
        env = dict(os.environ)
        pkg = os.path.dirname(os.path.dirname(os.path.abspath(spill.__file__)))
        env["PYTHONPATH"] = pkg + os.pathsep + env.get("PYTHONPATH", "")
        child = subprocess.Popen([sys.executable, "-c", script, self.root], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(self.kill, child)
        line = child.stdout.readline()  # readiness, no sleep
        self.assertTrue(line.startswith("READY "), line)
        return child, line[len("READY "):].strip()

    @staticmethod
    def kill(child: subprocess.Popen) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGKILL) if hasattr(signal, "SIGKILL") else child.kill()
        child.wait()
        child.stdin.close()
        child.stdout.close()

    def test_a_killed_resumable_job_is_adopted_byte_for_byte(self) -> None:
        child, held = self.start(KEEPER)
        self.kill(child)
        [e] = spill.scan(self.root)
        self.assertEqual((e.state, e.tag), (spill.State.RESUMABLE, "py-job"))
        st = spill.reap(self.root)
        self.assertEqual((st.resumable, st.reaped), (1, 0))
        with self.assertRaises(spill.SpillError) as cm:
            spill.adopt(self.root, "other-job")
        self.assertEqual(cm.exception.code, spill.Code.ENOTFOUND)
        with spill.adopt(self.root, "py-job") as s:
            self.assertEqual(s.path, held)
            self.assertEqual(list(s.addrs()), [addr(n) for n in range(1, 6)])
            for n in range(1, 6):
                self.assertEqual(s.get(addr(n)), kept_chunk(n), n)
            s.put(addr(9), b"more")
            self.assertEqual(len(s), 6)
        self.assertFalse(os.path.exists(held))

    def orphan_with_zeroed(self, bad: int) -> "tuple[str, str]":
        """A killed keeper's orphan whose chunk `bad` was zero-filled since, at the same length
        (what a power loss can leave): its directory and that chunk's file."""
        child, held = self.start(KEEPER)
        self.kill(child)
        bad_file = os.path.join(held, addr(bad).hex())
        with open(bad_file, "rb") as f:
            self.assertEqual(f.read(), kept_chunk(bad))
        with open(bad_file, "wb") as f:
            f.write(bytes(len(kept_chunk(bad))))
        return held, bad_file

    @staticmethod
    def snapshot(top: str) -> dict:
        """Every file under top, by its path relative to top, with its bytes."""
        out = {}
        for d, _, files in os.walk(top):
            for name in files:
                with open(os.path.join(d, name), "rb") as f:
                    out[os.path.relpath(os.path.join(d, name), top)] = f.read()
        return out

    @staticmethod
    def is_kept_chunk(a: bytes, data: bytes) -> bool:
        return a == addr(a[0]) and data == kept_chunk(a[0])

    def test_verify_rejects_a_zero_filled_chunk_and_the_rest_is_adopted(self) -> None:
        held, bad_file = self.orphan_with_zeroed(3)
        seen = []

        def verify(a: bytes, data: bytes) -> bool:
            seen.append(a)
            return self.is_kept_chunk(a, data)
        with spill.adopt(self.root, "py-job", verify=verify) as s:
            self.assertEqual(seen, [addr(n) for n in range(1, 6)], "each chunk, in order")
            self.assertEqual(s.path, held)
            kept = [1, 2, 4, 5]
            self.assertEqual(list(s.addrs()), [addr(n) for n in kept])
            for n in kept:
                self.assertEqual(s.get(addr(n)), kept_chunk(n), n)
            with self.assertRaises(spill.SpillError) as cm:
                s.get(addr(3))
            self.assertEqual(cm.exception.code, spill.Code.ENOTFOUND)
            self.assertFalse(os.path.exists(bad_file), "the rejected chunk is removed")
            self.assertEqual(s.total_bytes, sum(len(kept_chunk(n)) for n in kept))

        # without verify, as 0.2: every journaled chunk of its length, the zero-filled one too
        self.orphan_with_zeroed(3)
        with spill.adopt(self.root, "py-job") as s:
            self.assertEqual(len(s), 5)
            self.assertEqual(s.get(addr(3)), bytes(len(kept_chunk(3))))
            self.assertEqual(s.get(addr(4)), kept_chunk(4))

    def test_an_exception_in_verify_fails_the_adopt_and_removes_nothing(self) -> None:
        held, _ = self.orphan_with_zeroed(3)
        before = self.snapshot(held)
        self.assertGreater(len(before), 5, "the chunks, the lock and the owner's files")
        calls = []

        class Broken(Exception):
            pass

        def verify(a: bytes, data: bytes) -> bool:
            calls.append(a)
            if a == addr(2):  # the first chunk accepted, the second raises
                raise Broken("verify broke on chunk 2")
            return self.is_kept_chunk(a, data)
        with self.assertRaises(Broken) as cm:
            spill.adopt(self.root, "py-job", verify=verify)
        self.assertEqual(str(cm.exception), "verify broke on chunk 2")
        self.assertEqual(calls, [addr(1), addr(2)], "stopped at the exception")
        self.assertEqual(self.snapshot(held), before, "every file of the orphan as it was")
        [e] = spill.scan(self.root)
        self.assertEqual(e.state, spill.State.RESUMABLE, "still there to adopt")
        with spill.adopt(self.root, "py-job") as s:
            self.assertEqual(s.path, held)
            self.assertEqual(list(s.addrs()), [addr(n) for n in range(1, 6)])
            for n in (1, 2, 4, 5):
                self.assertEqual(s.get(addr(n)), kept_chunk(n), n)

    def test_adopting_a_live_job_is_busy(self) -> None:
        self.start(HOLDER)
        with self.assertRaises(spill.SpillError) as cm:
            spill.adopt(self.root, "py-holder")
        self.assertEqual(cm.exception.code, spill.Code.EBUSY)

    def test_reap_resumable(self) -> None:
        child, held = self.start(KEEPER)
        self.kill(child)
        st = spill.reap(self.root, resumable=True)
        self.assertEqual((st.resumable, st.reaped), (0, 1))
        self.assertFalse(os.path.exists(held))

    def test_a_killed_holder_is_reaped_at_the_next_open(self) -> None:
        env = dict(os.environ)
        pkg = os.path.dirname(os.path.dirname(os.path.abspath(spill.__file__)))
        env["PYTHONPATH"] = pkg + os.pathsep + env.get("PYTHONPATH", "")
        child = subprocess.Popen([sys.executable, "-c", HOLDER, self.root], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            line = child.stdout.readline()  # readiness, no sleep
            self.assertTrue(line.startswith("READY "), line)
            held = line[len("READY "):].strip()
            self.assertEqual(spill.reap(self.root).live, 1)
        finally:
            child.send_signal(signal.SIGKILL) if hasattr(signal, "SIGKILL") else child.kill()
            child.wait()
            child.stdin.close()
            child.stdout.close()
        self.assertTrue(os.path.isdir(held), "nothing removed it yet")
        [orphan] = spill.scan(self.root)
        self.assertEqual((orphan.state, orphan.tag, orphan.owner_pid),
                         (spill.State.ORPHAN, "py-holder", child.pid))
        with spill.open(self.root) as s:  # the default grace: a recorded orphan goes at once
            self.assertFalse(os.path.exists(held))
            self.assertEqual(self.children(), [os.path.basename(s.path)])


if __name__ == "__main__":
    unittest.main()
