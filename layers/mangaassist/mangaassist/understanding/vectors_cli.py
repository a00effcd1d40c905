"""`make vectors`: recompute the vectors shipped beside the bundled FAQ document and the intent examples.

Run it after editing ``faq/faq_templates.json`` or ``chat/intent_examples.json``; a unit test fails while
either file's vectors are stale (they name the SHA-256 of the bytes they were computed from).
"""

from __future__ import annotations

from mangaassist.chat.intent_classifier import write_example_vectors
from mangaassist.faq.bundled import BUNDLED_VECTORS_PATH, bundled_bytes, bundled_document
from mangaassist.faq.vectors import document_sha256, embed_document
from mangaassist.understanding.encoder import shared_encoder


def main() -> None:
    encoder = shared_encoder()
    vectors = embed_document(bundled_document(), document_sha256(bundled_bytes()), encoder)
    BUNDLED_VECTORS_PATH.write_bytes(vectors.to_bytes())
    print(f"wrote {BUNDLED_VECTORS_PATH.name}: {len(vectors.entry_nos)} rows")
    print(f"wrote {write_example_vectors(encoder).name}")


if __name__ == "__main__":
    main()
