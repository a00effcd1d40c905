"""The embedded local stack: moto in server mode, simulators and a local API front, for laptops without Docker."""

import importlib.util
import sys
from pathlib import Path

# `python -m local.<module>` from the repository root: the layer's package is not installed, put it on the path.
if importlib.util.find_spec("mangaassist") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "mangaassist"))
