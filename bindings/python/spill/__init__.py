"""spill: a private spill directory that cleans up after its owner, even after a hard death.

ctypes over spill's C library::

    import spill
    with spill.open("/tmp/my-root", tag="upload") as s:
        s.put(bytes(32), b"chunk")
        assert s.get(bytes(32)) == b"chunk"
    # the spill directory is gone; a killed owner's is reaped by the next open or reap
"""
from __future__ import annotations

import ctypes
import datetime
import enum
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from . import _lib
from ._lib import lib

__all__ = ["ADDR_LEN", "Code", "Entry", "ReapStats", "Spill", "SpillError", "State",
           "adopt", "default_root", "open", "reap", "scan", "version"]

ADDR_LEN = _lib.ADDR_LEN
Seconds = Union[int, float, datetime.timedelta]
PathLike = Union[str, bytes, "os.PathLike[str]"]
LogFn = Callable[[int, str], None]
# called with the counts so far; a true return stops the reap ("cancelled")
ProgressFn = Callable[["ReapStats"], Any]
# adopt's verify: called with a chunk's address and bytes; true: it is what its address says
VerifyFn = Callable[[bytes, bytes], Any]


class Code(enum.IntEnum):
    """spill_err: what went wrong."""
    OK = 0
    EINVAL = -1
    ENOMEM = -2
    EIO = -3
    ENOSPC = -4
    ENOTFOUND = -5
    EBUSY = -6
    EUNSAFE = -7
    ENOLCK = -8
    EACCES = -9
    ELOST = -10
    EFORKED = -11
    ERANGE = -12
    ETIMEDOUT = -13


class State(enum.IntEnum):
    """How a scan judged a spill directory."""
    LIVE = 0
    ORPHAN = 1
    YOUNG = 2
    UNSAFE = 3
    ERROR = 4
    RESUMABLE = 5  # an orphan kept for adopt (its owner opened it with keep=...)


def _text(b: Optional[bytes]) -> str:
    return b.decode("utf-8", "replace") if b else ""


class SpillError(OSError):
    """A failed call: spill_error's fields. `code` is the spill_err (a Code where known),
    `errno` the OS error (None if none), `op` the operation, `filename` and `path` the path
    involved, `message` a line a person can act on."""

    def __init__(self, code: int, os_error: int, op: str, path: str, message: str):
        super().__init__(os_error or None, message, path or None)
        try:
            self.code: Union[Code, int] = Code(code)
        except ValueError:
            self.code = code
        self.op = op
        self.path = path
        self.message = message

    def __str__(self) -> str:  # the library's message names the operation and the OS error
        return self.message

    @classmethod
    def _last(cls, rc: int) -> "SpillError":
        e = lib.spill_error_last().contents
        if e.code != rc:  # failed without details: the code's description
            return cls(rc, 0, "", "", _text(lib.spill_strerror(rc)))
        return cls(rc, e.os_error, _text(e.op), _text(e.path), _text(e.message))


def _check(rc: int) -> None:
    if rc != 0:
        raise SpillError._last(rc)


def _path(p: PathLike) -> bytes:
    return os.fsencode(p)


def _seconds(s: Seconds) -> float:
    return s.total_seconds() if isinstance(s, datetime.timedelta) else float(s)


