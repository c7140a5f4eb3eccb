"""The SQL tree is the catalogue: find the models, order them by what their SQL reads, build them.

A model is `sql/<schema>/<table>.sql` with its contract `sql/<schema>/<table>.yml` beside it
(folder = schema, file = table). Each SQL file is one `select`; its contract says how it is
materialised (`pipeline/transform/contracts.py`):

    view              create or replace view (cheap; follows the SQL file on every run)
    table             create or replace table, rebuilt in full
    month_partitions  a table whose months in [month_from, month_to] are replaced, nothing else
                      (a run over 2026-10 replaces 2026-10), or a list of months (an incremental
                      run: pipeline/transform/scope.py), reading only the raw rows of the loads
                      with lines in them; built whole when neither is given

and, where a table needs more than one statement, what follows its build:

    passes:       {sql: <file beside it>, param: <name>, values: [...]}: the table rebuilt from
                  itself once per value (people cost's publication rule, level by level)
    after_build:  <hook>: a named Python check run right after the build (missing FX rates)
    month_local_inputs: [schema.table, ...]: a month partition's inputs whose rows each become
                  one of its rows of the same month and load: an incremental run reads only the
                  recomputed months and loads of them (the other month partitions it reads are
                  always narrowed to the recomputed months)
    formerly:     [schema.table, ...]: names it had before; dropped so no stale copy lingers

The dependencies are the `schema.table` names a model's SQL mentions that are models too
(comments and string literals ignored); anything else it reads (raw.*, config.*, audit tables
made by DDL) must exist already.
"""

from __future__ import annotations

import graphlib
import logging
import re
import resource
import time
from collections.abc import Callable, Iterable
from datetime import date

import duckdb

from pipeline.db import read_sql
from pipeline.transform.contracts import Contract, load_contracts

_COMMENT_OR_STRING = re.compile(r"--[^\n]*|'(?:[^']|'')*'")
_REFERENCE = re.compile(r"\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\b", re.IGNORECASE)

Hook = Callable[[duckdb.DuckDBPyConnection], None]

log = logging.getLogger(__name__)


