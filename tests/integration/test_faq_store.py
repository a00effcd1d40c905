"""FaqStore against moto in server mode: cold-start load, ETag refresh, S3 down or slow, bad uploads."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import Counter

import pytest

from local.moto_process import free_port
from mangaassist.aws_clients import client
from mangaassist.faq import store as store_module
from mangaassist.faq.bundled import BUNDLED_PATH, bundled_bytes
from mangaassist.faq.store import FaqStore
from scripts import seed_faq

pytestmark = pytest.mark.integration

KEY = "faq/faq_templates.json"
MARKER = "This answer comes from the S3 copy."


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def document_with_marker(marker: str = MARKER) -> bytes:
    """The bundled document with the shipping-fee answer replaced, so the copy served can be told apart."""
    raw = json.loads(bundled_bytes())
    for entry in raw["entries"]:
        if entry["id"] == "shipping-fee":
            entry["answer"]["en"] = marker
    return json.dumps(raw, ensure_ascii=False).encode()


def shipping_fee_answer(store: FaqStore) -> str:
    match = store.index().best("How much is shipping?", "en")
    assert match is not None
    return match.entry.answer.en


@pytest.fixture
def bucket(aws_env, monkeypatch) -> str:
    name = f"faq-{uuid.uuid4().hex[:12]}"
    client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    monkeypatch.setenv("FAQ_BUCKET", name)
    monkeypatch.setenv("FAQ_KEY", KEY)
    return name


@pytest.fixture
def s3_calls() -> Counter:
    """Counts the S3 operations the store's own client (aws_clients.client("s3")) sends; reads of the vectors
    beside the document count apart, as "GetObject:vectors"."""
    calls: Counter = Counter()

    def count(model, params, **_) -> None:
        vectors = model.name == "GetObject" and params.get("url_path", "").endswith(".vectors.npz")
        calls.update([f"{model.name}:vectors" if vectors else model.name])

    client("s3").meta.events.register("before-call.s3", count)
    return calls


def put(bucket: str, body: bytes) -> str:
    return client("s3").put_object(Bucket=bucket, Key=KEY, Body=body)["ETag"]


def s3_unreachable(monkeypatch, endpoint: str) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    client.cache_clear()


@pytest.fixture
def hanging_endpoint():
    """A TCP listener that accepts connections and never answers: S3 as slow as it gets."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


# ----------------------------------------------------------------------------- normal operation


def test_cold_start_loads_the_document_from_s3(bucket, s3_calls):
    etag = put(bucket, document_with_marker())
    store = FaqStore.from_env().load()
    assert store.source == "s3"
    assert store.etag == etag
    assert store.healthy() is True
    assert shipping_fee_answer(store) == MARKER
    assert store.index().best("送料はいくらですか", "ja").entry_id == "shipping-fee"
    assert (s3_calls["GetObject"], s3_calls["GetObject:vectors"]) == (1, 1)  # one new document, one look for vectors
    status = store.status()
    assert (status.source, status.s3_reachable, status.last_error, status.entries) == ("s3", True, None, 139)


def test_changed_object_is_served_after_the_refresh_interval(bucket, s3_calls):
    put(bucket, bundled_bytes())
    clock = Clock()
    store = FaqStore(bucket, KEY, refresh_seconds=60, clock=clock).load()
    first_etag = store.etag
    assert shipping_fee_answer(store) != MARKER

    new_etag = put(bucket, document_with_marker())
    clock.advance(59)
    assert shipping_fee_answer(store) != MARKER  # inside the interval: no look at S3 at all
    assert s3_calls["GetObject"] == 1

    clock.advance(2)
    assert shipping_fee_answer(store) == MARKER
    assert store.etag == new_etag != first_etag
    assert s3_calls["GetObject"] == 2


def test_unchanged_object_is_not_downloaded_or_indexed_again(bucket, s3_calls, monkeypatch):
    put(bucket, bundled_bytes())
    clock = Clock()
    store = FaqStore(bucket, KEY, refresh_seconds=30, clock=clock).load()
    index = store.index()
    sent_etags = []
    client("s3").meta.events.register(
        "before-call.s3.GetObject",
        lambda params, **_: sent_etags.append(params.get("headers", {}).get("If-None-Match")),
    )
    for _ in range(3):
        clock.advance(31)
        assert store.index() is index  # S3 answered 304 Not Modified: same document, same index
    assert sent_etags == [store.etag] * 3
    assert s3_calls["GetObject"] == 4
    assert store.healthy() is True


