"""`make size`: every function of template.yaml measured with the layers it deploys with."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.template_resources import resources_of_type
from scripts.size_report import UNZIPPED_LIMIT, function_sizes, main, measure, report


def fake_build(root: Path, layer_bytes: int) -> None:
    for function in resources_of_type("AWS::Serverless::Function"):
        (root / function).mkdir(parents=True)
        (root / function / "app.py").write_text("def lambda_handler(event, context):\n    return {}\n")
    layer = root / "MangaAssistLayer" / "python" / "pkg"
    layer.mkdir(parents=True)
    (layer / "big.bin").write_bytes(b"\0" * layer_bytes)


def test_each_function_counts_its_code_and_the_shared_layer(tmp_path):
    fake_build(tmp_path, 1000)
    sizes = {size.function: size for size in function_sizes(tmp_path)}
    assert set(sizes) == set(resources_of_type("AWS::Serverless::Function"))
    for size in sizes.values():
        assert [layer.name for layer in size.layers] == ["MangaAssistLayer"]
        assert size.layers[0].unzipped == 1000
        assert size.unzipped == size.code.unzipped + 1000
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
