"""A PEP 517 build backend for cairn-client that needs nothing but Python.

`pip install ./clients/python` builds the wheel with this module (named
in pyproject.toml with `backend-path`), so installing needs no setuptools
and no package index: it works offline, with pip's build isolation on.
It builds pure-Python wheels (also editable ones, PEP 660) and sdists of
this one package; it is no general-purpose backend.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile
from typing import Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "cairn_client"
DIST = "cairn_client"  # the distribution name, normalised for file names
# Files of the sdist besides the package, relative to ROOT.
SDIST_EXTRAS = ["pyproject.toml", "README.md", "build_backend/cairn_build.py"]
# Zip entries get this time, so that the same sources give the same wheel.
EPOCH = (2020, 1, 1, 0, 0, 0)


def _project() -> Dict[str, str]:
    """The simple string keys of pyproject.toml's [project] table."""
    values: Dict[str, str] = {}
    section = None
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as file:
        for line in file:
            header = re.match(r"^\s*\[([^\]]+)\]\s*$", line)
            if header:
                section = header.group(1).strip()
                continue
            pair = re.match(r'^\s*([A-Za-z0-9_-]+)\s*=\s*"([^"]*)"\s*$', line)
            if section == "project" and pair:
                values[pair.group(1)] = pair.group(2)
    return values


def _version() -> str:
    with open(os.path.join(ROOT, PACKAGE, "__init__.py"), encoding="utf-8") as file:
        found = re.search(r'^__version__ = "([^"]+)"$', file.read(), re.MULTILINE)
    if not found:
        raise RuntimeError(f"no __version__ in {PACKAGE}/__init__.py")
    return found.group(1)


def _metadata() -> bytes:
    project = _project()
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {_version()}",
        f"Summary: {project.get('description', '')}",
        f"Requires-Python: {project.get('requires-python', '>=3.9')}",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: Operating System :: POSIX :: Linux",
        "Classifier: Typing :: Typed",
    ]
    readme = os.path.join(ROOT, "README.md")
    text = "\n".join(lines) + "\n"
    if os.path.exists(readme):
        with open(readme, encoding="utf-8") as file:
            text += "Description-Content-Type: text/markdown\n\n" + file.read()
    return text.encode("utf-8")


def _package_files() -> List[Tuple[str, str]]:
    """(archive name, path) of every file of the package, sorted."""
    found = []
    base = os.path.join(ROOT, PACKAGE)
    for directory, subdirectories, names in os.walk(base):
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
        for name in sorted(names):
            if name.endswith((".py", ".typed")):
                path = os.path.join(directory, name)
                found.append((os.path.relpath(path, ROOT).replace(os.sep, "/"), path))
    return found


def _write_wheel(directory: str, entries: List[Tuple[str, bytes]]) -> str:
    version = _version()
    dist_info = f"{DIST}-{version}.dist-info"
    wheel = "Wheel-Version: 1.0\nGenerator: cairn_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entries = entries + [(f"{dist_info}/METADATA", _metadata()), (f"{dist_info}/WHEEL", wheel.encode())]
    record = []
    for name, data in entries:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    entries.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    filename = f"{DIST}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, filename), "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return filename


# MARK: - PEP 517 hooks


def get_requires_for_build_wheel(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_editable(config_settings: Optional[dict] = None) -> List[str]:
    return []


def build_wheel(
    wheel_directory: str, config_settings: Optional[dict] = None, metadata_directory: Optional[str] = None
) -> str:
    entries = []
    for name, path in _package_files():
        with open(path, "rb") as file:
            entries.append((name, file.read()))
    return _write_wheel(wheel_directory, entries)


def build_editable(
    wheel_directory: str, config_settings: Optional[dict] = None, metadata_directory: Optional[str] = None
) -> str:
    """A wheel whose one .pth file puts this source directory on sys.path."""
    return _write_wheel(wheel_directory, [(f"_{DIST}_editable.pth", (ROOT + "\n").encode())])


def build_sdist(sdist_directory: str, config_settings: Optional[dict] = None) -> str:
    stem = f"{DIST}-{_version()}"
    filename = f"{stem}.tar.gz"
    files = [(name, path) for name, path in _package_files()]
    files += [(name, os.path.join(ROOT, name)) for name in SDIST_EXTRAS if os.path.exists(os.path.join(ROOT, name))]
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as archive:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(f"{stem}/{name}")
            info.size = len(data)
            info.mode = 0o644
            info.mtime = int(time.mktime(EPOCH + (0, 0, -1)))
            archive.addfile(info, io.BytesIO(data))

        for name, path in files:
            with open(path, "rb") as file:
                add(name, file.read())
        add("PKG-INFO", _metadata())
    return filename
