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
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Union

from . import _lib
from ._lib import lib

__all__ = ["ADDR_LEN", "Code", "Entry", "ReapStats", "Spill", "SpillError", "State",
           "default_root", "open", "reap", "scan", "version"]

ADDR_LEN = _lib.ADDR_LEN
Seconds = Union[int, float, datetime.timedelta]
PathLike = Union[str, bytes, "os.PathLike[str]"]
LogFn = Callable[[int, str], None]


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


class State(enum.IntEnum):
    """How a scan judged a spill directory."""
    LIVE = 0
    ORPHAN = 1
    YOUNG = 2
    UNSAFE = 3
    ERROR = 4


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
                 log: Optional[LogFn] = None, dry_run: Optional[bool] = None):
        self.raw = _lib.Opts()
        _check(lib.spill_opts_init_version(ctypes.byref(self.raw), _lib.OPTS_VERSION))
        r = self.raw
        if grace is not None:
            r.grace_seconds = int(_seconds(grace))
        if reap_on_open is not None:
            r.reap_on_open = int(bool(reap_on_open))
        if reap_budget is not None:
            r.reap_budget_ms = max(1, int(_seconds(reap_budget) * 1000))
        if expected_bytes is not None:
            r.expected_bytes = expected_bytes
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
            self._log = _lib.LOG_FN(line)  # kept alive for the call
            r.log = self._log

    def ref(self) -> "ctypes._CArgObject":
        return ctypes.byref(self.raw)


class Spill:
    """One live spill directory owned by this process: chunks stored under 32-byte addresses.
    close() (or leaving its `with` block) removes the directory."""

    def __init__(self, root: PathLike, **opts: object):
        o = _Opts(**opts)  # type: ignore[arg-type]
        handle = ctypes.c_void_p()
        _check(lib.spill_open(_path(root), o.ref(), ctypes.byref(handle)))
        self._h: Optional[int] = handle.value
        self._opts = o  # what its pointers point to lives as long as the handle
        self._path = os.fsdecode(lib.spill_path(self._h))

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
            _check(lib.spill_close(h))

    def __enter__(self) -> "Spill":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_h", None) is not None:
            h, self._h = self._h, None
            lib.spill_close(h)

    def __repr__(self) -> str:
        return f"<spill.Spill {self._path!r}{' closed' if self.closed else ''}>"


def open(root: PathLike, *, tag: Optional[str] = None, grace: Optional[Seconds] = None,
         reap_on_open: Optional[bool] = None, reap_budget: Optional[Seconds] = None,
         expected_bytes: Optional[int] = None, threads: Optional[int] = None,
         log: Optional[LogFn] = None) -> Spill:
    """Creates a private spill directory under root (made 0700 with its parents if missing),
    reaping the orphans of dead owners first unless reap_on_open is False."""
    return Spill(root, tag=tag, grace=grace, reap_on_open=reap_on_open, reap_budget=reap_budget,
                 expected_bytes=expected_bytes, threads=threads, log=log)


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
    resumable: int
    cut_short: int
    cancelled: bool


def reap(root: PathLike, *, grace: Optional[Seconds] = None, threads: Optional[int] = None,
         dry_run: bool = False, budget: Optional[Seconds] = None,
         log: Optional[LogFn] = None) -> ReapStats:
    """Removes the orphans of dead owners under root: never a live spill, never through a link,
    never outside root. A missing root is not an error."""
    o = _Opts(grace=grace, threads=threads, dry_run=dry_run, reap_budget=budget, log=log)
    st = _lib.ReapStats(version=_lib.REAP_STATS_VERSION)
    _check(lib.spill_reap(_path(root), o.ref(), ctypes.byref(st)))
    return ReapStats(st.scanned, st.reaped, st.live, st.young, st.unsafe, st.errors,
                     st.bytes_freed, st.files_removed, st.elapsed_ms, bool(st.budget_exhausted),
                     st.resumable, st.cut_short, bool(st.cancelled))


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
                         _text(e.tag), _text(e.reason)))
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
