"""The ctypes declarations against include/spill.h: a C program built from the header prints
each struct's size and each field's offset, which must equal ctypes' (skipped without a C
compiler or the header)."""
import ctypes
import os
import shutil
import subprocess
import tempfile
import unittest

import spill
from spill import _lib

STRUCTS = {"spill_error": _lib.Error, "spill_opts": _lib.Opts,
           "spill_reap_stats": _lib.ReapStats, "spill_entry": _lib.Entry}
INCLUDE = os.environ.get("SPILL_INCLUDE_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "include")


@unittest.skipUnless(shutil.which(os.environ.get("CC", "cc")) and
                     os.path.exists(os.path.join(INCLUDE, "spill.h")), "needs cc and spill.h")
class TestHeader(unittest.TestCase):
    def test_layouts_and_versions_match_the_header(self) -> None:
        lines, want = [], []
        for c, py in STRUCTS.items():
            lines.append(f'printf("{c} %zu\\n", sizeof({c}));')
            want.append(f"{c} {ctypes.sizeof(py)}")
            for name, _ in py._fields_:
                lines.append(f'printf("{c}.{name} %zu\\n", offsetof({c}, {name}));')
                want.append(f"{c}.{name} {getattr(py, name).offset}")
        for macro, value in (("SPILL_OPTS_VERSION", _lib.OPTS_VERSION),
                             ("SPILL_REAP_STATS_VERSION", _lib.REAP_STATS_VERSION),
                             ("SPILL_ADDR_LEN", _lib.ADDR_LEN),
                             ("SPILL_REAP_NONE", _lib.REAP_NONE),
                             ("SPILL_REAP_SYNC", _lib.REAP_SYNC),
                             ("SPILL_REAP_BACKGROUND", _lib.REAP_BACKGROUND),
                             ("SPILL_ERROR", spill.State.ERROR),
                             ("SPILL_RESUMABLE", spill.State.RESUMABLE),
                             ("SPILL_VERIFY_STOP", _lib.VERIFY_STOP)):
            lines.append(f'printf("{macro} %d\\n", (int){macro});')
            want.append(f"{macro} {value}")
        src = ("#include <stdio.h>\n#include <stddef.h>\n#include \"spill.h\"\nint main(void)\n{\n"
               + "\n".join(lines) + "\nreturn 0;\n}\n")
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "layout.c"), "w") as f:
                f.write(src)
            exe = os.path.join(tmp, "layout")
            subprocess.run([os.environ.get("CC", "cc"), "-DSPILL_STATIC", "-I", INCLUDE,
                            os.path.join(tmp, "layout.c"), "-o", exe], check=True)
            got = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
        self.assertEqual(got.splitlines(), want)


if __name__ == "__main__":
    unittest.main()
