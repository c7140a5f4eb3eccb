"""The layout keeps its promises (docs/ARCHITECTURE.md): `pipeline/` never imports Airflow, and
every room is a package."""

from __future__ import annotations

import ast

from tests.conftest import REPO

PIPELINE = REPO / "pipeline"
ROOMS = ("config", "landing", "ingest", "transform", "quality", "publish", "report", "app")


def _imports(path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_pipeline_never_imports_airflow():
    modules = sorted(PIPELINE.rglob("*.py"))
    assert len(modules) > 40
    offenders = {
        p.relative_to(REPO).as_posix(): sorted(m for m in _imports(p) if m.split(".")[0] == "airflow")
        for p in modules
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_room_is_a_package_with_a_docstring():
    for room in ROOMS:
        init = PIPELINE / room / "__init__.py"
        assert init.is_file(), f"pipeline/{room}/ has no __init__.py"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), (
            f"pipeline/{room}: say what it holds"
        )
