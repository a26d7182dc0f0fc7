"""_lib: finds spill's shared library and declares the C API of include/spill.h on it."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_int, c_int64, c_size_t, c_uint,
                    c_uint8, c_uint32, c_uint64, c_void_p)

ADDR_LEN = 32
# version 1 (0.1): grace_seconds .. log_ctx; version 2 (0.2): dry_run, progress, progress_ctx,
# progress_ms, keep_seconds, reap_resumable; version 3 (0.3): verify, verify_ctx,
# root_limit_bytes
OPTS_VERSION = 3
REAP_STATS_VERSION = 2  # version 2 (0.2) adds resumable, cut_short, cancelled
REAP_NONE, REAP_SYNC, REAP_BACKGROUND = 0, 1, 2  # spill_opts.reap_on_open
# what a verify callback returns when it failed itself: the adopt fails, nothing removed
VERIFY_STOP = -2**31  # INT32_MIN

LOG_FN = CFUNCTYPE(None, c_void_p, c_int, c_char_p)


class Error(Structure):
    _fields_ = [("code", c_int), ("os_error", c_int), ("op", c_char_p), ("path", c_char_p),
                ("message", c_char_p)]


class ReapStats(Structure):
    _fields_ = [("version", c_uint), ("scanned", c_uint32), ("reaped", c_uint32),
                ("live", c_uint32), ("young", c_uint32), ("unsafe", c_uint32),
                ("errors", c_uint32), ("bytes_freed", c_uint64), ("files_removed", c_uint64),
                ("elapsed_ms", c_uint32), ("budget_exhausted", c_int),
                # version 2
                ("resumable", c_uint32), ("cut_short", c_uint32), ("cancelled", c_int)]


PROGRESS_FN = CFUNCTYPE(c_int, c_void_p, POINTER(ReapStats))
# spill_adopt's verify: (ctx, addr[ADDR_LEN], data, len) -> 0 keep, other reject, VERIFY_STOP
VERIFY_FN = CFUNCTYPE(c_int, c_void_p, POINTER(c_uint8), c_void_p, c_size_t)


class Opts(Structure):
    _fields_ = [("version", c_uint), ("grace_seconds", c_uint32), ("reap_on_open", c_int),
                ("reap_budget_ms", c_uint32), ("expected_bytes", c_uint64), ("threads", c_uint),
                ("tag", c_char_p), ("log", LOG_FN), ("log_ctx", c_void_p),
                # version 2
                ("dry_run", c_int), ("progress", PROGRESS_FN), ("progress_ctx", c_void_p),
                ("progress_ms", c_uint32), ("keep_seconds", c_uint32), ("reap_resumable", c_int),
                # version 3
                ("verify", VERIFY_FN), ("verify_ctx", c_void_p), ("root_limit_bytes", c_uint64)]


class Entry(Structure):
    _fields_ = [("name", c_char_p), ("state", c_int), ("age_seconds", c_int64),
                ("bytes", c_uint64), ("files", c_uint64), ("owner_pid", c_int64),
                ("owner_host", c_char_p), ("tag", c_char_p), ("reason", c_char_p),
                # 0.3
                ("reserved_bytes", c_uint64), ("limit_bytes", c_uint64)]


SCAN_FN = CFUNCTYPE(c_int, c_void_p, POINTER(Entry))

_NAMES = {"linux": ["libspill.so", "libspill.so.0"], "darwin": ["libspill.dylib", "libspill.0.dylib"],
          "win32": ["spill.dll", "libspill.dll"]}


def _candidates() -> list:
    """SPILL_LIBRARY, else the libspill pip built into the package, else the installed one its
    build found (_installed.py), else the system's."""
    names = _NAMES.get(sys.platform, _NAMES["linux"])
    found = []
    if os.environ.get("SPILL_LIBRARY"):
        found.append(os.environ["SPILL_LIBRARY"])
    here = os.path.dirname(os.path.abspath(__file__))
    found += [os.path.join(here, n) for n in names if os.path.exists(os.path.join(here, n))]
    try:
        from ._installed import LIBRARY  # written by the build when it bundled no library
        found.append(LIBRARY)
    except ImportError:
        pass
    system = ctypes.util.find_library("spill")
    if system:
        found.append(system)
    return found + names


def _load() -> ctypes.CDLL:
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("spill: cannot load the spill shared library (pip install builds one into "
                      "the package; SPILL_LIBRARY names another): " + "; ".join(errors))


lib = _load()

_u8_addr = POINTER(c_uint8)
_API = {
    "spill_strerror": (c_char_p, [c_int]),
    "spill_error_last": (POINTER(Error), []),
    "spill_opts_init_version": (c_int, [POINTER(Opts), c_uint]),
    "spill_open": (c_int, [c_char_p, POINTER(Opts), POINTER(c_void_p)]),
    "spill_put": (c_int, [c_void_p, c_char_p, c_char_p, c_size_t]),
    "spill_get": (c_int, [c_void_p, c_char_p, POINTER(c_void_p), POINTER(c_size_t)]),
    "spill_remove": (c_int, [c_void_p, c_char_p]),
    "spill_free": (None, [c_void_p]),
    "spill_count": (c_size_t, [c_void_p]),
    "spill_total_bytes": (c_uint64, [c_void_p]),
    "spill_addr": (c_int, [c_void_p, c_size_t, ctypes.c_char * ADDR_LEN]),
    "spill_path": (c_char_p, [c_void_p]),
    "spill_close": (c_int, [c_void_p]),
    "spill_reap": (c_int, [c_char_p, POINTER(Opts), POINTER(ReapStats)]),
    "spill_scan": (c_int, [c_char_p, POINTER(Opts), SCAN_FN, c_void_p]),
    "spill_adopt": (c_int, [c_char_p, c_char_p, POINTER(Opts), POINTER(c_void_p)]),
    "spill_default_root": (c_int, [c_char_p, ctypes.c_char_p, c_size_t]),
    "spill_check_space": (c_int, [c_char_p, c_uint64]),
    "spill_version": (c_char_p, []),
}
for _name, (_res, _args) in _API.items():
    _f = getattr(lib, _name)
    _f.restype, _f.argtypes = _res, _args