class _Opts:
    """A spill_opts for one call, with the library's defaults for what is not given."""

    def __init__(self, *, grace: Optional[Seconds] = None, reap_on_open: Optional[bool] = None,
                 reap_budget: Optional[Seconds] = None, expected_bytes: Optional[int] = None,
                 threads: Optional[int] = None, tag: Optional[str] = None,
                 log: Optional[LogFn] = None, dry_run: Optional[bool] = None,
                 background: bool = False, progress: Optional[ProgressFn] = None,
                 progress_interval: Optional[Seconds] = None, keep: Optional[Seconds] = None,
                 reap_resumable: Optional[bool] = None, verify: Optional[VerifyFn] = None,
                 root_limit: Optional[int] = None):
        self.raw = _lib.Opts()
        _check(lib.spill_opts_init_version(ctypes.byref(self.raw), _lib.OPTS_VERSION))
        r = self.raw
        if grace is not None:
            r.grace_seconds = int(_seconds(grace))
        if reap_on_open is not None:
            r.reap_on_open = _lib.REAP_SYNC if reap_on_open else _lib.REAP_NONE
        self.background = background
        if background:
            r.reap_on_open = _lib.REAP_BACKGROUND
        if progress_interval is not None:
            r.progress_ms = max(0, int(_seconds(progress_interval) * 1000))
        if keep is not None:
            r.keep_seconds = int(_seconds(keep))
        if reap_resumable is not None:
            r.reap_resumable = int(bool(reap_resumable))
        if reap_budget is not None:
            r.reap_budget_ms = max(1, int(_seconds(reap_budget) * 1000))
        if expected_bytes is not None:
            r.expected_bytes = expected_bytes
        if root_limit is not None:
            r.root_limit_bytes = root_limit
        if threads is not None:
            r.threads = threads
        if tag is not None:
            self._tag = tag.encode("utf-8")
            r.tag = self._tag
        if dry_run is not None:
            r.dry_run = int(bool(dry_run))
        if log is not None:
            def line(_ctx: object, level: int, msg: bytes) -> None:
                try:
                    log(level, _text(msg))
                except Exception:  # an exception must not cross into C
                    pass
            self._log = _lib.LOG_FN(line)  # kept alive for the call (or the handles)
            r.log = self._log
        if progress is not None:
            def call(_ctx: object, so_far: "ctypes._Pointer[_lib.ReapStats]") -> int:
                try:
                    return 1 if progress(_stats(so_far.contents)) else 0
                except BaseException:  # an exception must not cross into C: it stops the reap
                    return 1
            self._progress = _lib.PROGRESS_FN(call)
            r.progress = self._progress
        # what verify raised, re-raised by adopt once spill_adopt has returned
        self.verify_error: Optional[BaseException] = None
        if verify is not None:
            def check(_ctx: object, addr: "ctypes._Pointer[ctypes.c_uint8]", data: Optional[int],
                      n: int) -> int:
                try:
                    chunk = ctypes.string_at(data, n) if n else b""
                    return 0 if verify(ctypes.string_at(addr, ADDR_LEN), chunk) else 1
                except BaseException as e:  # an exception must not cross into C, nor accept:
                    self.verify_error = e    # the adopt stops and removes nothing
                    return _lib.VERIFY_STOP
            self._verify = _lib.VERIFY_FN(check)  # kept alive for the call
            r.verify = self._verify

    def ref(self) -> "ctypes._CArgObject":
        return ctypes.byref(self.raw)


class Spill:
    """One live spill directory owned by this process: chunks stored under 32-byte addresses.
    close() (or leaving its `with` block) removes the directory."""

    def __init__(self, root: PathLike, **opts: object):
        o = _Opts(**opts)  # type: ignore[arg-type]
        handle = ctypes.c_void_p()
        _check(lib.spill_open(_path(root), o.ref(), ctypes.byref(handle)))
        self._adopt_handle(handle.value, o)

    @classmethod
    def _adopted(cls, handle: int, o: "_Opts") -> "Spill":
        s = cls.__new__(cls)
        s._adopt_handle(handle, o)
        return s

    def _adopt_handle(self, handle: Optional[int], o: "_Opts") -> None:
        self._h: Optional[int] = handle
        self._opts = o  # what its pointers point to lives as long as the handle
        self._path = os.fsdecode(lib.spill_path(self._h))
        # a background reap calls its closures from its own thread until the last handle on
        # its root is closed, not only this one's: _Background keeps them until then
        self._bg = _Background.attach(self._path, o) if o.background else None

    def _handle(self) -> int:
        if self._h is None:
            raise ValueError("spill: this spill is closed")
        return self._h

    @staticmethod
    def _addr(addr: bytes) -> bytes:
        addr = bytes(addr)
        if len(addr) != ADDR_LEN:
            raise ValueError(f"spill: an address is {ADDR_LEN} bytes, not {len(addr)}")
        return addr

    def put(self, addr: bytes, data: bytes) -> None:
        """Stores data under addr; an address already stored writes nothing."""
        data = bytes(data)
        _check(lib.spill_put(self._handle(), self._addr(addr), data, len(data)))

    def get(self, addr: bytes) -> bytes:
        """The chunk under addr (SpillError with Code.ENOTFOUND if none)."""
        buf, n = ctypes.c_void_p(), ctypes.c_size_t()
        _check(lib.spill_get(self._handle(), self._addr(addr), ctypes.byref(buf), ctypes.byref(n)))
        try:
            return ctypes.string_at(buf, n.value) if n.value else b""
        finally:
            lib.spill_free(buf)

    def remove(self, addr: bytes) -> None:
        """Frees the chunk under addr; the order of the others is kept."""
        _check(lib.spill_remove(self._handle(), self._addr(addr)))

    def __len__(self) -> int:
        return lib.spill_count(self._handle())

    @property
    def total_bytes(self) -> int:
        return lib.spill_total_bytes(self._handle())

    @property
    def path(self) -> str:
        """The spill directory: the root (made absolute) joined with the spill's name."""
        return self._path

    def addrs(self) -> Iterator[bytes]:
        """The stored addresses, in insertion order."""
        h = self._handle()
        for i in range(lib.spill_count(h)):
            out = (ctypes.c_char * ADDR_LEN)()
            _check(lib.spill_addr(h, i, out))
            yield out.raw

    @property
    def closed(self) -> bool:
        return self._h is None

    def close(self) -> None:
        """Removes the directory and everything in it and releases the lock; closing twice is
        fine."""
        if self._h is not None:
            h, self._h = self._h, None
            rc = lib.spill_close(h)
            if rc == Code.EINVAL and self._bg is not None:
                # refused from its own background reap's callback: the handle stays open
                self._h = h
            else:
                _Background.detach(self._bg)
                self._bg = None
            _check(rc)

    def __enter__(self) -> "Spill":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_h", None) is not None:
            h, self._h = self._h, None
            if lib.spill_close(h) != Code.EINVAL or self._bg is None:
                _Background.detach(self._bg)
            # else: refused from its own reap's callback; its closures stay kept (a leak)

    def __repr__(self) -> str:
        return f"<spill.Spill {self._path!r}{' closed' if self.closed else ''}>"


