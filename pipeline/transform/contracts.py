"""Table contracts: `sql/<schema>/<table>.yml`, the one place a table is declared.

A contract says what the table is and its grain, how it is materialised, whether it is
published, each column's type and meaning, its generic tests and the singular checks
(`sql/checks/`) that guard it. The build order, the publish list, the generic GX suites, the
checks' registry, the test fixtures' schema and docs/data-dictionary.md are derived from it.

A contract with a `.sql` beside it is a model the runner builds (pipeline/transform/runner.py);
one without is a table created by DDL (`materialized: ddl`, `built_by: <file>`), e.g. the audit
tables, declared here so that they are published and described like the others.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.config.settings import SQL_DIR

MATERIALIZATIONS = ("view", "table", "month_partitions", "ddl")


class ContractError(ValueError):
    """A contract file that does not say what it must; the message names the file and the key."""


@dataclass(frozen=True)
class Passes:
    sql: str
    param: str
    values: tuple


@dataclass(frozen=True)
class Contract:
    name: str  # schema.table
    schema: str
    table: str
    yml_path: Path
    sql_path: Path | None
    description: str
    grain: str
    materialized: str
    published: bool = False
    built_by: str | None = None
    passes: Passes | None = None
    after_build: str | None = None
    formerly: tuple[str, ...] = ()
    raw: dict = field(default_factory=dict, repr=False, compare=False)


def _need(data: dict, key: str, path: Path, kind: type = str):
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise ContractError(f"{path}: '{key}' must be a {'non-empty ' if kind is str else ''}{kind.__name__}")
    return value


def parse_contract(path: Path) -> Contract:
    """Read and check one contract file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ContractError(f"{path}: a contract is a mapping of keys")
    schema, table = path.parent.name, path.stem
    sql = path.with_suffix(".sql")
    materialized = _need(data, "materialized", path)
    if materialized not in MATERIALIZATIONS:
        raise ContractError(f"{path}: 'materialized' must be one of {', '.join(MATERIALIZATIONS)}")
    if (materialized == "ddl") == sql.exists():
        raise ContractError(
            f"{path}: {'a ddl table has no' if sql.exists() else 'a model needs its'} SQL file {sql.name} beside it"
        )
    built_by = data.get("built_by")
    if materialized == "ddl" and not (isinstance(built_by, str) and (SQL_DIR / built_by).is_file()):
        raise ContractError(f"{path}: 'built_by' must name the DDL file under sql/ that creates it")
    passes = None
    if "passes" in data:
        p = _need(data, "passes", path, dict)
        passes = Passes(_need(p, "sql", path), _need(p, "param", path), tuple(_need(p, "values", path, list)))
        if not (path.parent / passes.sql).is_file():
            raise ContractError(f"{path}: passes.sql names no file beside it: {passes.sql}")
    published = data.get("published", False)
    if not isinstance(published, bool):
        raise ContractError(f"{path}: 'published' must be true or false")
    return Contract(
        name=f"{schema}.{table}",
        schema=schema,
        table=table,
        yml_path=path,
        sql_path=sql if sql.exists() else None,
        description=_need(data, "description", path).strip(),
        grain=_need(data, "grain", path).strip(),
        materialized=materialized,
        published=published,
        built_by=built_by,
        passes=passes,
        after_build=data.get("after_build"),
        formerly=tuple(data.get("formerly") or ()),
        raw=data,
    )


@functools.cache
def _load(sql_dir: Path) -> dict[str, Contract]:
    return {c.name: c for c in (parse_contract(p) for p in sorted(sql_dir.glob("*/*.yml")))}


def load_contracts(sql_dir: Path = SQL_DIR) -> dict[str, Contract]:
    """Every table declared under sql/, by `schema.table`, in path order."""
    return dict(_load(Path(sql_dir)))