def test_head_strategy_compares_etags_before_downloading(bucket, s3_calls):
    put(bucket, bundled_bytes())
    clock = Clock()
    store = FaqStore(bucket, KEY, refresh_seconds=10, strategy="head", clock=clock).load()
    index = store.index()
    clock.advance(11)
    assert store.index() is index
    assert (s3_calls["HeadObject"], s3_calls["GetObject"]) == (1, 1)

    put(bucket, document_with_marker())
    clock.advance(11)
    assert shipping_fee_answer(store) == MARKER
    assert (s3_calls["HeadObject"], s3_calls["GetObject"]) == (2, 2)


# ----------------------------------------------------------------------------- S3 down or slow


def test_s3_down_at_cold_start_serves_the_bundled_copy(bucket, monkeypatch):
    put(bucket, document_with_marker())
    s3_unreachable(monkeypatch, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    started = time.monotonic()
    store = FaqStore.from_env().load()
    assert time.monotonic() - started < 3
    assert store.source == "bundled"
    assert store.healthy() is False
    assert shipping_fee_answer(store) != MARKER
    assert store.status().last_error == "s3_unreachable"


def test_s3_that_never_answers_times_out_quickly_to_the_bundled_copy(bucket, monkeypatch, hanging_endpoint):
    put(bucket, document_with_marker())
    s3_unreachable(monkeypatch, hanging_endpoint)
    started = time.monotonic()
    store = FaqStore.from_env().load()
    elapsed = time.monotonic() - started
    assert elapsed < 3, elapsed  # the hot-path client's read timeout, one attempt
    assert store.source == "bundled"
    assert store.healthy() is False
    assert store.index().best("How much is shipping?", "en").entry_id == "shipping-fee"


def test_s3_down_after_a_good_load_keeps_the_last_good_copy(bucket, monkeypatch):
    put(bucket, document_with_marker())
    clock = Clock()
    store = FaqStore(bucket, KEY, refresh_seconds=5, clock=clock).load()
    assert store.source == "s3"

    moto_endpoint = client("s3").meta.endpoint_url
    s3_unreachable(monkeypatch, f"http://127.0.0.1:{free_port()}")
    clock.advance(6)
    assert shipping_fee_answer(store) == MARKER  # the S3 copy, not the bundled one
    assert store.source == "s3"
    assert store.healthy() is False

    s3_unreachable(monkeypatch, moto_endpoint)  # S3 is back
    clock.advance(6)
    assert store.healthy() is True
    assert store.status().last_error is None


def test_bundled_copy_gives_way_to_s3_once_it_is_back(bucket, monkeypatch):
    put(bucket, document_with_marker())
    moto_endpoint = client("s3").meta.endpoint_url
    s3_unreachable(monkeypatch, f"http://127.0.0.1:{free_port()}")
    clock = Clock()
    store = FaqStore(bucket, KEY, refresh_seconds=5, clock=clock).load()
    assert store.source == "bundled"

    s3_unreachable(monkeypatch, moto_endpoint)
    clock.advance(6)
    assert shipping_fee_answer(store) == MARKER
    assert store.source == "s3"
    assert store.healthy() is True


# ----------------------------------------------------------------------------- bad uploads


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"version": "x", "entries": []}',
        json.dumps({"version": "x", "entries": [{"id": "only-an-id"}]}).encode(),
        "送料".encode("shift_jis"),
    ],
)
def test_invalid_document_in_s3_serves_the_bundled_copy(bucket, body):
    put(bucket, body)
    store = FaqStore.from_env().load()
    assert store.source == "bundled"
    assert store.status().last_error == "invalid_document"
    assert store.healthy() is True  # S3 answered; the upload is what is wrong (docs/faq.md)
    assert store.index().best("How much is shipping?", "en").entry_id == "shipping-fee"


def test_invalid_upload_after_a_good_one_keeps_the_last_good_copy(bucket):
    put(bucket, document_with_marker())
    clock = Clock()
    store = FaqStore(bucket, KEY, refresh_seconds=5, clock=clock).load()
    put(bucket, b'{"version": "broken"')
    clock.advance(6)
    assert shipping_fee_answer(store) == MARKER
    assert store.source == "s3"
    assert store.status().last_error == "invalid_document"


def test_oversized_document_is_refused(bucket, monkeypatch):
    put(bucket, document_with_marker())
    monkeypatch.setattr(store_module, "MAX_DOCUMENT_BYTES", 1024)
    store = FaqStore.from_env().load()
    assert store.source == "bundled"
    assert store.status().last_error == "invalid_document"


