"""docs/architecture.md draws the imports as the code has them (scripts/import_arrows.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "import_arrows.py"


def _import_arrows() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_arrows", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documented_import_arrows_are_those_of_the_code() -> None:
    arrows = _import_arrows()
    assert arrows.documented(arrows.DOCUMENT.read_text()) == arrows.section()
