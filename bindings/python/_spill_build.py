"""_spill_build: the package's own PEP 517 backend, standard library only, so that
`pip install --no-index bindings/python` works offline on a Python without setuptools (with or
without --no-build-isolation: it requires nothing). The wheel holds spill/ and the libspill of
_spill_native: built from spill's C tree beside the package (a platform wheel), or the path of an
installed one (spill/_installed.py). The sdist carries the C tree, so it builds the same way."""
import base64
import hashlib
import io
import os
import struct
import sysconfig
import tarfile
import zipfile

import _spill_native  # beside this file: pyproject.toml's backend-path

NAME, VERSION = "spill", "0.3.0"
SUMMARY = "A private spill directory that cleans up after its owner, even after a hard death"
HERE = os.path.dirname(os.path.abspath(__file__))
DIST_INFO = f"{NAME}-{VERSION}.dist-info"
PACKAGE_FILES = (".py", "py.typed")
SDIST_FILES = ("pyproject.toml", "README.md", "_spill_build.py", "_spill_native.py")


def _package():
    """spill/'s own files (a library someone left beside them is not one: the wheel's comes from
    _spill_native)."""
    pkg = os.path.join(HERE, NAME)
    for name in sorted(os.listdir(pkg)):
        if name.endswith(PACKAGE_FILES):
            yield os.path.join(pkg, name), f"{NAME}/{name}"


def _metadata() -> str:
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\nSummary: {SUMMARY}\n"
            "License: MIT OR Apache-2.0\nRequires-Python: >=3.8\n")


def _platform_tag() -> str:
    """This interpreter's platform as a wheel tag, by packaging's rules: sysconfig's name with
    '-' and '.' as '_', and a 32-bit interpreter on a 64-bit Linux kernel named for itself."""
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    if struct.calcsize("P") == 4:
        plat = {"linux_x86_64": "linux_i686", "linux_aarch64": "linux_armv8l"}.get(plat, plat)
    return plat


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    os.makedirs(os.path.join(metadata_directory, DIST_INFO), exist_ok=True)
    with open(os.path.join(metadata_directory, DIST_INFO, "METADATA"), "w") as f:
        f.write(_metadata())
    return DIST_INFO


def _native_files() -> tuple:
    """(the wheel's platform tag, [(arcname, bytes)]) for the libspill the package loads."""
    try:
        kind, found = _spill_native.native(VERSION)
    except _spill_native.Missing as e:
        raise SystemExit(f"spill: {e}")  # one line for pip to show, no traceback
    if kind == "bundle":
        return _platform_tag(), [found]
    # the library stays where it is installed: nothing native in the wheel
    return "any", [(f"{NAME}/_installed.py", f"LIBRARY = {found!r}\n".encode())]


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    platform, native = _native_files()
    tag = f"py3-none-{platform}"
    wheel = f"{NAME}-{VERSION}-{tag}.whl"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w", zipfile.ZIP_DEFLATED) as z:
        def add(arcname: str, data: bytes, mode: int = 0o644) -> None:
            info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{arcname},sha256={digest.decode()},{len(data)}")
        for path, arcname in _package():
            with open(path, "rb") as f:
                add(arcname, f.read())
        for arcname, data in native:
            add(arcname, data, 0o755 if platform != "any" else 0o644)
        add(f"{DIST_INFO}/METADATA", _metadata().encode())
        add(f"{DIST_INFO}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: _spill_build\n"
                                   f"Root-Is-Purelib: {'true' if platform == 'any' else 'false'}\n"
                                   f"Tag: {tag}\n").encode())
        record.append(f"{DIST_INFO}/RECORD,,")
        z.writestr(f"{DIST_INFO}/RECORD", "\n".join(record) + "\n")
    return wheel


def _sdist_members():
    """(path, name in the sdist): the package, its backend, and spill's C tree under libspill/."""
    for name in SDIST_FILES:
        yield os.path.join(HERE, name), name
    for path, arcname in _package():
        yield path, arcname
    top = _spill_native.tree()
    if top is None:
        raise SystemExit("spill: an sdist needs spill's C tree (include/spill.h), found neither "
                         f"at ../.. nor at {_spill_native.SDIST_TREE}/")
    for part in _spill_native.TREE_PARTS:
        base = os.path.join(top, part)
        if os.path.isfile(base):
            yield base, f"{_spill_native.SDIST_TREE}/{part}"
        for d, dirs, files in os.walk(base):
            dirs[:] = sorted(x for x in dirs if not x.startswith((".", "__")))
            for f in sorted(files):
                rel = os.path.relpath(os.path.join(d, f), top).replace(os.sep, "/")
                yield os.path.join(d, f), f"{_spill_native.SDIST_TREE}/{rel}"


def build_sdist(sdist_directory, config_settings=None):
    base = f"{NAME}-{VERSION}"
    sdist = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, sdist), "w:gz",
                      format=tarfile.PAX_FORMAT) as tar:
        def add(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(f"{base}/{name}")
            info.size, info.mode, info.mtime = len(data), mode, 1577836800
            tar.addfile(info, io.BytesIO(data))
        for path, name in _sdist_members():
            with open(path, "rb") as f:
                add(name, f.read(), 0o755 if os.access(path, os.X_OK) else 0o644)
        add("PKG-INFO", _metadata().encode())
    return sdist