class _Background:
    """The options (and so the ctypes callbacks) of background opens, per root, kept until the
    last background handle on that root has closed: the C library runs one reap per root per
    process with the callbacks of the open that started it, and the last close joins it."""
    _lock = threading.Lock()
    _kept: Dict[Tuple[int, int], Tuple[int, List["_Opts"]]] = {}

    @classmethod
    def attach(cls, spill_dir: str, o: "_Opts") -> Optional[Tuple[int, int]]:
        try:
            st = os.stat(os.path.dirname(spill_dir))
        except OSError:  # cannot name the root: kept for the process's life
            with cls._lock:
                n, kept = cls._kept.get((-1, -1), (0, []))
                cls._kept[(-1, -1)] = (n, kept + [o])
            return None
        key = (st.st_dev, st.st_ino)
        with cls._lock:
            n, kept = cls._kept.get(key, (0, []))
            cls._kept[key] = (n + 1, kept + [o])
        return key

    @classmethod
    def detach(cls, key: Optional[Tuple[int, int]]) -> None:
        if key is None:
            return
        with cls._lock:
            n, kept = cls._kept[key]
            if n <= 1:
                del cls._kept[key]
            else:
                cls._kept[key] = (n - 1, kept)


def open(root: PathLike, *, tag: Optional[str] = None, grace: Optional[Seconds] = None,
         reap_on_open: Optional[bool] = None, reap_budget: Optional[Seconds] = None,
         expected_bytes: Optional[int] = None, threads: Optional[int] = None,
         log: Optional[LogFn] = None, background: bool = False,
         progress: Optional[ProgressFn] = None, progress_interval: Optional[Seconds] = None,
         keep: Optional[Seconds] = None, root_limit: Optional[int] = None) -> Spill:
    """Creates a private spill directory under root (made 0700 with its parents if missing),
    reaping the orphans of dead owners first unless reap_on_open is False.

    background=True: open returns without waiting for the reap, which runs on a thread of its
    own (one per root per process, shared by the handles on that root; the last close stops it
    at its next check). log and progress are then called from that thread, after open has
    returned. progress(stats) is called at most every progress_interval (default 0.2 s) and
    once at the end; a true return stops the reap (stats.cancelled). keep=seconds: should this
    process die, its spill stays resumable for adopt() that long after its last change.

    Every spill holds a reservation, shared with this user's other processes on the root:
    expected_bytes is its first one (open needs that much plus 10% free), and a put past it
    takes a larger one. root_limit=bytes: the most this user's live spills under root may hold
    together; an open or a put that would go past it raises SpillError with Code.ENOSPC, before
    any byte is written. scan() shows each live spill's reservation and limit."""
    return Spill(root, tag=tag, grace=grace, reap_on_open=reap_on_open, reap_budget=reap_budget,
                 expected_bytes=expected_bytes, threads=threads, log=log,
                 background=background, progress=progress,
                 progress_interval=progress_interval, keep=keep, root_limit=root_limit)


