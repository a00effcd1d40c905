"""Which language a customer wrote in, from the scripts the text uses."""

from __future__ import annotations

import pytest

from mangaassist.language import detect_language


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("送料はいくらですか？", "ja"),
        ("ｿｳﾘｮｳ ｲｸﾗ", "ja"),  # half-width katakana, NFKC-normalised first
        ("PayPay使えないの？", "ja"),  # one Latin word inside a Japanese sentence
        ("アプリってAndroidタブレットでも使える？", "ja"),
        ("How much is shipping?", "en"),
        ("Do you have 鬼滅の刃 volume 3 in stock?", "en"),  # a Japanese title inside an English sentence
        ("what is ワンピース", "en"),
        ("ＨＯＷ ＭＵＣＨ", "en"),  # full-width Latin
    ],
)
def test_detects_the_language_written_in(text, lang):
    assert detect_language(text) == lang


@pytest.mark.parametrize("text", ["", "   ", "？？", "123", "😀"])
def test_text_without_letters_falls_back_to_the_default(text):
    assert detect_language(text) == "ja"
    assert detect_language(text, default="en") == "en"
