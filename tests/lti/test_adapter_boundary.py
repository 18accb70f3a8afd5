"""Only ``lti.adapter`` imports pylti1p3 (STYLE.md habit 7: one adapter per protocol library)."""
from __future__ import annotations

import ast
from pathlib import Path

LTI_PACKAGE = Path(__file__).resolve().parents[2] / "lti"


def test_only_the_adapter_module_imports_pylti1p3() -> None:
    importers = set()
    for path in LTI_PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == "pylti1p3" or n.startswith("pylti1p3.") for n in names):
                importers.add(path.relative_to(LTI_PACKAGE).as_posix())
    assert importers == {"adapter.py"}
