"""`registro images copy-to-s3`: fill the S3 bucket of the REGISTRO_S3_* settings with the images kept on the local
disk (registry/image_copy.py), before and after switching REGISTRO_IMAGE_STORE to s3."""

from __future__ import annotations

import click

from core.db import make_engine, session_scope
from core.settings import Settings
from registry.image_copy import CopySummary, copy_next_batch
from registry.images import ImageStoreUnavailable, open_image_store
from registry.s3_images import open_s3_image_store


@click.group()
def images() -> None:
    """The image store."""


@images.command("copy-to-s3")
@click.pass_obj
def copy_to_s3(settings: Settings) -> None:
    """Copy every image from the data dir to the S3 bucket under the same key, checking each; images already in
    the bucket are skipped, so run it again after switching REGISTRO_IMAGE_STORE=s3 and restarting."""
    if not settings.s3_bucket:
        raise click.ClickException("set REGISTRO_S3_BUCKET (and the other REGISTRO_S3_ settings) first")
    source = open_image_store(settings.images_dir, image_key=settings.image_key, secret_key=settings.secret_key)
    target = open_s3_image_store(settings)
    if not target.ready():
        raise click.ClickException("the S3 bucket cannot be reached: check REGISTRO_S3_ENDPOINT_URL, "
                                   "REGISTRO_S3_BUCKET and the credentials")
    engine = make_engine(settings.resolved_database_url)
    summary = CopySummary()
    after: int | None = 0
    try:
        while after is not None:
            with session_scope(engine, read_only=True) as session:
                after = copy_next_batch(session=session, source=source, target=target, after=after, summary=summary)
    except ImageStoreUnavailable as error:  # what was copied stays; the next run goes on from there
        raise click.ClickException(f"stopped, the store failed ({error}); run the command again") from None
    finally:
        engine.dispose()
    click.echo(f"copied {summary.copied}, already in the bucket {summary.already_there}, "
               f"missing on disk {len(summary.missing)}")
    if summary.missing:  # ids only: which rows name a file that is gone (nothing personal)
        raise click.ClickException("images whose file is missing (StoredImage ids): "
                                   + ", ".join(str(image_id) for image_id in summary.missing[:50]))
