"""Vectors computed ahead of time from one source file, stored beside it as ``.npz``.

Each file names the encoder and the SHA-256 of the exact source bytes: vectors of another source or
another encoder are stale, and whoever finds them stale re-embeds once and says so in a warning.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any


def sha256_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def dump(encoder_id: str, source_sha256: str, vectors: Any, **columns: Any) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        encoder_id=np.array(encoder_id),
        source_sha256=np.array(source_sha256),
        vectors=np.asarray(vectors).astype(np.float16),  # half the bytes; cosines move by < 0.001
        **{name: np.asarray(value) for name, value in columns.items()},
    )
    return buffer.getvalue()


def load(data: bytes) -> dict[str, Any]:
    """The arrays by name; ``vectors`` as float32, ``encoder_id`` and ``source_sha256`` as str."""
    import numpy as np

    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {name: z[name] for name in z.files}
    arrays["vectors"] = arrays["vectors"].astype(np.float32)
    arrays["encoder_id"] = str(arrays["encoder_id"])
    arrays["source_sha256"] = str(arrays["source_sha256"])
    return arrays
