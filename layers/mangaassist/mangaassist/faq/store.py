"""The FAQ document as the chat reads it: from S3 at cold start, refreshed by ETag, bundled copy as fallback.

Never raises: whatever S3 does (down, slow, 403/404, an invalid upload), the caller gets an index to
match against, from the last good S3 copy or else from the copy bundled in the layer, and `source`
says which one it is. `healthy()` is the /health check: did the last look at S3 find the document?
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from mangaassist.faq.bundled import BUNDLED_VECTORS_PATH, bundled_bytes, bundled_document
from mangaassist.faq.hybrid import HybridFaqIndex, HybridSettings
from mangaassist.faq.matcher import FaqIndex, MatcherSettings
from mangaassist.faq.model import FaqDocument
from mangaassist.faq.vectors import FaqVectors, document_sha256, read_vectors, vectors_key
from mangaassist.observability import logger

Source = Literal["s3", "bundled"]
RefreshStrategy = Literal["conditional-get", "head"]

DEFAULT_KEY = "faq/faq_templates.json"
DEFAULT_REFRESH_SECONDS = 60.0
# A document this large is not the FAQ (244 KB today): refuse it rather than parse it on the hot path.
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class FaqStatus:
    source: Source
    etag: str | None  # ETag of the S3 copy in use, None for the bundled copy
    entries: int
    s3_reachable: bool  # the last look at S3 found the document (200 or 304)
    last_error: str | None  # why the last look at S3 did not give a usable document, if it did not
    checked_at: float | None  # time.time() of the last look at S3
    version: str  # the document's own version field


class _NotModifiedError(Exception):
    """S3 answered 304: the copy we hold is current."""


class FaqStore:
    """Loads, caches and refreshes the FAQ document and the index built from it."""

    def __init__(
        self,
        bucket: str | None,
        key: str = DEFAULT_KEY,
        *,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        strategy: RefreshStrategy = "conditional-get",
        s3_client: Callable[[], Any] | None = None,
        settings: MatcherSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        encoder: Callable[[], Any] | None = None,
        hybrid: HybridSettings | None = None,
    ):
        self.bucket = bucket or None
        self.key = key or DEFAULT_KEY
        self.refresh_seconds = max(0.0, refresh_seconds)
        self.strategy = strategy
        self._s3_client = s3_client or _default_s3_client
        self._settings = settings
        self._encoder = encoder
        self._hybrid = hybrid
        self._clock = clock
        self._lock = threading.Lock()
        self._document: FaqDocument | None = None
        self._index: HybridFaqIndex | None = None
        self._source: Source = "bundled"
        self._etag: str | None = None
        self._reachable = False
        self._last_error: str | None = None
        self._checked_at: float | None = None  # wall clock, for status reports
        self._next_check: float | None = None  # monotonic: no look at S3 before this

    @classmethod
    def from_env(cls, encoder: Callable[[], Any] | None = None) -> FaqStore:
        """FAQ_BUCKET, FAQ_KEY, FAQ_REFRESH_SECONDS; the endpoint comes from AWS_ENDPOINT_URL[_S3] as everywhere."""
        try:
            refresh = float(os.getenv("FAQ_REFRESH_SECONDS", DEFAULT_REFRESH_SECONDS))
        except ValueError:
            refresh = DEFAULT_REFRESH_SECONDS
        strategy = os.getenv("FAQ_REFRESH_STRATEGY", "conditional-get")
        return cls(
            os.getenv("FAQ_BUCKET"),
            os.getenv("FAQ_KEY") or DEFAULT_KEY,
            refresh_seconds=refresh,
            strategy="head" if strategy == "head" else "conditional-get",
            encoder=encoder,
        )

    # ------------------------------------------------------------ what callers use

    def index(self) -> HybridFaqIndex | None:
        """The index to match against, refreshed when due. None only if not even the bundled copy loads."""
        self.refresh()
        return self._index

    def document(self) -> FaqDocument | None:
        self.refresh()
        return self._document

    @property
    def source(self) -> Source:
        return self._source

    @property
    def etag(self) -> str | None:
        return self._etag

    def healthy(self) -> bool:
        """Readiness: the last look at S3 (at most `refresh_seconds` old) found the FAQ document."""
        self.refresh()
        return self._reachable

    def status(self) -> FaqStatus:
        self.refresh()
        document = self._document
        return FaqStatus(
            source=self._source,
            etag=self._etag,
            entries=len(document.entries) if document else 0,
            s3_reachable=self._reachable,
            last_error=self._last_error,
            checked_at=self._checked_at,
            version=document.version if document else "",
        )

    def load(self) -> FaqStore:
        """Cold start: read S3 now (or fall back) instead of on the first question."""
        self.refresh(force=True)
        return self

    def refresh(self, force: bool = False) -> bool:
        """Look at S3 if due (or forced); True when the document in use changed. Never raises."""
        now = self._clock()
        if not force and self._next_check is not None and now < self._next_check:
            return False
        with self._lock:
            if not force and self._next_check is not None and self._clock() < self._next_check:
                return False  # another thread looked while this one waited
            try:
                return self._refresh_locked()
            except Exception:  # a bug here must not take the FAQ down: keep what we have, or the bundled copy
                logger.exception("faq_refresh_failed")
                self._reachable = False
                self._last_error = "internal_error"
                if self._index is None:
                    self._use_bundled()
                return False
            finally:
                self._next_check = self._clock() + self.refresh_seconds

    # ------------------------------------------------------------ internals

    def _refresh_locked(self) -> bool:
        self._checked_at = time.time()
        if not self.bucket:
            self._reachable = False
            self._last_error = "not_configured"
            return self._use_bundled() if self._index is None else False
        try:
            etag, raw = self._fetch()
        except _NotModifiedError:
            self._reachable = True
            self._last_error = None
            return False
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "ClientError")
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return self._unavailable(f"s3_{status or code}", code=code)
        except (BotoCoreError, OSError) as err:  # unreachable, timed out, connection reset
            return self._unavailable("s3_unreachable", code=type(err).__name__)
        self._reachable = True
        if etag is not None and etag == self._etag and self._source == "s3":
            self._last_error = None
            return False  # a server that ignored If-None-Match, or a HEAD that found the same ETag
        if raw is None:  # HEAD strategy: the ETag moved, read the body now
            try:
                etag, raw = self._get(None)
            except _NotModifiedError:
                return False
            except (ClientError, BotoCoreError, OSError) as err:
                return self._unavailable("s3_unreachable", code=type(err).__name__)
        try:
            document = _parse(raw)
        except ValueError as err:
            # The object is there but unusable: keep serving the last good copy, or the bundled one.
            logger.error(
                "faq_document_invalid",
                extra={"bucket": self.bucket, "key": self.key, "etag": etag, "error": str(err)[:500]},
            )
            self._last_error = "invalid_document"
            return self._use_bundled() if self._source != "s3" or self._index is None else False
        self._install(document, "s3", etag, document_sha256(raw), self._s3_vectors())
        self._last_error = None
        logger.info(
            "faq_document_loaded",
            extra={"source": "s3", "etag": etag, "entries": len(document.entries), "version": document.version},
        )
        return True

    def _fetch(self) -> tuple[str | None, bytes | None]:
        if self.strategy == "head" and self._etag is not None:
            head = self._client().head_object(Bucket=self.bucket, Key=self.key)
            etag = head.get("ETag")
            if etag == self._etag:
                raise _NotModifiedError
            return etag, None
        return self._get(self._etag if self._source == "s3" else None)

    def _get(self, if_none_match: str | None) -> tuple[str | None, bytes]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key}
        if if_none_match:
            kwargs["IfNoneMatch"] = if_none_match
        try:
            response = self._client().get_object(**kwargs)
        except ClientError as err:
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 304 or err.response.get("Error", {}).get("Code") in ("304", "NotModified"):
                raise _NotModifiedError from None
            raise
        length = response.get("ContentLength") or 0
        if length > MAX_DOCUMENT_BYTES:
            response["Body"].close()
            return response.get("ETag"), b""  # parses as invalid: refused like any other bad upload
        return response.get("ETag"), response["Body"].read(MAX_DOCUMENT_BYTES + 1)

    def _client(self):
        return self._s3_client()

    def _unavailable(self, reason: str, code: str) -> bool:
        self._reachable = False
        self._last_error = reason
        logger.warning(
            "faq_store_unavailable",
            extra={"bucket": self.bucket, "key": self.key, "reason": reason, "code": code, "serving": self._source},
        )
        # The last good S3 copy stays in use; without one, the bundled copy answers.
        return self._use_bundled() if self._index is None else False

    def _use_bundled(self) -> bool:
        if self._source == "bundled" and self._index is not None:
            return False
        self._install(bundled_document(), "bundled", None, document_sha256(bundled_bytes()), _bundled_vectors())
        logger.info("faq_document_loaded", extra={"source": "bundled", "entries": len(self._document.entries)})
        return True

    def _s3_vectors(self) -> FaqVectors | None:
        """The vectors `make seed-faq` wrote beside the document; None (embedded later, once) if unreadable."""
        key = vectors_key(self.key)
        try:
            response = self._client().get_object(Bucket=self.bucket, Key=key)
            return FaqVectors.from_bytes(response["Body"].read(MAX_DOCUMENT_BYTES * 4))
        except Exception as err:  # missing, unreachable or corrupt (a bad zip): each means "embed it later"
            logger.warning("faq_vectors_unreadable", extra={"key": key, "code": type(err).__name__})
            return None

    def _install(
        self, document: FaqDocument, source: Source, etag: str | None, raw_sha256: str, vectors: FaqVectors | None
    ) -> None:
        if vectors is not None and not (self._encoder and vectors.fits(raw_sha256, _encoder_id(), document)):
            vectors = None  # another document's or another encoder's: re-embedded on first use
        self._index = HybridFaqIndex(
            FaqIndex.build(document, self._settings), vectors, self._encoder, self._hybrid, document_sha256=raw_sha256
        )
        self._document = document
        self._source = source
        self._etag = etag


def _parse(raw: bytes) -> FaqDocument:
    if not raw or len(raw) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"document size {len(raw)} bytes outside 1..{MAX_DOCUMENT_BYTES}")
    try:
        return FaqDocument.model_validate_json(raw)
    except ValidationError as err:
        raise ValueError(f"{err.error_count()} validation errors: {err.errors()[0].get('msg', '')}") from None


def _bundled_vectors() -> FaqVectors | None:
    return read_vectors(BUNDLED_VECTORS_PATH)


def _encoder_id() -> str:
    from mangaassist.understanding.encoder_pack import ENCODER_ID

    return ENCODER_ID


def _default_s3_client():
    from mangaassist.aws_clients import client

    return client("s3")