def adopt(root: PathLike, tag: str, *, keep: Optional[Seconds] = None,
          threads: Optional[int] = None, log: Optional[LogFn] = None,
          verify: Optional[VerifyFn] = None) -> Spill:
    """Resumes a killed job instead of redoing it: takes over the newest orphan under root
    whose owner carried this tag and can prove its chunks complete (opened with keep=..., or
    journaled), and returns it as a live Spill of this process holding those chunks in the
    order they were written. SpillError with Code.EBUSY when only live spills carry the tag (the
    job runs elsewhere), Code.ENOTFOUND when none does.

    verify(addr, data), on this thread, for each chunk the journal keeps, with its bytes read
    back, before anything in the orphan changes: true when the chunk is what its address says
    (adopted), false when it is not (removed, not adopted). An exception in it fails the adopt
    with nothing removed (the orphan stays, adoptable again) and is re-raised here."""
    o = _Opts(keep=keep, threads=threads, log=log, verify=verify)
    handle = ctypes.c_void_p()
    rc = lib.spill_adopt(_path(root), tag.encode("utf-8"), o.ref(), ctypes.byref(handle))
    err, o.verify_error = o.verify_error, None
    if err is not None:  # spill_adopt stopped at it (SPILL_VERIFY_STOP) and returned no handle
        raise err
    _check(rc)
    return Spill._adopted(handle.value, o)


@dataclass
class ReapStats:
    """What a reap did (in a dry run: what a real one would have)."""
    scanned: int
    reaped: int
    live: int
    young: int
    unsafe: int
    errors: int
    bytes_freed: int
    files_removed: int
    elapsed_ms: int
    budget_exhausted: bool
    resumable: int  # resumable orphans kept for adopt
    cut_short: int  # orphans started and not finished (the budget, a cancel)
    cancelled: bool  # the progress callback stopped it


def _stats(st: _lib.ReapStats) -> ReapStats:
    return ReapStats(st.scanned, st.reaped, st.live, st.young, st.unsafe, st.errors,
                     st.bytes_freed, st.files_removed, st.elapsed_ms, bool(st.budget_exhausted),
                     st.resumable, st.cut_short, bool(st.cancelled))


def reap(root: PathLike, *, grace: Optional[Seconds] = None, threads: Optional[int] = None,
         dry_run: bool = False, budget: Optional[Seconds] = None,
         log: Optional[LogFn] = None, progress: Optional[ProgressFn] = None,
         progress_interval: Optional[Seconds] = None, resumable: bool = False) -> ReapStats:
    """Removes the orphans of dead owners under root: never a live spill, never through a link,
    never outside root. A missing root is not an error. progress(stats), on this thread, at
    most every progress_interval and once at the end: a true return stops it (cancelled).
    resumable=True removes resumable orphans (kept for adopt) at once too."""
    o = _Opts(grace=grace, threads=threads, dry_run=dry_run, reap_budget=budget, log=log,
              progress=progress, progress_interval=progress_interval, reap_resumable=resumable)
    st = _lib.ReapStats(version=_lib.REAP_STATS_VERSION)
    _check(lib.spill_reap(_path(root), o.ref(), ctypes.byref(st)))
    return _stats(st)


@dataclass
class Entry:
    """One spill-named child of the root, as scan judged it."""
    name: str
    state: Union[State, int]
    age_seconds: int
    bytes: int
    files: int
    owner_pid: Optional[int]
    owner_host: str
    tag: str
    reason: str
    # a live spill's reservation (its data and bookkeeping); None when none is known (an older
    # library's spill, or not a live one)
    reserved_bytes: Optional[int] = None
    limit_bytes: Optional[int] = None  # the root limit its owner enforces; None: none


def scan(root: PathLike, *, grace: Optional[Seconds] = None) -> List[Entry]:
    """Judges each spill-named child of root as reap would, removing nothing."""
    o = _Opts(grace=grace)
    out: List[Entry] = []

    def each(_ctx: object, p: "ctypes._Pointer[_lib.Entry]") -> int:
        e = p.contents
        try:
            state: Union[State, int] = State(e.state)
        except ValueError:
            state = e.state
        out.append(Entry(_text(e.name), state, e.age_seconds, e.bytes, e.files,
                         e.owner_pid if e.owner_pid >= 0 else None, _text(e.owner_host),
                         _text(e.tag), _text(e.reason), e.reserved_bytes or None,
                         e.limit_bytes or None))
        return 0

    _check(lib.spill_scan(_path(root), o.ref(), _lib.SCAN_FN(each), None))
    return out


def default_root(app: str) -> str:
    """The default root for an application: its per-OS data directory joined with "spill"."""
    size = 4096
    while True:
        buf = ctypes.create_string_buffer(size)
        rc = lib.spill_default_root(app.encode("utf-8"), buf, size)
        if rc == Code.ERANGE and size < 1 << 20:
            size *= 4
            continue
        _check(rc)
        return os.fsdecode(buf.value)


def version() -> str:
    """The C library's version, "MAJOR.MINOR.PATCH"."""
    return _text(lib.spill_version())