def test_missing_object_is_unhealthy_and_served_from_the_bundled_copy(bucket):
    store = FaqStore.from_env().load()
    assert store.source == "bundled"
    assert store.healthy() is False
    assert store.status().last_error == "s3_404"


def test_no_bucket_configured_serves_the_bundled_copy(aws_env, monkeypatch):
    monkeypatch.delenv("FAQ_BUCKET", raising=False)
    store = FaqStore.from_env()
    assert store.index() is not None
    assert store.source == "bundled"
    assert store.healthy() is False
    assert store.status().last_error == "not_configured"


# ----------------------------------------------------------------------------- seeding


def test_seed_script_uploads_the_bundled_document(aws_env, monkeypatch, capsys):
    name = f"faq-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("FAQ_BUCKET", name)
    monkeypatch.delenv("FAQ_KEY", raising=False)
    assert seed_faq.main(["--create-bucket"]) == 0
    assert f"s3://{name}/{KEY}" in capsys.readouterr().out
    body = client("s3").get_object(Bucket=name, Key=KEY)["Body"].read()
    assert body == BUNDLED_PATH.read_bytes()
    store = FaqStore.from_env().load()
    assert store.source == "s3"
    assert store.healthy() is True


def test_seeded_vectors_are_used_as_they_are_and_stale_ones_are_embedded_once(bucket, monkeypatch, caplog):
    from mangaassist.faq.hybrid import HybridFaqIndex
    from mangaassist.faq.vectors import FaqVectors, embed_document, vectors_key
    from mangaassist.understanding.encoder import shared_encoder

    embedded: list[int] = []
    real_embed = embed_document

    def counting_embed(*args, **kwargs):
        embedded.append(1)
        return real_embed(*args, **kwargs)

    monkeypatch.setattr("mangaassist.faq.vectors.embed_document", counting_embed)
    seed_faq.seed(bucket, KEY, BUNDLED_PATH)
    stored = FaqVectors.from_bytes(client("s3").get_object(Bucket=bucket, Key=vectors_key(KEY))["Body"].read())
    assert stored.document_sha256 == seed_faq.hashlib.sha256(bundled_bytes()).hexdigest()

    index = FaqStore.from_env(encoder=shared_encoder).load().index()
    assert isinstance(index, HybridFaqIndex)
    assert index.retrieve("ship to Germany?", "en").ranked[0].entry_id == "international-shipping"
    assert embedded == []  # the vectors beside the document fit it: nothing embedded at cold start
    assert "faq_vectors_stale" not in caplog.text

    put(bucket, document_with_marker())  # a new document whose vectors nobody recomputed
    index = FaqStore.from_env(encoder=shared_encoder).load().index()
    # Until the vectors are computed (off the request path), the lexical matcher answers alone.
    assert index.retrieve("How much is shipping?", "en").ranked[0].dense == 0
    assert index.vectors_ready.wait(30)
    for _ in range(3):
        assert index.retrieve("ship to Germany?", "en").ranked[0].dense > 0
        index._cache.clear()
    assert embedded == [1]  # stale: embedded once, with a warning
    assert "faq_vectors_stale" in caplog.text


def test_seed_script_refuses_an_invalid_document(bucket, tmp_path):
    bad = tmp_path / "faq.json"
    bad.write_text('{"version": "x", "entries": []}', encoding="utf-8")
    with pytest.raises(ValueError, match="entries"):
        seed_faq.seed(bucket, KEY, bad)
    assert client("s3").list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_corrupt_vectors_beside_the_document_are_embedded_again_and_the_s3_document_still_serves(bucket, caplog):
    from mangaassist.faq.vectors import vectors_key
    from mangaassist.understanding.encoder import shared_encoder

    put(bucket, document_with_marker())
    client("s3").put_object(Bucket=bucket, Key=vectors_key(KEY), Body=b"PK\x03\x04 not a zip at all")
    store = FaqStore.from_env(encoder=shared_encoder).load()
    assert store.source == "s3"
    assert shipping_fee_answer(store) == MARKER
    assert "faq_vectors_unreadable" in caplog.text
    index = store.index()
    index.retrieve("ship to Germany?", "en")  # the first question starts the embedding off the request path
    assert index.vectors_ready.wait(30)
    assert index.retrieve("Do you ship to Germany?", "en").ranked[0].dense > 0
