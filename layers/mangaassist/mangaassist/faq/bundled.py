"""The copy of the FAQ document shipped inside the layer: the answer of last resort when S3 is not."""

from __future__ import annotations

import functools
from pathlib import Path

from mangaassist.faq.model import FaqDocument

BUNDLED_PATH = Path(__file__).with_name("faq_templates.json")


def bundled_bytes() -> bytes:
    return BUNDLED_PATH.read_bytes()


@functools.cache
def bundled_document() -> FaqDocument:
    return FaqDocument.model_validate_json(bundled_bytes())


BUNDLED_VECTORS_PATH = BUNDLED_PATH.with_name("faq_templates.vectors.npz")
