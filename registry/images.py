"""The image store: credential photos, live photos and signatures without metadata (a plain phone JPEG kept as
sent minus its metadata segments, a drawn signature's plain PNG minus its ancillary chunks, anything else
re-encoded from its pixels) and encrypted at rest (Fernet,
AES-128-CBC + HMAC) on the local disk or, encrypted the same way, in an S3-compatible bucket (registry/s3_images.py).
The database keeps only the key, the hash and the size.

ICC profiles go with the rest of the metadata, as they always did in the re-encoded copies: the stored photo is
evidence (is it the person, is it a photocopy), which a phone's wider colour space does not change, while a
profile can name the maker and model of the phone and weighs up to tens of kilobytes."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from PIL import Image
from sqlmodel import Session, col, select

from capture.intake import IntakeError, WorkingImage, load_image, open_checked, sanitized_jpeg
from capture.jpeg_complete import Completeness, completeness
from capture.jpeg_strip import StrippedJpeg, Truncated, strip_metadata
from capture.png_strip import SIGNATURE as PNG_SIGNATURE
from capture.png_strip import Truncated as PngTruncated
from capture.png_strip import strip_png
from capture.result import Reason
from core.files import private_directory, write_private
from registry.models import StoredImage
from registry.states import ImageKind

if TYPE_CHECKING:
    from core.settings import Settings

# Stored copies are big enough for the mesa de control to judge, small enough for cheap phones to upload.
STORED_LONG_SIDE = 2000
# A JPEG kept as sent may take this much per pixel (a phone's 0.85-0.92 quality takes 0.1-0.4); a heavier one is
# re-encoded (quality 85, about 0.2), so an upload at quality 100 does not triple what the store keeps.
KEPT_MAX_BYTES_PER_PIXEL = 0.5
# Uploads decoded in full at once per process (PNG, WebP, big or odd JPEGs): a 50-megapixel PNG holds about
# 200 MB while it is decoded, so this keeps the bound the photo gate gave before clean JPEGs stopped being decoded.
# More wait here, in their worker thread, for a turn of a fraction of a second.
FULL_DECODES_AT_ONCE = 4
_full_decodes = threading.BoundedSemaphore(FULL_DECODES_AT_ONCE)


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
    """An upload cleaned for the store (no metadata), not yet stored. Made outside any database transaction:
    decoding a big photo takes long and much memory, and must never hold the database's locks."""

    sha256: str  # of the upload as sent: the same bytes sent twice are stored once
    kind: ImageKind
    jpeg: bytes  # the bytes to store: a JPEG, or a signature's PNG kept as sent (`content_type`)
    width: int
    height: int
    content_type: str = "image/jpeg"


def clean_image(data: bytes, *, kind: ImageKind, max_bytes: int, max_pixels: int) -> CleanImage:
    """Check (capture's intake rules) and clean an upload for the store: a plain JPEG already upright and no
    bigger than the stored size is kept as sent without its metadata (`kept_as_sent`), as is a signature's plain
    PNG (`kept_signature`); anything else is decoded and re-encoded. Pure CPU work, no session. Raises
    capture.intake.IntakeError for bad input."""
    sha256 = hashlib.sha256(data).hexdigest()
    kept = None
    if kind is ImageKind.SIGNATURE:
        kept = kept_signature(data, sha256=sha256, max_bytes=max_bytes, max_pixels=max_pixels)
    kept = kept or kept_as_sent(data, sha256=sha256, kind=kind, max_bytes=max_bytes, max_pixels=max_pixels)
    if kept is not None:
        return kept
    with _full_decodes:
        working = load_image(data, long_side=STORED_LONG_SIDE,
                             mode="RGBA" if kind is ImageKind.SIGNATURE else "RGB",
                             max_bytes=max_bytes, max_pixels=max_pixels)
        return clean_decoded(working, sha256=sha256, kind=kind)


