"""Uploads the FAQ document bundled in the layer to FAQ_BUCKET/FAQ_KEY (`make seed-faq`), and its vectors.

The document is validated first, so a broken file never reaches the bucket the chat reads. Its sentence
vectors are computed here, once per upload, and written beside it (`<key>.vectors.npz`, tied to the exact
document bytes and the encoder), so no cold start ever embeds the FAQ. The S3
endpoint comes from AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 like every other client (moto locally).

    FAQ_BUCKET=... [FAQ_KEY=faq/faq_templates.json] python scripts/seed_faq.py [--file PATH] [--create-bucket]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "layers" / "mangaassist"))

from mangaassist.faq.bundled import BUNDLED_PATH, BUNDLED_VECTORS_PATH  # noqa: E402
from mangaassist.faq.model import FaqDocument  # noqa: E402
from mangaassist.faq.store import DEFAULT_KEY  # noqa: E402
from mangaassist.faq.vectors import FaqVectors, embed_document, read_vectors, vectors_key  # noqa: E402


def s3_client():
    import boto3
    from botocore.config import Config

    region = os.getenv("AWS_REGION") or os.getenv("AWS_DEFAULT_REGION") or "ap-northeast-1"
    return boto3.session.Session().client(
        "s3", region_name=region, config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3})
    )


def document_vectors(raw: bytes, document: FaqDocument, path: Path) -> FaqVectors:
    """The bundled copy's own vectors when they fit these bytes; otherwise embedded now (a few seconds)."""
    from mangaassist.understanding.encoder import shared_encoder

    sha = hashlib.sha256(raw).hexdigest()
    encoder = shared_encoder()
    if path.resolve() == BUNDLED_PATH.resolve():
        bundled = read_vectors(BUNDLED_VECTORS_PATH)
        if bundled is not None and bundled.fits(sha, encoder.encoder_id, document):
            return bundled
    return embed_document(document, sha, encoder)


def seed(bucket: str, key: str, path: Path, create_bucket: bool = False, client=None) -> dict:
    raw = path.read_bytes()
    document = FaqDocument.model_validate_json(raw)  # raises: nothing invalid is uploaded
    vectors = document_vectors(raw, document, path)
    s3 = client or s3_client()
    if create_bucket:
        try:
            s3.head_bucket(Bucket=bucket)
        except s3.exceptions.ClientError:
            region = s3.meta.region_name
            extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=bucket, **extra)
    response = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=raw,
        ContentType="application/json; charset=utf-8",
        Metadata={"faq-version": document.version, "entries": str(len(document.entries))},
    )
    # Written after the document: a reader that sees the new document before its vectors finds them stale
    # and embeds once, which is slower but never wrong; the reverse order could pair new vectors with old text.
    s3.put_object(
        Bucket=bucket,
        Key=vectors_key(key),
        Body=vectors.to_bytes(),
        ContentType="application/octet-stream",
        Metadata={"document-sha256": vectors.document_sha256, "encoder": vectors.encoder_id},
    )
    return {
        "bucket": bucket,
        "key": key,
        "etag": response.get("ETag"),
        "version_id": response.get("VersionId"),
        "entries": len(document.entries),
        "version": document.version,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "vectors_key": vectors_key(key),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Upload the FAQ document to FAQ_BUCKET/FAQ_KEY.")
    parser.add_argument("--bucket", default=os.getenv("FAQ_BUCKET"), help="default: $FAQ_BUCKET")
    parser.add_argument(
        "--key", default=os.getenv("FAQ_KEY") or DEFAULT_KEY, help=f"default: $FAQ_KEY or {DEFAULT_KEY}"
    )
    parser.add_argument("--file", type=Path, default=BUNDLED_PATH, help="default: the copy bundled in the layer")
    parser.add_argument("--create-bucket", action="store_true", help="create the bucket if missing (local stack)")
    args = parser.parse_args(argv)
    if not args.bucket:
        parser.error("no bucket: set FAQ_BUCKET or pass --bucket")
    result = seed(args.bucket, args.key, args.file, args.create_bucket)
    print(
        f"uploaded {result['entries']} FAQ entries (version {result['version']}) "
        f"to s3://{result['bucket']}/{result['key']} etag {result['etag']}, vectors at {result['vectors_key']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
