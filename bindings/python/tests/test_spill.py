"""The Python binding as a user sees it: round trip, the directory gone on close and on leaving
`with`, errors with spill_error's fields, reap and scan counts, and a SIGKILLed holder reaped by
the next open."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

import spill

HOLDER = r"""
import sys, spill
s = spill.open(sys.argv[1], tag="py-holder")
s.put(bytes([1]) * 32, b"held")
print("READY " + s.path, flush=True)
sys.stdin.read()  # until killed
"""


def addr(n: int) -> bytes:
    return bytes([n]) + bytes(30) + bytes([255 - n])


class Base(unittest.TestCase):
    def setUp(self) -> None:
        self.base = tempfile.mkdtemp(prefix="spill-py-")
        self.root = os.path.join(self.base, "root")

    def tearDown(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def children(self) -> list:
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

    def test_default_root(self) -> None:
        self.assertTrue(spill.default_root("spill-py-test").endswith(
            os.path.join("spill-py-test", "spill")))
        self.assertRegex(spill.version(), r"^\d+\.\d+\.\d+$")


class TestKill(Base):
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
