"""static/vendor/: the browser libraries the app serves itself. Every vendored file matches the checksum
scripts/vendor_refresh.py recorded (a hand edit fails here), each package carries its licence and version, the
scripts load libraries only from /static/vendor (never a CDN), and the field app's service worker keeps every module
its pages import, so the queue and the signature pad open offline. The refresh script itself runs here on
tarballs built by the test (no npm, no network)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import tarfile
from pathlib import Path, PurePosixPath

import pytest

from scripts.vendor_refresh import (
    MANIFEST_FILE,
    PACKAGES_FILE,
    VENDOR_DIR,
    Packed,
    VendorError,
    check,
    read_manifest,
    read_wanted,
    refresh,
)

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
TEMPLATES = ROOT / "web" / "templates"
IMPORT = re.compile(r"""^\s*import\s+(?:[^'"]*?\s+from\s+)?["']([^"']+)["']""", re.MULTILINE)
DYNAMIC_IMPORT = re.compile(r"""\bimport\(\s*["']([^"']+)["']""")
SCRIPT_SRC = re.compile(r"""<script[^>]*\bsrc="\{\{\s*path_for\('static',\s*path='([^']+)'\)\s*\}\}\"""")


# ------------------------------------------------------------------ the tree as committed


def test_every_vendored_file_matches_its_recorded_checksum() -> None:
    assert check(VENDOR_DIR) == []


def test_each_package_carries_its_licence_and_version() -> None:
    wanted = {package.name: package for package in read_wanted(VENDOR_DIR)}
    manifest = read_manifest(VENDOR_DIR)
    assert {"signature_pad", "idb"} <= set(manifest)
    for name, entry in manifest.items():
        assert entry["version"] == wanted[name].version
        assert entry["license"], name
        licence = VENDOR_DIR / entry["licence_file"]
        assert entry["licence_file"] in entry["files"] and licence.stat().st_size > 0
        assert entry["integrity"].startswith("sha512-")


def _imports(script: Path) -> list[str]:
    text = script.read_text(encoding="utf-8")
    return IMPORT.findall(text) + DYNAMIC_IMPORT.findall(text)


def _module_graph(entry: Path) -> set[Path]:
    """The script and every module it imports, transitively (relative specifiers only; others fail the test)."""
    seen: set[Path] = set()
    todo = [entry.resolve()]
    while todo:
        script = todo.pop()
        if script in seen:
            continue
        seen.add(script)
        for specifier in _imports(script):
            assert specifier.startswith(("./", "../")), f"{script.name} imports {specifier!r}: not from /static"
            target = (script.parent / specifier).resolve()
            assert target.is_relative_to(STATIC) and target.is_file(), f"{script.name}: {specifier} is missing"
            todo.append(target)
    return seen


def test_scripts_load_libraries_only_from_static_vendor() -> None:
    recorded = {VENDOR_DIR / name for entry in read_manifest(VENDOR_DIR).values() for name in entry["files"]}
    loaded: set[Path] = set()
    for script in sorted((STATIC / "js").glob("*.js")):
        for module in _module_graph(script):
            assert "cdn" not in module.as_posix().lower()
            if module.is_relative_to(VENDOR_DIR):
                assert module in recorded, f"{module} is under static/vendor but not recorded"
                loaded.add(module)
    assert VENDOR_DIR / "signature_pad" / "signature_pad.js" in loaded
    assert VENDOR_DIR / "idb" / "index.js" in loaded


def test_no_template_loads_a_script_or_stylesheet_from_another_origin() -> None:
    outside = re.compile(r"""<(?:script|link)[^>]*\b(?:src|href)="(?:https?:)?//""", re.IGNORECASE)
    for template in sorted(TEMPLATES.rglob("*.html")):
        assert not outside.search(template.read_text(encoding="utf-8")), template


def _service_worker_assets() -> set[str]:
    text = (STATIC / "sw.js").read_text(encoding="utf-8")
    block = re.search(r"const ASSETS = \[(.*?)\];", text, re.DOTALL)
    assert block is not None
    return set(re.findall(r'"(/static/[^"]+)"', block.group(1)))


def test_the_service_worker_keeps_every_module_the_capture_page_imports() -> None:
    page = (TEMPLATES / "field" / "capture.html").read_text(encoding="utf-8")
    scripts = SCRIPT_SRC.findall(page)
    assert "js/field-queue.js" in scripts and "js/signature.js" in scripts
    modules = set().union(*(_module_graph(STATIC / script) for script in scripts))
    needed = {"/static/" + module.relative_to(STATIC).as_posix() for module in modules}
    assert "/static/vendor/idb/index.js" in needed and "/static/vendor/signature_pad/signature_pad.js" in needed
    assert needed - _service_worker_assets() == set()


# ------------------------------------------------------------------ the refresh script, on built tarballs


def _tarball(directory: Path, name: str, version: str, files: dict[str, bytes]) -> Packed:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        contents = {"package.json": json.dumps({"name": name, "version": version, "license": "MIT"}).encode(),
                    **files}
        for path, data in contents.items():
            info = tarfile.TarInfo(f"package/{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    tarball = directory / f"{name}-{version}.tgz"
    tarball.write_bytes(buffer.getvalue())
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    return Packed(tarball=tarball, integrity=integrity)


class Registry:
    """Stands in for `npm pack`: hands out the tarballs the test built."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.tarballs: dict[tuple[str, str], Packed] = {}

    def publish(self, name: str, version: str, files: dict[str, bytes]) -> Packed:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.tarballs[(name, version)] = _tarball(self.directory, name, version, files)
        return self.tarballs[(name, version)]

    def __call__(self, name: str, version: str, workdir: Path) -> Packed:
        return self.tarballs[(name, version)]


def _vendor_dir(tmp_path: Path, version: str = "1.0.0", files: dict[str, str] | None = None) -> Path:
    vendor = tmp_path / "vendor"
    vendor.mkdir(exist_ok=True)
    listed = {"lib": {"version": version, "files": files or {"dist/lib.js": "lib.js", "LICENSE": "LICENSE"}}}
    (vendor / PACKAGES_FILE).write_text(json.dumps(listed), encoding="utf-8")
    return vendor


def test_refresh_copies_the_listed_files_and_records_their_checksums(tmp_path: Path) -> None:
    registry, vendor = Registry(tmp_path / "npm"), _vendor_dir(tmp_path)
    registry.publish("lib", "1.0.0", {"dist/lib.js": b"export const a = 1;\n", "LICENSE": b"MIT licence\n",
                                      "src/lib.ts": b"// not listed\n"})
    assert refresh(vendor, packer=registry) == ["lib"]
    assert (vendor / "lib" / "lib.js").read_bytes() == b"export const a = 1;\n"
    assert not (vendor / "lib" / "src").exists()
    entry = json.loads((vendor / MANIFEST_FILE).read_text())["packages"]["lib"]
    assert entry["version"] == "1.0.0" and entry["license"] == "MIT" and entry["licence_file"] == "lib/LICENSE"
    assert entry["files"]["lib/lib.js"] == hashlib.sha256(b"export const a = 1;\n").hexdigest()
    assert check(vendor) == []


def test_check_names_a_file_edited_by_hand_and_one_nobody_recorded(tmp_path: Path) -> None:
    registry, vendor = Registry(tmp_path / "npm"), _vendor_dir(tmp_path)
    registry.publish("lib", "1.0.0", {"dist/lib.js": b"export const a = 1;\n", "LICENSE": b"MIT\n"})
    refresh(vendor, packer=registry)
    (vendor / "lib" / "lib.js").write_text("export const a = 2;\n")
    (vendor / "lib" / "extra.js").write_text("alert(1);\n")
    problems = check(vendor)
    assert any(p.startswith("lib/lib.js: differs") for p in problems)
    assert any(p.startswith("lib/extra.js: not recorded") for p in problems)


def test_a_new_version_replaces_the_files_and_drops_those_no_longer_listed(tmp_path: Path) -> None:
    registry, vendor = Registry(tmp_path / "npm"), _vendor_dir(tmp_path)
    registry.publish("lib", "1.0.0", {"dist/lib.js": b"one\n", "LICENSE": b"MIT\n"})
    refresh(vendor, packer=registry)
    _vendor_dir(tmp_path, "2.0.0", {"dist/lib.mjs": "lib.mjs", "LICENSE": "LICENSE"})
    registry.publish("lib", "2.0.0", {"dist/lib.mjs": b"two\n", "LICENSE": b"MIT\n"})
    refresh(vendor, packer=registry)
    assert sorted(p.name for p in (vendor / "lib").iterdir()) == ["LICENSE", "lib.mjs"]
    assert read_manifest(vendor)["lib"]["version"] == "2.0.0" and check(vendor) == []


def test_a_version_pinned_but_not_vendored_is_reported(tmp_path: Path) -> None:
    registry, vendor = Registry(tmp_path / "npm"), _vendor_dir(tmp_path)
    registry.publish("lib", "1.0.0", {"dist/lib.js": b"one\n", "LICENSE": b"MIT\n"})
    refresh(vendor, packer=registry)
    _vendor_dir(tmp_path, "1.0.1")
    assert check(vendor) == ["lib: 1.0.0 vendored, 1.0.1 pinned"]


def test_a_tarball_that_does_not_match_its_integrity_is_refused(tmp_path: Path) -> None:
    registry, vendor = Registry(tmp_path / "npm"), _vendor_dir(tmp_path)
    packed = registry.publish("lib", "1.0.0", {"dist/lib.js": b"one\n", "LICENSE": b"MIT\n"})
    registry.tarballs[("lib", "1.0.0")] = Packed(packed.tarball, "sha512-" + base64.b64encode(b"x" * 64).decode())
    with pytest.raises(VendorError, match="integrity"):
        refresh(vendor, packer=registry)
    assert not (vendor / "lib").exists() and not (vendor / MANIFEST_FILE).exists()


def test_a_tarball_changed_under_the_same_version_is_refused(tmp_path: Path) -> None:
    registry, vendor = Registry(tmp_path / "npm"), _vendor_dir(tmp_path)
    registry.publish("lib", "1.0.0", {"dist/lib.js": b"one\n", "LICENSE": b"MIT\n"})
    refresh(vendor, packer=registry)
    kept = (vendor / "lib" / "lib.js").read_bytes()
    registry.publish("lib", "1.0.0", {"dist/lib.js": b"one, but not the same\n", "LICENSE": b"MIT\n"})
    with pytest.raises(VendorError, match="differs from the one recorded"):
        refresh(vendor, packer=registry)
    assert (vendor / "lib" / "lib.js").read_bytes() == kept and check(vendor) == []


def test_a_package_without_its_licence_file_listed_is_refused(tmp_path: Path) -> None:
    registry, vendor = Registry(tmp_path / "npm"), _vendor_dir(tmp_path, files={"dist/lib.js": "lib.js"})
    registry.publish("lib", "1.0.0", {"dist/lib.js": b"one\n", "LICENSE": b"MIT\n"})
    with pytest.raises(VendorError, match="licence"):
        refresh(vendor, packer=registry)


def test_a_path_leaving_the_package_directory_is_refused(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "npm")
    vendor = _vendor_dir(tmp_path, files={"dist/lib.js": "../../escaped.js", "LICENSE": "LICENSE"})
    registry.publish("lib", "1.0.0", {"dist/lib.js": b"one\n", "LICENSE": b"MIT\n"})
    with pytest.raises(VendorError, match="unsafe path"):
        refresh(vendor, packer=registry)
    assert not (tmp_path / "escaped.js").exists()


def test_the_committed_tree_fails_the_check_once_a_vendored_file_is_edited(tmp_path: Path) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR_DIR, copy)
    module = copy / "signature_pad" / "signature_pad.js"
    module.write_text(module.read_text(encoding="utf-8") + "\n// tweaked\n", encoding="utf-8")
    assert str(PurePosixPath("signature_pad/signature_pad.js")) + ": differs" in "\n".join(check(copy))
