"""Stored photos are encrypted, and their files are the service account's alone whatever the umask."""

import os
import stat
from pathlib import Path

from registry.images import open_image_store


def test_stored_images_and_their_folders_are_private_under_a_permissive_umask(tmp_path: Path) -> None:
    root = tmp_path / "var" / "images"
    store = open_image_store(root, image_key="", secret_key="s" * 40)
    previous = os.umask(0)
    try:
        key = store.put(b"jpeg bytes of a credential")
    finally:
        os.umask(previous)
    (stored,) = root.rglob("*.enc")
    modes = [stat.S_IMODE(path.stat().st_mode) for path in (root, stored.parent, stored)]
    assert modes == [0o700, 0o700, 0o600]
    assert store.get(key) == b"jpeg bytes of a credential"
