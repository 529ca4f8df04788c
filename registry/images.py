"""The image store: credential photos, live photos and signatures, re-encoded without metadata and encrypted
at rest (Fernet, AES-128-CBC + HMAC) on the local disk or, encrypted the same way, in an S3-compatible bucket
(registry/s3_images.py). The database keeps only the key, the hash and the size."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from PIL import Image
from sqlmodel import Session, select

from capture.intake import WorkingImage, load_image, sanitized_jpeg
from core.files import private_directory, write_private
from registry.models import StoredImage
from registry.states import ImageKind

if TYPE_CHECKING:
    from core.settings import Settings

# Stored copies are big enough for the mesa de control to judge, small enough for cheap phones to upload.
STORED_LONG_SIDE = 2000


class ImageNotFound(LookupError):
    """No image under this key: never stored, or deleted since."""


class ImageStoreUnavailable(Exception):
    """The store could not be reached or refused the request, so nothing was stored or read: the caller's
    transaction rolls back and the web layer answers 503 with Retry-After (web/errors.py), never a 500."""


class ImageStore(Protocol):
    """Where encrypted images live: files on the local disk (`LocalImageStore`) or an S3-compatible bucket
    (registry/s3_images.py). Every backend encrypts before anything leaves the app and names objects with random
    keys, never with anything about the person."""

    def put(self, data: bytes) -> str:
        """Store `data` under a new random key and return it. Raises ImageStoreUnavailable."""
        ...

    def get(self, storage_key: str) -> bytes:
        """The decrypted image. Raises ImageNotFound, ImageStoreUnavailable."""
        ...

    def delete(self, storage_key: str) -> None:
        """Remove the image; a key already gone is not an error (retention may run twice)."""
        ...

    def ready(self) -> bool:
        """Whether the store answers now (for /readyz); never raises."""
        ...


def new_storage_key() -> str:
    return secrets.token_hex(16)  # random: no personal data (name, clave, folio) in any file or object name


def storage_path(storage_key: str) -> str:
    """`ab/ab12….enc`: the same layout on disk and in a bucket. Refuses anything but a plain key, so a key read
    back from the database can never point outside the store."""
    if not storage_key.isalnum() or not storage_key.isascii():
        raise ValueError("invalid storage key")
    return f"{storage_key[:2]}/{storage_key}.enc"


@dataclass(frozen=True)
class LocalImageStore:
    root: Path
    fernet: Fernet

    def put(self, data: bytes) -> str:
        storage_key = new_storage_key()
        path = self._path(storage_key)
        try:
            private_directory(self.root)
            private_directory(path.parent)
            temporary = path.with_suffix(".tmp")
            write_private(temporary, self.fernet.encrypt(data))  # encrypted, and still nobody else's to read
            temporary.replace(path)  # atomic: a crash never leaves half an image under the real name
        except OSError as error:  # disk full, read-only mount: try again later, like a bucket that is down
            raise ImageStoreUnavailable(type(error).__name__) from error
        return storage_key

    def get(self, storage_key: str) -> bytes:
        return self.fernet.decrypt(self.sealed(storage_key))

    def sealed(self, storage_key: str) -> bytes:
        """The file's bytes as kept (encrypted), for a copy to another backend. Raises ImageNotFound."""
        try:
            return self._path(storage_key).read_bytes()
        except FileNotFoundError as error:
            raise ImageNotFound(storage_key) from error
        except OSError as error:
            raise ImageStoreUnavailable(type(error).__name__) from error

    def delete(self, storage_key: str) -> None:
        try:
            self._path(storage_key).unlink(missing_ok=True)
        except OSError as error:
            raise ImageStoreUnavailable(type(error).__name__) from error

    def ready(self) -> bool:
        try:
            private_directory(self.root)
        except OSError:
            return False
        return os.access(self.root, os.W_OK | os.X_OK)

    def _path(self, storage_key: str) -> Path:
        return self.root / storage_path(storage_key)


def derive_image_key(secret: str) -> bytes:
    """A Fernet key derived from the app secret, so development needs no extra setting."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"registro image store").derive(secret.encode())
    return base64.urlsafe_b64encode(raw)


def image_fernet(*, image_key: str, secret_key: str) -> Fernet:
    """The one encryption of every backend: a bucket holds exactly what the disk would."""
    return Fernet(image_key.encode() if image_key else derive_image_key(secret_key))


def open_image_store(root: Path, *, image_key: str, secret_key: str) -> LocalImageStore:
    return LocalImageStore(root=root, fernet=image_fernet(image_key=image_key, secret_key=secret_key))


def image_store_from_settings(settings: Settings) -> ImageStore:
    """The backend REGISTRO_IMAGE_STORE names: `local` (files under the data dir) or `s3`."""
    if settings.image_store == "s3":
        # Imported here so a local deployment never loads the object-store client.
        from registry.s3_images import open_s3_image_store

        return open_s3_image_store(settings)
    return open_image_store(settings.images_dir, image_key=settings.image_key, secret_key=settings.secret_key)


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
