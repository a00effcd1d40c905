"""The FAQ document's sentence vectors: computed when the document is built or uploaded, never per cold start.

One row per question variant (both languages) and per answer (both languages), stored beside the document
(``faq_templates.vectors.npz`` in the layer; ``<key>.vectors.npz`` in S3, written by ``make seed-faq``) and
tied to the SHA-256 of the exact document bytes and to the encoder (``understanding.vector_file``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mangaassist.faq.model import LANGUAGES, FaqDocument
from mangaassist.understanding import vector_file
from mangaassist.understanding.vector_file import sha256_of as document_sha256

__all__ = ["FaqVectors", "document_sha256", "embed_document", "read_vectors", "vectors_key"]


def vectors_key(document_key: str) -> str:
    """``faq/faq_templates.json`` -> ``faq/faq_templates.vectors.npz``."""
    stem = document_key[: -len(".json")] if document_key.endswith(".json") else document_key
    return f"{stem}.vectors.npz"


def rows_of(document: FaqDocument) -> tuple[list[str], list[int], list[bool]]:
    """The texts to embed and, per row, its entry number and whether it is an answer."""
    texts, entry_nos, is_answer = [], [], []
    for no, entry in enumerate(document.entries):
        for lang in LANGUAGES:
            for question in entry.questions[lang]:
                texts.append(question)
                entry_nos.append(no)
                is_answer.append(False)
            texts.append(entry.answer[lang])
            entry_nos.append(no)
            is_answer.append(True)
    return texts, entry_nos, is_answer


@dataclass(frozen=True)
class FaqVectors:
    encoder_id: str
    document_sha256: str
    vectors: Any  # float32 (rows, dims), unit rows
    entry_nos: Any  # int32 (rows,)
    is_answer: Any  # bool (rows,)

    def fits(self, raw_sha256: str, encoder_id: str, document: FaqDocument) -> bool:
        _, entry_nos, _ = rows_of(document)
        return (
            self.document_sha256 == raw_sha256
            and self.encoder_id == encoder_id
            and len(self.entry_nos) == len(entry_nos)
        )

    def to_bytes(self) -> bytes:
        return vector_file.dump(
            self.encoder_id, self.document_sha256, self.vectors, entry_nos=self.entry_nos, is_answer=self.is_answer
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> FaqVectors:
        arrays = vector_file.load(data)
        return cls(
            encoder_id=arrays["encoder_id"],
            document_sha256=arrays["source_sha256"],
            vectors=arrays["vectors"],
            entry_nos=arrays["entry_nos"],
            is_answer=arrays["is_answer"],
        )


def embed_document(document: FaqDocument, raw_sha256: str, encoder: Any) -> FaqVectors:
    import numpy as np

    texts, entry_nos, is_answer = rows_of(document)
    return FaqVectors(
        encoder_id=encoder.encoder_id,
        document_sha256=raw_sha256,
        vectors=np.asarray(encoder.encode(texts), dtype=np.float32),
        entry_nos=np.asarray(entry_nos, dtype=np.int32),
        is_answer=np.asarray(is_answer, dtype=np.bool_),
    )


def read_vectors(path: Path) -> FaqVectors | None:
    try:
        return FaqVectors.from_bytes(path.read_bytes())
    except (OSError, ValueError, KeyError):
        return None
