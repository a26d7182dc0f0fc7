"""The package's build backend (_spill_build, _spill_native) as pip drives it: a wheel tagged for
this platform carrying the built library; without cmake, a pure wheel pointing at an installed
libspill of the package's version, which `import spill` then loads; with neither, a failure naming
what is missing; an sdist that carries the C tree and finds it. The libspill built from the tree
itself is the venv test's (ci/python-venv.sh): here the build is stood in for."""
import importlib.util
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import unittest
import zipfile
from unittest import mock

import spill

PKG_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
LIBRARY = os.environ.get("SPILL_LIBRARY", "")


def _load(name: str):
    """A backend module from the tree, without putting the tree's spill/ on sys.path."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(PKG_DIR, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


native = _load("_spill_native")
backend = _load("_spill_build")
SDIST_TOP = f"{backend.NAME}-{backend.VERSION}"


def _wheel(tmp: str) -> tuple:
    name = backend.build_wheel(tmp)
    return name, zipfile.ZipFile(os.path.join(tmp, name))


class TestBuild(unittest.TestCase):
    def test_a_built_library_goes_into_a_wheel_pip_accepts_here(self) -> None:
        try:
            from pip._vendor.packaging.tags import sys_tags
        except ImportError:
            self.skipTest("needs pip's packaging to list the tags pip accepts")
        built = ("spill/libspill.so", b"\x7fELF stand-in")
        with tempfile.TemporaryDirectory() as tmp, \
                mock.patch.object(native, "native", return_value=("bundle", built)):
            name, whl = _wheel(tmp)
            tag = name[:-len(".whl")].split("-", 2)[2]
            self.assertIn(tag, {str(t) for t in sys_tags()})
            self.assertNotEqual(tag, "py3-none-any")
            self.assertEqual(whl.read("spill/libspill.so"), built[1])
            self.assertIn(b"Root-Is-Purelib: false", whl.read(f"{backend.DIST_INFO}/WHEEL"))

    @unittest.skipUnless(LIBRARY, "needs SPILL_LIBRARY: a shared libspill to find installed")
    def test_without_cmake_an_installed_library_is_used_where_it_is(self) -> None:
        libdir = os.path.dirname(os.path.abspath(LIBRARY))
        with tempfile.TemporaryDirectory() as tmp, \
                mock.patch.object(native.shutil, "which", return_value=None), \
                mock.patch.object(native, "_pkg_config_libdir", return_value=libdir):
            name, whl = _wheel(tmp)
            self.assertTrue(name.endswith("-py3-none-any.whl"), name)
            self.assertFalse([n for n in whl.namelist() if "libspill" in n])
            whl.extractall(os.path.join(tmp, "site"))
            # the installed package, in a Python of its own with no SPILL_LIBRARY
            env = {k: v for k, v in os.environ.items() if k != "SPILL_LIBRARY"}
            env["PYTHONPATH"] = os.path.join(tmp, "site")
            out = subprocess.run([sys.executable, "-c", "import spill, spill._lib as l; "
                                  "print(l.lib._name, spill.version())"], env=env, cwd=tmp,
                                 capture_output=True, text=True, check=True).stdout.split()
        self.assertEqual(out, [os.path.join(libdir, "libspill.so.0"), spill.version()])

    @unittest.skipUnless(LIBRARY, "needs SPILL_LIBRARY: a shared libspill to find installed")
    def test_an_installed_library_of_another_version_is_not_used(self) -> None:
        major = int(spill.version().split(".")[0])
        tried = []
        with mock.patch.object(native, "_pkg_config_libdir",
                               return_value=os.path.dirname(os.path.abspath(LIBRARY))):
            self.assertEqual(native.installed(f"{major + 1}.0.0", tried), "")
        self.assertIn(f"is spill {spill.version()}, not {major + 1}.0.0", "; ".join(tried))

    def test_with_neither_the_build_fails_naming_what_is_missing(self) -> None:
        with tempfile.TemporaryDirectory() as tmp, \
                mock.patch.object(native, "tree", return_value=None), \
                mock.patch.object(native, "_pkg_config_libdir", return_value=""), \
                mock.patch.object(native.ctypes.util, "find_library", return_value=None):
            with self.assertRaises(SystemExit) as e:
                backend.build_wheel(tmp)
            self.assertEqual(os.listdir(tmp), [])
        self.assertRegex(str(e.exception), r"^spill: cannot build libspill \(no spill C tree .*\) "
                         r"and found no installed libspill " + re.escape(backend.VERSION))

    def test_the_sdist_carries_the_c_tree_and_builds_from_it(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            with tarfile.open(os.path.join(tmp, backend.build_sdist(tmp))) as tar:
                names = tar.getnames()
                tar.extractall(tmp)
            for part in ("CMakeLists.txt", "include/spill.h", "cmake/SpillDeps.cmake",
                         "src/spill.c", "platform/platform.h"):
                self.assertIn(f"{SDIST_TOP}/libspill/{part}", names)
            top = os.path.join(tmp, SDIST_TOP)
            found = subprocess.run([sys.executable, "-c", "import _spill_native as n; "
                                    "print(n.tree())"], cwd=top, capture_output=True, text=True,
                                   check=True).stdout.strip()
        self.assertEqual(found, os.path.join(top, "libspill"))


if __name__ == "__main__":
    unittest.main()
