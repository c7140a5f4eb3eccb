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
TEST_KINDS = ("not_null", "unique", "accepted_values", "relationships", "sum_equals")
SEVERITIES = ("critical", "warning")


class ContractError(ValueError):
    """A contract file that does not say what it must; the message names the file and the key."""


@dataclass(frozen=True)
class Passes:
    sql: str
    param: str
    values: tuple


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as duckdb DESCRIBE shows it: DECIMAL(38,10), VARCHAR, DATE, ...
    description: str


@dataclass(frozen=True)
class Test:
    """A generic test: `kind` over `columns`, failing with `severity`.

    not_null        columns [+ where: a SQL condition limiting the rows]
    unique          columns (together a key)
    accepted_values columns[0] in `values` (a list, or `ledger.NAME` for a tuple of pipeline/ledger.py)
    relationships   columns[0] found in `to` (schema.table.column) [+ where]
    sum_equals      columns[0] = the sum of `of`, to the cent
    """

    kind: str
    columns: tuple[str, ...]
    severity: str = "critical"
    values: tuple = ()
    to: str | None = None
    of: tuple[str, ...] = ()
    where: str | None = None


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
    # month_partitions only: relations it reads whose rows each become one of its rows of the same
    # month and load, so that recomputing some months reads only those months' and loads' rows
    month_local_inputs: tuple[str, ...] = ()
    published_from: str | None = None
    columns: tuple[Column, ...] = ()
    tests: tuple[Test, ...] = ()
    checks: dict[str, str] = field(default_factory=dict)  # sql/checks/<name>.sql -> severity
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
    local_inputs = data.get("month_local_inputs") or []
    if not isinstance(local_inputs, list) or not all(isinstance(n, str) and "." in n for n in local_inputs):
        raise ContractError(f"{path}: 'month_local_inputs' must be a list of schema.table names")
    if local_inputs and materialized != "month_partitions":
        raise ContractError(f"{path}: 'month_local_inputs' is for month_partitions models only")
    columns = _columns(data, path)
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
        month_local_inputs=tuple(n.lower() for n in local_inputs),
        published_from=data.get("published_from"),
        columns=columns,
        tests=_tests(data, path, columns),
        checks=_checks(data, path),
        raw=data,
    )


def _columns(data: dict, path: Path) -> tuple[Column, ...]:
    cols = data.get("columns") or []
    if not isinstance(cols, list):
        raise ContractError(f"{path}: 'columns' must be a list of {{name, type, description}}")
    out = []
    for i, c in enumerate(cols):
        if not isinstance(c, dict):
            raise ContractError(f"{path}: columns[{i}] must be a mapping")
        where = f"{path}: column {c.get('name', i)}"
        for key in ("name", "type", "description"):
            if not isinstance(c.get(key), str) or not c[key].strip():
                raise ContractError(f"{where}: '{key}' must be a non-empty string")
        out.append(
            Column(c["name"], c["type"].upper().replace(", ", ","), " ".join(c["description"].split()))
        )
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise ContractError(f"{path}: a column is declared twice")
    return tuple(out)


def _values(value, where: str) -> tuple:
    if isinstance(value, str) and value.startswith("ledger."):
        from pipeline import ledger

        found = getattr(ledger, value.removeprefix("ledger."), None)
        if not isinstance(found, tuple):
            raise ContractError(f"{where}: {value} is not a tuple of pipeline/ledger.py")
        return found
    if not isinstance(value, list) or not value:
        raise ContractError(f"{where}: 'values' must be a non-empty list or ledger.<NAME>")
    return tuple(value)


def _tests(data: dict, path: Path, columns: tuple[Column, ...]) -> tuple[Test, ...]:
    known = {c.name for c in columns}
    out = []
    for i, t in enumerate(data.get("tests") or []):
        where = f"{path}: tests[{i}]"
        kinds = [k for k in TEST_KINDS if isinstance(t, dict) and k in t]
        if len(kinds) != 1:
            raise ContractError(f"{where}: must name one of {', '.join(TEST_KINDS)}")
        kind = kinds[0]
        severity = t.get("severity", "critical")
        if severity not in SEVERITIES:
            raise ContractError(f"{where}: 'severity' must be critical or warning")
        arg = t[kind]
        cols = tuple([arg] if isinstance(arg, str) else arg)
        if not cols or not all(isinstance(c, str) for c in cols):
            raise ContractError(f"{where}: {kind} takes a column or a list of columns")
        unknown = [c for c in (*cols, *(t.get("of") or ())) if c not in known]
        if unknown:
            raise ContractError(
                f"{where}: {kind} names columns the contract does not declare: {', '.join(unknown)}"
            )
        test = Test(kind, cols, severity, where=t.get("where"))
        if kind == "accepted_values":
            test = Test(kind, cols, severity, values=_values(t.get("values"), where), where=t.get("where"))
        elif kind == "relationships":
            to = t.get("to")
            if not isinstance(to, str) or to.count(".") != 2:
                raise ContractError(f"{where}: 'to' must be schema.table.column")
            test = Test(kind, cols, severity, to=to, where=t.get("where"))
        elif kind == "sum_equals":
            of = t.get("of")
            if not isinstance(of, list) or not of:
                raise ContractError(f"{where}: 'of' must list the columns that sum to {cols[0]}")
            test = Test(kind, cols, severity, of=tuple(of))
        out.append(test)
    return tuple(out)


def _checks(data: dict, path: Path) -> dict[str, str]:
    checks = data.get("checks") or {}
    if not isinstance(checks, dict):
        raise ContractError(f"{path}: 'checks' must map sql/checks/<name> to its severity")
    for name, severity in checks.items():
        if severity not in SEVERITIES:
            raise ContractError(f"{path}: checks.{name} must be critical or warning")
        if not (SQL_DIR / "checks" / f"{name}.sql").is_file():
            raise ContractError(f"{path}: checks.{name}: no file sql/checks/{name}.sql")
    return dict(checks)


@functools.cache
def _load(sql_dir: Path) -> dict[str, Contract]:
    return {c.name: c for c in (parse_contract(p) for p in sorted(sql_dir.glob("*/*.yml")))}


def load_contracts(sql_dir: Path = SQL_DIR) -> dict[str, Contract]:
    """Every table declared under sql/, by `schema.table`, in path order."""
    return dict(_load(Path(sql_dir)))


def published_tables() -> dict[str, str]:
    """The published file's tables, in path order: name -> the work-database relation copied."""
    return {n: c.published_from or n for n, c in load_contracts().items() if c.published}


def create_table_sql(name: str) -> str:
    """`create table` with the contract's columns and types (the schema of test fixtures)."""
    c = load_contracts()[name]
    cols = ",\n    ".join(f"{col.name} {col.type}" for col in c.columns)
    return f"create table {name} (\n    {cols}\n)"