def _cpu_seconds() -> float:
    """CPU time of this process so far, DuckDB's threads included."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def model_sql(contract: Contract, file: str | None = None) -> str:
    """The select of a model (or of one of its passes), without a trailing `;`."""
    path = contract.sql_path if file is None else contract.sql_path.parent / file
    return read_sql(path).strip().rstrip(";")


def partitioned_models() -> list[str]:
    """The month-partitioned models: a month of one is computed from the same month of the others."""
    return sorted(n for n, c in load_contracts().items() if c.materialized == "month_partitions")


def narrow(sql: str, names: Iterable[str], predicate: str) -> str:
    """`sql` with every reference to the relations `names` replaced by those rows of it that meet
    `predicate` (`month in (...)`); comments and string literals are left as they are."""
    names = list(names)
    if not names:
        return sql
    pattern = re.compile(
        _COMMENT_OR_STRING.pattern + r"|\b(" + "|".join(re.escape(n) for n in names) + r")\b(?!\.)",
        re.IGNORECASE,
    )
    return pattern.sub(
        lambda m: m.group(0) if m.group(1) is None else f"(select * from {m.group(1)} where {predicate})", sql
    )


def narrow_to_months(sql: str, predicate: str, skip: str | None = None) -> str:
    """`sql` with every month-partitioned table it reads (but `skip`) narrowed by `predicate` on
    its month (`month in (...)`). A month of the ledger reads only its own month of the other
    partitions (splits are weighed per month: pipeline/transform/scope.py), so recomputing some
    months needs only those; a filter on the model's result alone does not reach through its
    aggregates and windows, and every month would be read and joined."""
    return narrow(sql, (n for n in partitioned_models() if n != skip), predicate)


def references(sql: str) -> set[str]:
    """Every `schema.table` the SQL mentions outside comments and string literals, lower-cased."""
    text = _COMMENT_OR_STRING.sub(" ", sql)
    return {f"{s}.{t}".lower() for s, t in _REFERENCE.findall(text)}


def dependencies(models: dict[str, Contract]) -> dict[str, set[str]]:
    """model -> the models its SQL (and its passes' SQL) reads, itself excluded."""
    deps = {}
    for name, c in models.items():
        sql = "\n".join(model_sql(c, f) for f in (None, *([c.passes.sql] if c.passes else [])))
        deps[name] = (references(sql) & models.keys()) - {name}
    return deps


def build_order(models: dict[str, Contract]) -> list[str]:
    """Models in an order where each comes after what it reads; ties by name, for stable runs."""
    deps = dependencies(models)
    sorter = graphlib.TopologicalSorter({n: sorted(deps[n]) for n in sorted(deps)})
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as exc:
        raise ValueError(f"the SQL models read each other in a cycle: {' -> '.join(exc.args[1])}") from None


def _table_type(con, name: str) -> str | None:
    """'BASE TABLE', 'VIEW', or None when the object does not exist."""
    schema, table = name.split(".")
    row = con.execute(
        "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return row[0] if row else None


def _drop(con, name: str) -> None:
    kind = _table_type(con, name)
    if kind is not None:
        con.execute(f"drop {'view' if kind == 'VIEW' else 'table'} {name}")


def _build_partitioned(
    con,
    name: str,
    sql: str,
    month_from: date | None,
    month_to: date | None,
    months: list[date] | None = None,
    loads: list[int] | None = None,
    local_inputs: tuple[str, ...] = (),
) -> None:
    """Replace the months [month_from, month_to], or the listed `months` (reading only the raw
    rows of `loads` when given: every load with lines in those months), or build the table whole.
    The other month partitions it reads are narrowed to those months, and its `local_inputs`
    (contract: month_local_inputs) to those months and loads."""
    exists = _table_type(con, name) == "BASE TABLE"
    params: dict | None = None
    if months is not None and exists:
        if not months:
            return  # nothing of this table to recompute
        in_months = "month in (" + ", ".join(f"date '{m.isoformat()}'" for m in months) + ")"
        where = in_months
        if loads is not None:
            # a constant list: stated on the model's inputs too, it reaches the raw scans, whose
            # zonemaps skip other loads
            where += " and load_id in (" + (", ".join(str(int(i)) for i in loads) or "null") + ")"
    elif month_from is not None and exists:
        in_months = where = "month between $month_from and $month_to"
        params = {"month_from": month_from, "month_to": month_to}
    else:
        con.execute(f"create or replace table {name} as\n{sql}")
        return
    con.execute(f"delete from {name} where {in_months}", params)
    # the filter is stated on the inputs too: it does not reach through a CTE read twice
    narrowed = narrow(narrow_to_months(sql, in_months, skip=name), local_inputs, where)
    try:
        con.execute(f"insert into {name} by name select * from ({narrowed}) where {where}", params)
    except duckdb.BinderException:
        # The model's columns changed since the table was built: rebuild it whole.
        con.execute(f"create or replace table {name} as\n{sql}")


def build_model(
    con,
    c: Contract,
    month_from: date | None = None,
    month_to: date | None = None,
    hooks: dict | None = None,
    months: list[date] | None = None,
    loads: list[int] | None = None,
) -> None:
    """Build one model as its contract says (inside the caller's transaction)."""
    for old in c.formerly:
        _drop(con, old)
    kind = _table_type(con, c.name)
    if kind is not None and (kind == "VIEW") != (c.materialized == "view"):
        _drop(con, c.name)  # a warehouse built when it was materialised the other way
    sql = model_sql(c)
    if c.materialized == "view":
        con.execute(f"create or replace view {c.name} as\n{sql}")
    elif c.materialized == "month_partitions":
        _build_partitioned(con, c.name, sql, month_from, month_to, months, loads, c.month_local_inputs)
    else:
        con.execute(f"create or replace table {c.name} as\n{sql}")
    if c.passes:
        step = model_sql(c, c.passes.sql)
        for value in c.passes.values:
            con.execute(f"create or replace table {c.name} as\n{step}", {c.passes.param: value})
    if c.after_build:
        if not hooks or c.after_build not in hooks:
            raise ValueError(f"{c.yml_path}: after_build names no known hook: {c.after_build!r}")
        hooks[c.after_build](con)


def build(
    con: duckdb.DuckDBPyConnection,
    month_from: date | None = None,
    month_to: date | None = None,
    hooks: dict[str, Hook] | None = None,
    schemas: Iterable[str] | None = None,
    months: list[date] | None = None,
    loads: list[int] | None = None,
) -> list[str]:
    """Build every model (or those of `schemas`) in dependency order; returns the names built.
    `months` (with `loads`): the month partitions replace only those months (see _build_partitioned)."""
    models = {n: c for n, c in load_contracts().items() if c.sql_path is not None}
    wanted = set(schemas) if schemas is not None else None
    built = []
    for name in build_order(models):
        if wanted is None or models[name].schema in wanted:
            t0, c0 = time.perf_counter(), _cpu_seconds()
            build_model(con, models[name], month_from, month_to, hooks, months, loads)
            built.append(name)
            # where a run's time goes, model by model (docs/scaling.md reads the log)
            log.info("built %s in %.2fs (CPU %.2fs)", name, time.perf_counter() - t0, _cpu_seconds() - c0)
    return built
