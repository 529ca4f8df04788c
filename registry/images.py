"""The image store: credential photos, live photos and signatures, re-encoded without metadata and encrypted
at rest (Fernet, AES-128-CBC + HMAC). The database keeps only the key, the hash and the size."""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from PIL import Image
from sqlmodel import Session, select

from capture.intake import WorkingImage, load_image, sanitized_jpeg
from core.files import private_directory, write_private
from registry.models import StoredImage
from registry.states import ImageKind

# Stored copies are big enough for the mesa de control to judge, small enough for cheap phones to upload.
STORED_LONG_SIDE = 2000


@dataclass(frozen=True)
class ImageStore:
    root: Path
    fernet: Fernet

    def put(self, data: bytes) -> str:
        storage_key = secrets.token_hex(16)
        path = self._path(storage_key)
        private_directory(self.root)
        private_directory(path.parent)
        temporary = path.with_suffix(".tmp")
        write_private(temporary, self.fernet.encrypt(data))  # encrypted, and still nobody else's to read
        temporary.replace(path)  # atomic: a crash never leaves half an image under the real name
        return storage_key

    def get(self, storage_key: str) -> bytes:
        return self.fernet.decrypt(self._path(storage_key).read_bytes())

    def _path(self, storage_key: str) -> Path:
        if not storage_key.isalnum():
            raise ValueError("invalid storage key")
        return self.root / storage_key[:2] / f"{storage_key}.enc"


def derive_image_key(secret: str) -> bytes:
    """A Fernet key derived from the app secret, so development needs no extra setting."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"registro image store").derive(secret.encode())
    return base64.urlsafe_b64encode(raw)


def open_image_store(root: Path, *, image_key: str, secret_key: str) -> ImageStore:
    key = image_key.encode() if image_key else derive_image_key(secret_key)
    return ImageStore(root=root, fernet=Fernet(key))


@dataclass(frozen=True)
class CleanImage:
    """An upload decoded and re-encoded for the store (no metadata), not yet stored. Made outside any database
    transaction: decoding a big photo takes long and much memory, and must never hold the database's locks."""

    sha256: str  # of the upload as sent: the same bytes sent twice are stored once
    kind: ImageKind
    jpeg: bytes
    width: int
    height: int


def clean_image(data: bytes, *, kind: ImageKind, max_bytes: int, max_pixels: int) -> CleanImage:
    """Check (capture's intake rules), decode and re-encode an upload. Pure CPU work, no session. Raises
    capture.intake.IntakeError for bad input."""
    working = load_image(data, long_side=STORED_LONG_SIDE, mode="RGBA" if kind is ImageKind.SIGNATURE else "RGB",
                         max_bytes=max_bytes, max_pixels=max_pixels)
    return clean_decoded(working, sha256=hashlib.sha256(data).hexdigest(), kind=kind)


def clean_decoded(working: WorkingImage, *, sha256: str, kind: ImageKind) -> CleanImage:
    """Re-encode pixels already decoded (by the credential reader, say: capture.pipeline.read_back_keeping) for
    the store, so the upload is not decoded a second time."""
    pixels = _on_white(working.image) if kind is ImageKind.SIGNATURE else working.image
    clean = sanitized_jpeg(pixels, max_long_side=STORED_LONG_SIDE)
    width, height = Image.open(io.BytesIO(clean)).size  # header only: the stored copy may be smaller
    return CleanImage(sha256=sha256, kind=kind, jpeg=clean, width=width, height=height)


def store_image(*, session: Session, store: ImageStore, image: CleanImage) -> StoredImage:
    """Store a cleaned upload; the same upload twice gives the same row, so a retried upload never stores a
    second copy."""
    existing = session.exec(select(StoredImage).where(StoredImage.sha256 == image.sha256,
                                                      StoredImage.kind == image.kind)).first()
    if existing is not None:
        return existing
    row = StoredImage(sha256=image.sha256, kind=image.kind, storage_key=store.put(image.jpeg),
                      byte_size=len(image.jpeg), width=image.width, height=image.height)
    session.add(row)
    session.flush()
    return row


def _on_white(image: Image.Image) -> Image.Image:
    """Signature pads draw on a transparent canvas; flattening on black would hide the strokes."""
    background = Image.new("RGB", image.size, "white")
    background.paste(image, mask=image.getchannel("A") if image.mode == "RGBA" else None)
    return background
