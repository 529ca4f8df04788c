"""Refresh static/vendor/ from the npm registry: the browser libraries the app serves itself (no CDN).

    python scripts/vendor_refresh.py            # every package in static/vendor/packages.json
    python scripts/vendor_refresh.py idb        # only these packages (the others stay as recorded)
    python scripts/vendor_refresh.py --check    # offline: does the tree match MANIFEST.json? (exit 1 if not)

`packages.json` is the hand-written list: per package a pinned version and which files of its npm tarball go
where (`{"package/path/in/tarball": "file under static/vendor/<package>/"}`, paths without the `package/` prefix),
including its licence file. Adding a package is one entry there, then a run of this script.

Each tarball comes through `npm pack` (the registry's own client, which checks the tarball against the
registry's integrity); this script checks it again (sha512) and, for a version already recorded, against the
integrity in MANIFEST.json, so a tarball that changed under the same version number is refused. It then copies the
listed files, removes any other file of that package, and writes MANIFEST.json: version, licence, tarball
integrity and the sha256 of every vendored file. tests/static/test_vendor.py fails when a file differs from it.
Only this script needs npm and the network; running or testing the app never does."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

VENDOR_DIR = Path(__file__).resolve().parents[1] / "static" / "vendor"
PACKAGES_FILE = "packages.json"
MANIFEST_FILE = "MANIFEST.json"
OWN_FILES = frozenset({PACKAGES_FILE, MANIFEST_FILE, "README.md"})
LICENCE_NAME = re.compile(r"^(licen[cs]e|copying)(\.(md|txt))?$", re.IGNORECASE)
TARBALL_ROOT = "package"


class VendorError(Exception):
    """A package cannot be vendored as asked; nothing of it was written."""


@dataclass(frozen=True)
class Wanted:
    name: str
    version: str
    files: dict[str, str]  # path in the tarball (below package/) -> path under static/vendor/<name>/


@dataclass(frozen=True)
class Packed:
    tarball: Path
    integrity: str  # "sha512-<base64>", as npm reports it


Packer = Callable[[str, str, Path], Packed]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sri_sha512(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def read_wanted(vendor_dir: Path) -> list[Wanted]:
    listed = json.loads((vendor_dir / PACKAGES_FILE).read_text(encoding="utf-8"))
    return [Wanted(name=name, version=entry["version"], files=dict(entry["files"])) for name, entry in listed.items()]


def read_manifest(vendor_dir: Path) -> dict[str, dict]:
    path = vendor_dir / MANIFEST_FILE
    return json.loads(path.read_text(encoding="utf-8"))["packages"] if path.exists() else {}


def npm_pack(name: str, version: str, workdir: Path) -> Packed:
    """The tarball of name@version through npm itself (no install, no scripts run)."""
    answer = subprocess.run(  # noqa: S603 - fixed program, arguments from our own packages.json
        ["npm", "pack", f"{name}@{version}", "--json", "--ignore-scripts", "--pack-destination", str(workdir)],  # noqa: S607
        check=True, capture_output=True, text=True, cwd=workdir)
    (packed,) = json.loads(answer.stdout)
    return Packed(tarball=workdir / packed["filename"], integrity=packed["integrity"])


def _safe_relative(path: str) -> PurePosixPath:
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise VendorError(f"unsafe path {path!r}")
    return relative


def _members(tarball: Path, wanted: Wanted) -> dict[str, bytes]:
    """The listed files' bytes, plus the tarball's package.json (to check name and version)."""
    sources = {f"{TARBALL_ROOT}/{_safe_relative(source)}" for source in wanted.files} | {f"{TARBALL_ROOT}/package.json"}
    found: dict[str, bytes] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            if member.name in sources and member.isfile():
                extracted = archive.extractfile(member)
                if extracted is not None:
                    found[member.name.removeprefix(f"{TARBALL_ROOT}/")] = extracted.read()
    missing = sorted(source.removeprefix(f"{TARBALL_ROOT}/") for source in sources
                     if source.removeprefix(f"{TARBALL_ROOT}/") not in found)
    if missing:
        raise VendorError(f"{wanted.name}@{wanted.version}: not in the tarball: {', '.join(missing)}")
    return found


def _check_package(wanted: Wanted, packed: Packed, recorded: dict | None) -> None:
    actual = sri_sha512(packed.tarball)
    if actual != packed.integrity:
        raise VendorError(f"{wanted.name}@{wanted.version}: tarball does not match npm's integrity")
    if recorded and recorded.get("version") == wanted.version and recorded.get("integrity") != actual:
        raise VendorError(f"{wanted.name}@{wanted.version}: tarball differs from the one recorded for this version")
    if not any(LICENCE_NAME.match(PurePosixPath(target).name) for target in wanted.files.values()):
        raise VendorError(f"{wanted.name}: list its licence file (LICENSE, COPYING...) among its files")


def vendor_package(wanted: Wanted, packed: Packed, vendor_dir: Path, recorded: dict | None) -> dict:
    """Copy the listed files of one checked tarball into static/vendor/<name>/; return its manifest entry."""
    _check_package(wanted, packed, recorded)
    found = _members(packed.tarball, wanted)
    meta = json.loads(found["package.json"])
    if meta.get("name") != wanted.name or meta.get("version") != wanted.version:
        raise VendorError(f"{wanted.name}@{wanted.version}: the tarball says {meta.get('name')}@{meta.get('version')}")
    target_dir = vendor_dir / _safe_relative(wanted.name)
    targets = {str(_safe_relative(target)): found[source] for source, target in wanted.files.items()}
    for old in sorted(target_dir.rglob("*")) if target_dir.exists() else []:
        if old.is_file() and old.relative_to(target_dir).as_posix() not in targets:
            old.unlink()  # a file the new list no longer names must not stay served unrecorded
    for target, data in targets.items():
        path = target_dir / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    licence = next(t for t in sorted(targets) if LICENCE_NAME.match(PurePosixPath(t).name))
    return {
        "version": wanted.version,
        "license": meta.get("license", ""),
        "licence_file": f"{wanted.name}/{licence}",
        "integrity": packed.integrity,
        "files": {f"{wanted.name}/{target}": sha256(target_dir / target) for target in sorted(targets)},
    }


def write_manifest(vendor_dir: Path, packages: dict[str, dict]) -> None:
    body = {"packages": {name: packages[name] for name in sorted(packages)}}
    (vendor_dir / MANIFEST_FILE).write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def refresh(vendor_dir: Path = VENDOR_DIR, only: Iterable[str] = (), packer: Packer = npm_pack) -> list[str]:
    """Vendor the listed packages (all by default) and rewrite the manifest; returns the names refreshed."""
    wanted = read_wanted(vendor_dir)
    names = set(only) or {package.name for package in wanted}
    unknown = names - {package.name for package in wanted}
    if unknown:
        raise VendorError(f"not in {PACKAGES_FILE}: {', '.join(sorted(unknown))}")
    recorded = read_manifest(vendor_dir)
    entries = {package.name: recorded[package.name] for package in wanted if package.name in recorded}
    with tempfile.TemporaryDirectory(prefix="vendor-") as workdir:
        for package in wanted:
            if package.name in names:
                packed = packer(package.name, package.version, Path(workdir))
                entries[package.name] = vendor_package(package, packed, vendor_dir, recorded.get(package.name))
    write_manifest(vendor_dir, entries)
    return sorted(names)


def check(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """Every difference between static/vendor/ and its manifest (empty when they agree); no network."""
    problems: list[str] = []
    wanted = {package.name: package for package in read_wanted(vendor_dir)}
    recorded = read_manifest(vendor_dir)
    for name in sorted(set(wanted) | set(recorded)):
        if name not in recorded:
            problems.append(f"{name}: listed in {PACKAGES_FILE} but not vendored (run the script)")
        elif name not in wanted:
            problems.append(f"{name}: vendored but no longer listed in {PACKAGES_FILE}")
        elif recorded[name]["version"] != wanted[name].version:
            problems.append(f"{name}: {recorded[name]['version']} vendored, {wanted[name].version} pinned")
    known: set[str] = set()
    for entry in recorded.values():
        known.update(entry["files"])
        if entry.get("licence_file") not in entry["files"]:
            problems.append(f"{entry.get('licence_file')}: the licence file is not recorded")
        for relative, digest in entry["files"].items():
            path = vendor_dir / relative
            if not path.is_file():
                problems.append(f"{relative}: missing")
            elif sha256(path) != digest:
                problems.append(f"{relative}: differs from the recorded checksum (edited by hand?)")
    for path in sorted(vendor_dir.rglob("*")):
        relative = path.relative_to(vendor_dir).as_posix()
        if path.is_file() and relative not in known and relative not in OWN_FILES:
            problems.append(f"{relative}: not recorded in {MANIFEST_FILE}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("packages", nargs="*", help="only these packages (default: all)")
    parser.add_argument("--check", action="store_true", help="compare the tree with MANIFEST.json, offline")
    arguments = parser.parse_args(argv)
    try:
        if not arguments.check:
            for name in refresh(only=arguments.packages):
                print(f"vendored {name}")
    except (VendorError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
