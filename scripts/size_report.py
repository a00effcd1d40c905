"""Prints each function's deployed size after `sam build`: its own code plus its layers, unzipped and zipped.

Lambda's limits: 250 MB unzipped for a function and all its layers together, 50 MB zipped per direct upload.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from local.template_resources import ROOT, resources_of_type, template

BUILD_DIR = ROOT / ".aws-sam" / "build"
UNZIPPED_LIMIT = 250 * 1024 * 1024
MiB = 1024 * 1024


@dataclass(frozen=True)
class ArtifactSize:
    name: str
    unzipped: int
    zipped: int


@dataclass(frozen=True)
class FunctionSize:
    function: str
    code: ArtifactSize
    layers: tuple[ArtifactSize, ...]

    @property
    def unzipped(self) -> int:
        return self.code.unzipped + sum(layer.unzipped for layer in self.layers)

    @property
    def zipped(self) -> int:
        return self.code.zipped + sum(layer.zipped for layer in self.layers)


def measure(name: str, directory: Path) -> ArtifactSize:
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is missing: run `make build` first")
    unzipped = 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                unzipped += path.stat().st_size
                archive.write(path, path.relative_to(directory))
    return ArtifactSize(name, unzipped, len(buffer.getvalue()))


def layer_ids(props: dict) -> list[str]:
    declared = props.get("Layers", template().get("Globals", {}).get("Function", {}).get("Layers", []))
    return [layer["Ref"] for layer in declared if isinstance(layer, dict) and "Ref" in layer]


def function_sizes(build_dir: Path) -> list[FunctionSize]:
    measured: dict[str, ArtifactSize] = {}

    def size_of(logical_id: str) -> ArtifactSize:
        if logical_id not in measured:
            measured[logical_id] = measure(logical_id, build_dir / logical_id)
        return measured[logical_id]

    return [
        FunctionSize(function, size_of(function), tuple(size_of(layer) for layer in layer_ids(res["Properties"])))
        for function, res in resources_of_type("AWS::Serverless::Function").items()
    ]


def largest_packages(directory: Path, count: int = 8) -> list[tuple[str, int]]:
    sizes = []
    for entry in directory.iterdir():
        if entry.name.endswith(".dist-info"):
            continue
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        sizes.append((entry.name, sum(p.stat().st_size for p in files)))
    return sorted(sizes, key=lambda item: item[1], reverse=True)[:count]


def human(size: int) -> str:
    return f"{size / MiB:.2f} MB" if size >= MiB else f"{size / 1024:.1f} KB"


def report(sizes: list[FunctionSize]) -> str:
    header = ("function", "code", "layers", "unzipped", "zipped", "of 250 MB")
    rows = [header]
    for size in sizes:
        layers = sum(layer.unzipped for layer in size.layers)
        rows.append(
            (
                size.function,
                human(size.code.unzipped),
                human(layers),
                human(size.unzipped),
                human(size.zipped),
                f"{size.unzipped / UNZIPPED_LIMIT:.1%}",
            )
        )
    return "\n".join(f"{row[0]:<22}" + "".join(f"{cell:>12}" for cell in row[1:]) for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    try:
        sizes = function_sizes(BUILD_DIR)
    except FileNotFoundError as err:
        print(err, file=sys.stderr)
        return 1
    print(report(sizes))
    layers = {layer.name for size in sizes for layer in size.layers}
    for layer in sorted(layers):
        python = BUILD_DIR / layer / "python"
        if python.is_dir():
            top = ", ".join(f"{name} {size / MiB:.1f}MB" for name, size in largest_packages(python))
            print(f"\n{layer} largest: {top}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = [{**asdict(size), "unzipped_total": size.unzipped, "zipped_total": size.zipped} for size in sizes]
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    too_big = [size.function for size in sizes if size.unzipped > UNZIPPED_LIMIT]
    if too_big:
        print(f"over Lambda's 250 MB unzipped limit: {', '.join(too_big)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
