"""_spill_build: the package's own PEP 517 backend, standard library only, so that
`pip install --no-index --no-build-isolation bindings/python` works offline on a Python without
setuptools' wheel support. It packs spill/ (and a libspill placed beside it) into a wheel."""
import base64
import hashlib
import os
import zipfile

NAME, VERSION = "spill", "0.2.0"
SUMMARY = "A private spill directory that cleans up after its owner, even after a hard death"
HERE = os.path.dirname(os.path.abspath(__file__))
DIST_INFO = f"{NAME}-{VERSION}.dist-info"
SUFFIXES = (".py", "py.typed", ".so", ".dylib", ".dll")


def _files():
    pkg = os.path.join(HERE, NAME)
    for name in sorted(os.listdir(pkg)):
        if name.endswith(SUFFIXES) or ".so." in name:
            yield os.path.join(pkg, name), f"{NAME}/{name}"


def _metadata() -> str:
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\nSummary: {SUMMARY}\n"
            "License: MIT OR Apache-2.0\nRequires-Python: >=3.8\n")


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    os.makedirs(os.path.join(metadata_directory, DIST_INFO), exist_ok=True)
    with open(os.path.join(metadata_directory, DIST_INFO, "METADATA"), "w") as f:
        f.write(_metadata())
    return DIST_INFO


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    # pure Python unless a shared library is bundled beside the package
    tag = "py3-none-any"
    wheel = f"{NAME}-{VERSION}-{tag}.whl"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w", zipfile.ZIP_DEFLATED) as z:
        def add(arcname: str, data: bytes) -> None:
            z.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{arcname},sha256={digest.decode()},{len(data)}")
        for path, arcname in _files():
            with open(path, "rb") as f:
                add(arcname, f.read())
        add(f"{DIST_INFO}/METADATA", _metadata().encode())
        add(f"{DIST_INFO}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: _spill_build\n"
                                   f"Root-Is-Purelib: true\nTag: {tag}\n").encode())
        record.append(f"{DIST_INFO}/RECORD,,")
        z.writestr(f"{DIST_INFO}/RECORD", "\n".join(record) + "\n")
    return wheel
