"""_spill_native: the libspill a wheel of the package carries or points at, for _spill_build.

A shared libspill is built with CMake from spill's C tree (the repository around the package, or
the copy an sdist carries) and bundled beside the package. Without a tree or cmake, an installed
libspill of the package's version is used where it is (pkg-config, then the linker's path). With
neither, the build stops with a message naming what is missing. Standard library only."""
import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# the C tree: what CMakeLists.txt needs with tests, tools, bench and examples off (the sdist's copy)
TREE_PARTS = ("CMakeLists.txt", "cmake", "include", "src", "platform", "LICENSE-MIT",
              "LICENSE-APACHE")
SDIST_TREE = "libspill"
CMAKE_OPTIONS = ["-DBUILD_SHARED_LIBS=ON", "-DSPILL_BUILD_TESTS=OFF", "-DSPILL_BUILD_TOOLS=OFF",
                 "-DSPILL_BUILD_BENCH=OFF", "-DSPILL_BUILD_EXAMPLES=OFF", "-DSPILL_INSTALL=OFF",
                 "-DCMAKE_BUILD_TYPE=Release"]
# what the build leaves (a link to the versioned file on POSIX): names spill/_lib.py looks for
BUILT = {"linux": ("libspill.so",), "darwin": ("libspill.dylib",),
         "win32": ("spill.dll", "libspill.dll")}  # MSVC, MinGW
INSTALLED = ("libspill.so.0", "libspill.so", "libspill.0.dylib", "libspill.dylib", "spill.dll")


class Missing(Exception):
    """Neither a build nor an installed libspill: the message says what is missing."""


def tree():
    """spill's C tree: the sdist's copy, else the repository two levels up; None without one."""
    for top in (os.path.join(HERE, SDIST_TREE), os.path.join(HERE, "..", "..")):
        if os.path.isfile(os.path.join(top, "CMakeLists.txt")) and \
                os.path.isfile(os.path.join(top, "include", "spill.h")):
            return os.path.normpath(top)
    return None


def build(top: str) -> tuple:
    """Builds the shared library from TOP in a scratch directory: (name in the wheel, bytes)."""
    names = BUILT.get(sys.platform, BUILT["linux"])
    with tempfile.TemporaryDirectory(prefix="spill-build-") as tmp:
        for step, cmd in (("configuring", ["cmake", "-S", top, "-B", tmp] + CMAKE_OPTIONS),
                          ("building", ["cmake", "--build", tmp, "--config", "Release",
                                        "--target", "spill", "-j", str(os.cpu_count() or 2)])):
            if subprocess.run(cmd).returncode != 0:  # pip shows the output when this fails
                raise Missing(f"CMake failed {step} libspill (its output is above): it needs a "
                              "C compiler and APR's development files (Debian: apt-get install "
                              "gcc pkg-config libapr1-dev)")
        for d in (tmp, os.path.join(tmp, "Release")):  # Release/: multi-config generators
            for name in names:
                if os.path.exists(os.path.join(d, name)):
                    with open(os.path.realpath(os.path.join(d, name)), "rb") as f:
                        return f"spill/{name}", f.read()
    raise Missing(f"the CMake build left no {' or '.join(names)} in its build directory")


def _version_of(path: str) -> str:
    lib = ctypes.CDLL(path)
    lib.spill_version.restype = ctypes.c_char_p
    return lib.spill_version().decode()


def _pkg_config_libdir() -> str:
    try:
        res = subprocess.run(["pkg-config", "--variable=libdir", "spill"], capture_output=True,
                             text=True)
    except OSError:
        return ""
    libdir = res.stdout.strip() if res.returncode == 0 else ""
    return os.path.normpath(libdir) if libdir else ""


def installed(version: str, tried: list) -> str:
    """An installed libspill of VERSION's major.minor, as a path the loader can open; or ""."""
    libdir = _pkg_config_libdir()
    paths = [os.path.join(libdir, n) for n in INSTALLED
             if libdir and os.path.exists(os.path.join(libdir, n))]
    if libdir and not paths:
        tried.append(f"pkg-config's libdir {libdir} holds no shared libspill")
    paths += [p for p in [ctypes.util.find_library("spill")] if p]
    want = ".".join(version.split(".")[:2]) + "."
    for path in paths:
        try:
            found = _version_of(path)
        except (OSError, AttributeError) as e:
            tried.append(f"{path}: {e}")
            continue
        if found.startswith(want):
            return path
        tried.append(f"{path} is spill {found}, not {version}")
    return ""


def native(version: str) -> tuple:
    """("bundle", (arcname, bytes)) built from the tree, or ("path", path) of an installed
    libspill; raises Missing naming what is missing when neither is possible."""
    top, cmake = tree(), shutil.which("cmake")
    if top and cmake:
        return "bundle", build(top)
    tried = []
    path = installed(version, tried)
    if path:
        return "path", path
    why = "no cmake on PATH" if top else \
        f"no spill C tree (neither ../.. nor {SDIST_TREE}/ beside {HERE} holds include/spill.h)"
    raise Missing(f"cannot build libspill ({why}) and found no installed libspill {version} "
                  "(pkg-config spill, the linker's path)" +
                  (": " + "; ".join(tried) if tried else "") +
                  ". Install cmake, a C compiler and APR's development files, or libspill itself")