def kept_as_sent(data: bytes, *, sha256: str, kind: ImageKind, max_bytes: int,
                 max_pixels: int) -> CleanImage | None:
    """The upload's own compressed pixels without any metadata (capture/jpeg_strip.py), once every scan is known
    to be there and to read to its end (capture/jpeg_complete.py: a cut-off file is refused); None when it must be
    re-encoded (`_plain_jpeg`, or a stream libjpeg finds damaged: the full decode judges it). Raises IntakeError
    like `load_image`."""
    stripped = _plain_jpeg(data, open_checked(data, max_bytes=max_bytes, max_pixels=max_pixels))
    if stripped is None:
        return None
    verdict = completeness(stripped)
    if verdict is Completeness.CUT_OFF:
        raise IntakeError(Reason.IMAGE_TRUNCATED)
    if verdict is Completeness.DAMAGED:
        return None
    return _kept(stripped, sha256=sha256, kind=kind)


def kept_signature(data: bytes, *, sha256: str, max_bytes: int, max_pixels: int) -> CleanImage | None:
    """A drawn signature's PNG kept as sent without its ancillary chunks, once it is known whole
    (capture/png_strip.py); None for anything else, which is decoded and re-encoded as before. Its transparent
    background is flattened on white when it is shown (`viewable`), not here: most signatures are never looked at.
    Raises IntakeError like `load_image` (the same limits, from the header)."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    open_checked(data, max_bytes=max_bytes, max_pixels=max_pixels)
    try:
        stripped = strip_png(data, max_side=STORED_LONG_SIDE)
    except PngTruncated as error:
        raise IntakeError(Reason.IMAGE_TRUNCATED) from error
    if stripped is None:
        return None
    return CleanImage(sha256=sha256, kind=ImageKind.SIGNATURE, jpeg=stripped.data, width=stripped.width,
                      height=stripped.height, content_type="image/png")


def viewable(content_type: str, data: bytes) -> tuple[str, bytes]:
    """The stored image as it is shown: a PNG kept as sent is flattened on white first, since a browser shows an
    image opened on its own over a dark background, where black strokes on a transparent canvas would vanish."""
    if content_type != "image/png":
        return content_type, data
    with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
        image.load()
        flat = _on_white(image.convert("RGBA"))
    out = io.BytesIO()
    flat.save(out, "PNG", compress_level=1)
    return "image/png", out.getvalue()


def _plain_jpeg(data: bytes, image: Image.Image) -> StrippedJpeg | None:
    """The upload without metadata, or None when it is to be re-encoded: not a plain JPEG, bigger than the stored
    size, too heavy, or turned by its EXIF/XMP orientation (stored upright, so that no viewer, export or tool has
    to know about orientation). Raises IntakeError (IMAGE_TRUNCATED)."""
    width, height = image.size
    if image.format != "JPEG" or max(width, height) > STORED_LONG_SIDE or _turned(image):
        return None
    try:
        stripped = strip_metadata(data)
    except Truncated as error:
        raise IntakeError(Reason.IMAGE_TRUNCATED) from error
    if stripped is None or len(stripped.data) > KEPT_MAX_BYTES_PER_PIXEL * width * height:
        return None
    return stripped


def _kept(stripped: StrippedJpeg, *, sha256: str, kind: ImageKind) -> CleanImage:
    return CleanImage(sha256=sha256, kind=kind, jpeg=stripped.data, width=stripped.width, height=stripped.height)


def _turned(image: Image.Image) -> bool:
    """Whether the orientation Pillow reads (EXIF, else XMP) would turn or flip the pixels (2-8)."""
    try:
        return image.getexif().get(0x0112, 1) in range(2, 9)
    except Exception:  # a broken EXIF block: let the full decode judge the file
        return True


def clean_decoded(working: WorkingImage, *, sha256: str, kind: ImageKind,
                  original: bytes | None = None) -> CleanImage:
    """Re-encode pixels already decoded (by the credential reader, say: capture.pipeline.read_back_keeping) for
    the store, so the upload is not decoded a second time. With `original`, the upload those pixels were decoded
    from, a plain upright JPEG is kept as sent instead (that decode has just read its every scan)."""
    stripped = _plain_original(original) if original is not None else None
    if stripped is not None:
        return _kept(stripped, sha256=sha256, kind=kind)
    pixels = _on_white(working.image) if kind is ImageKind.SIGNATURE else working.image
    clean = sanitized_jpeg(pixels, max_long_side=STORED_LONG_SIDE)
    width, height = Image.open(io.BytesIO(clean)).size  # header only: the stored copy may be smaller
    return CleanImage(sha256=sha256, kind=kind, jpeg=clean, width=width, height=height)


def _plain_original(data: bytes) -> StrippedJpeg | None:
    try:
        return _plain_jpeg(data, Image.open(io.BytesIO(data), formats=["JPEG"]))
    except Exception:  # the decode that made the pixels accepted it: re-encoding those is always safe
        return None


def store_image(*, session: Session, store: ImageStore, image: CleanImage) -> StoredImage:
    """Store a cleaned upload; the same upload twice gives the same row, so a retried upload never stores a
    second copy."""
    existing = session.exec(select(StoredImage).where(StoredImage.sha256 == image.sha256,
                                                      StoredImage.kind == image.kind)).first()
    if existing is not None:
        return existing
    row = StoredImage(sha256=image.sha256, kind=image.kind, storage_key=store.put(image.jpeg),
                      content_type=image.content_type, byte_size=len(image.jpeg), width=image.width,
                      height=image.height)
    session.add(row)
    session.flush()
    return row


# session.info: the images a batch of captures may find already stored, looked up once for all of them
# (`already_stored`) and completed as they are stored (registry.field).
KNOWN_IMAGES = "registro_known_images"


def already_stored(session: Session, sha256s: Iterable[str]) -> dict[tuple[str, ImageKind], StoredImage]:
    """The stored images of these uploads by (sha256, kind), in one query: the first stored of each, as
    `store_image` finds it."""
    found: dict[tuple[str, ImageKind], StoredImage] = {}
    query = select(StoredImage).where(col(StoredImage.sha256).in_(set(sha256s)))
    for stored in session.exec(query.order_by(col(StoredImage.id))):
        found.setdefault((stored.sha256, stored.kind), stored)
    return found


def store_images(*, session: Session, store: ImageStore,
                 images: Mapping[ImageKind, CleanImage]) -> dict[ImageKind, StoredImage]:
    """`store_image` for several uploads at once (a field capture's four): one look-up of those already stored
    (none when the caller looked them up for a whole batch: `KNOWN_IMAGES`) and one insert of the others, instead
    of a look-up and an insert each."""
    if not images:
        return {}
    found = session.info.get(KNOWN_IMAGES)
    if found is None:
        found = already_stored(session, (image.sha256 for image in images.values()))
    rows: dict[ImageKind, StoredImage] = {}
    new: list[StoredImage] = []
    for kind, image in images.items():
        row = found.get((image.sha256, image.kind))
        if row is None:
            row = StoredImage(sha256=image.sha256, kind=image.kind, storage_key=store.put(image.jpeg),
                              content_type=image.content_type, byte_size=len(image.jpeg), width=image.width,
                              height=image.height)
            found[(image.sha256, image.kind)] = row
            new.append(row)
        rows[kind] = row
    session.add_all(new)
    session.flush()  # one INSERT ... RETURNING for all of them (SQLAlchemy's insertmanyvalues)
    return rows


def _on_white(image: Image.Image) -> Image.Image:
    """Signature pads draw on a transparent canvas; flattening on black would hide the strokes."""
    background = Image.new("RGB", image.size, "white")
    background.paste(image, mask=image.getchannel("A") if image.mode == "RGBA" else None)
    return background
