"""`make size`: every function of template.yaml measured with the layers it deploys with."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.template_resources import resources_of_type
from scripts.size_report import UNZIPPED_LIMIT, function_sizes, main, measure, report


def fake_build(root: Path, layer_bytes: int, encoder_bytes: int = 0) -> None:
    for function in resources_of_type("AWS::Serverless::Function"):
        (root / function).mkdir(parents=True)
        (root / function / "app.py").write_text("def lambda_handler(event, context):\n    return {}\n")
    for name, size in (("MangaAssistLayer", layer_bytes), ("EncoderLayer", encoder_bytes)):
        layer = root / name / "python" / "pkg"
        layer.mkdir(parents=True)
        (layer / "big.bin").write_bytes(b"\0" * size)


def test_each_function_counts_its_code_and_its_own_layers(tmp_path):
    fake_build(tmp_path, 1000, encoder_bytes=5000)
    sizes = {size.function: size for size in function_sizes(tmp_path)}
    assert set(sizes) == set(resources_of_type("AWS::Serverless::Function"))
    for size in sizes.values():
        # Only the chat understands messages: only the chat carries numpy and the encoder.
        expected = ["MangaAssistLayer", "EncoderLayer"] if size.function == "ChatFunction" else ["MangaAssistLayer"]
        assert [layer.name for layer in size.layers] == expected
        layers = 1000 + (5000 if size.function == "ChatFunction" else 0)
        assert size.unzipped == size.code.unzipped + layers
        assert 0 < size.zipped < size.unzipped  # zeros compress
    assert "ChatFunction" in report(list(sizes.values()))


def test_a_missing_build_says_to_build_first(tmp_path):
    with pytest.raises(FileNotFoundError, match="make build"):
        measure("ChatFunction", tmp_path / "ChatFunction")


def test_over_the_lambda_limit_fails(tmp_path, monkeypatch, capsys):
    fake_build(tmp_path, 10)
    monkeypatch.setattr("scripts.size_report.BUILD_DIR", tmp_path)
    monkeypatch.setattr("scripts.size_report.UNZIPPED_LIMIT", 5)
    assert main([]) == 1
    assert "over Lambda's 250 MB" in capsys.readouterr().err
    monkeypatch.setattr("scripts.size_report.UNZIPPED_LIMIT", UNZIPPED_LIMIT)
    assert main([]) == 0
