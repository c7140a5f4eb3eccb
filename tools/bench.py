"""``make bench``: time ``costledger run`` on an N-line FOCUS export against bare DuckDB loading it.

    python tools/bench.py [--lines 5000000] [--format csv|parquet] [--parts N | --by-month] [--months 3]
                          [--workdir bench/] [--notebook] [--profile DIR] [--checkout DIR] [--label NAME]
                          [--incremental [--night-lines 10000]]

1. Generates, set-based in DuckDB (``copy (select ... from range(N)) to ...``), one FOCUS 1.2
   export of N lines (AWS lines in USD, Alibaba Cloud lines in CNY, tags that
   examples/demo/config/cost_rules.yaml places: model/leaf tags, the shared GPU pool, shared serving, the web
   shop, untagged lines, a support plan, credits and tax), plus the USD->CNY rates, budgets and
   GPU-hour metrics the run needs, under ``<workdir>/landing``. The lines spread evenly over the
   days of ``--months N`` consecutive billing periods from 2026-01 (1 to 24; default 3, 2026-01..03;
   12 is a year's history, 2026-01..12); the rates, budgets and metrics cover every one of them.
   The export is reused when it already has the asked size, format, parts and months.
   ``--parts N`` writes the same N lines as N part files of one export folder
   (``part-00001-of-N.csv`` ...; lines split evenly, in order), as providers deliver big exports;
   the bare load then reads all parts in one statement. ``--by-month`` writes one file per billing
   period instead (``billing-period-2026-01.csv`` ..., one for each of the ``--months``): separate
   loads, as monthly exports arrive, which an incremental night recomputes month by month.
2. Runs bare DuckDB ``create table t as select * from read_csv(...)`` (or ``read_parquet``) on
   the same file, into a fresh database file, in a child process: the yardstick.
3. Runs ``costledger run --config examples/demo/config --landing <workdir>/landing
   --warehouse <workdir>/warehouse`` in a child process on a fresh warehouse, sampling its
   resident memory, then the bare load once more (the machine is shared: the ratio uses the
   mean of the two bare loads taken around the run, so a busy minute weighs on both sides).
4. ``--notebook``: the pandas notebook a user would write instead (read the export, parse the
   tags, sum the cost as Decimal by month, currency, leaf and model), in a child process.
5. ``--profile DIR``: re-runs the heaviest statements (the file read, the core and mart models)
   under ``EXPLAIN ANALYZE`` against the finished work database and saves each plan with its
   timings under DIR, plus ``DIR/summary.json`` (heaviest first).

6. ``--incremental``: then a night on the same warehouse that adds one small FOCUS file
   (``--night-lines``, all in 2026-02, or 2026-01 with ``--months 1``; a billing account of its own)
   to the landing: its time, RSS and CPU per step and its share of the full run's CPU (the run
   recomputes and republishes that month only); then a night with nothing new (its time and CPU:
   the run finds nothing changed and stops). The file is removed after.

Prints wall time and peak RSS (``wait4`` rusage) of every child and, per step of the run
(load, transform, gates, publish), its seconds, its peak RSS and its ratio to the bare load.
A step's window comes from the run's log (``<step> took N s``, stamped); for a checkout that
logs no step times the steps are laid end to end before the run's exit and marked ``~``.
``--checkout DIR`` measures another checkout of costledger (its ``.venv`` and config) on the
same export: how the "before" figures are taken. Figures (with the lines, layout and months) go
to ``<workdir>/results.json`` and are appended to ``<workdir>/history.jsonl``. Nothing here reads
the clock to pick data: the export is the same for the same N and months.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

# tools/ and examples/ are not installed: the checkout's root goes on the path for the demo's columns
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from examples.demo.generate import FOCUS_12_COLUMNS, FOCUS_DECIMAL_COLUMNS  # noqa: E402
from pipeline.config.settings import DEMO_CONFIG  # noqa: E402

BENCH_START = date(2026, 1, 1)  # the first billing period of the history
DEFAULT_MONTHS = 3
MAX_MONTHS = 24


def _add_months(first: date, k: int) -> date:
    """The first day of the month k months after (k < 0: before) the month of `first`."""
    m = first.year * 12 + first.month - 1 + k
    return date(m // 12, m % 12 + 1, 1)


def bench_months(n: int = DEFAULT_MONTHS) -> tuple[str, ...]:
    """The history's N consecutive billing periods from 2026-01: ("2026-01", "2026-02", ...)."""
    return tuple(_add_months(BENCH_START, k).isoformat()[:7] for k in range(n))


def bench_days(n: int = DEFAULT_MONTHS) -> int:
    """Days of the N-month history: the lines are spread evenly over them (90 for 2026-01..03)."""
    return (_add_months(BENCH_START, n) - BENCH_START).days


MONTHS = bench_months()
BENCH_DAYS = bench_days()  # 2026-01-01 .. 2026-03-31

# (Tags, ServiceName, ServiceCategory, ServiceSubcategory, ResourceType): one per line, by i % 12
# fmt: off
_PROFILES = (
    ('{"cl-leaf":"hardware","cl-model":"reco-llm"}', "Amazon SageMaker", "AI and Machine Learning",
     "Machine Learning", "Endpoint"),
    ('{"cl-leaf":"hardware","cl-model":"ads-ctr-dcn"}', "Amazon Elastic Compute Cloud", "Compute",
     "Virtual Machines", "Instance"),
    ('{"cl-leaf":"training","cl-model":"search-rerank-bert"}', "Platform for AI", "AI and Machine Learning",
     "AI Platforms", "DLCJob"),
    ('{"cl-leaf":"data","cl-model":"home-feed-personalizer"}', "Object Storage Service", "Storage",
     "Object Storage", "Bucket"),
    ('{"cl-leaf":"maintenance_resources","cl-model":"demand-forecast-tft"}', "MaxCompute", "Analytics",
     "Data Processing", "Project"),
    ('{"cl-leaf":"tuning_resources","cl-model":"reco-llm"}', "Amazon SageMaker", "AI and Machine Learning",
     "Machine Learning", "NotebookInstance"),
    ('{"cl-pool":"shared-gpu"}', "Amazon Elastic Compute Cloud", "Compute", "Virtual Machines", "Instance"),
    ('{"cl-pool":"shared-serving"}', "Elastic Load Balancing", "Networking", "Load Balancing", "LoadBalancer"),
    ('{"cl-workload":"webshop","env":"prod"}', "Amazon Elastic Compute Cloud", "Compute", "Virtual Machines",
     "Instance"),
    ("{}", "Amazon Elastic Compute Cloud", "Compute", "Virtual Machines", "Instance"),
    ('{"cl-leaf":"software","cl-model":"search-rerank-bert"}', "OpenSearch", "Analytics", "Search", "Instance"),
    ('{"cl-leaf":"maintenance_resources","cl-model":"ads-ctr-dcn"}', "Amazon SageMaker",
     "AI and Machine Learning", "Machine Learning", "ProcessingJob"),
)
# fmt: on


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _pick(index_expr: str, values: list[str]) -> str:
    """SQL: the value at position index_expr (0-based) of a literal list."""
    return f"([{', '.join(_lit(v) for v in values)}])[{index_expr} + 1]"


def focus_select(lines: int, start: int = 0, months: int = DEFAULT_MONTHS, month: str | None = None) -> str:
    """The set-based FOCUS 1.2 query: one row per i in range(start, lines), deterministic, line i on
    day i % D of the `months`-month history from 2026-01 (D its days: the lines spread evenly over
    them). `month` keeps only the lines of that billing period (in order)."""
    days = bench_days(months)
    where = ""
    if month is not None:
        first = date.fromisoformat(f"{month}-01")
        lo, hi = (first - BENCH_START).days, (_add_months(first, 1) - BENCH_START).days
        where = f"\n    where i % {days} >= {lo} and i % {days} < {hi}"
    exprs: dict[str, str] = {
        "AvailabilityZone": "case when p in (1, 6, 8, 9) then case when cn then 'cn-hangzhou-h' else 'us-east-1a' end end",
        "BilledCost": "case when cat = 'Credit' then -amt when commit_usage then 0 else amt end",
        "EffectiveCost": "case when cat = 'Credit' then -amt when commit_purchase then 0 else amt end",
        "ListCost": "case when cat = 'Credit' then 0 else amt end",
        "ContractedCost": "case when cat = 'Credit' then 0 else amt end",
        "ListUnitPrice": "unit_price",
        "ContractedUnitPrice": "unit_price",
        "PricingCurrencyListUnitPrice": "unit_price",
        "PricingCurrencyContractedUnitPrice": "unit_price",
        "PricingCurrencyEffectiveCost": "case when commit_purchase then 0 when cat = 'Credit' then -amt else amt end",
        "PricingQuantity": "qty",
        "ConsumedQuantity": "qty",
        "CommitmentDiscountQuantity": "case when commit_usage then qty end",
        "BillingAccountId": "case when cn then '1588234567890123' else '112233445566' end",
        "BillingAccountName": "case when cn then 'acme-shop-cn' else 'Acme Shop Group' end",
        "BillingAccountType": "'Billing Account'",
        "BillingCurrency": "case when cn then 'CNY' else 'USD' end",
        "PricingCurrency": "case when cn then 'CNY' else 'USD' end",
        "BillingPeriodStart": "strftime(date_trunc('month', ts), '%Y-%m-%dT%H:%M:%SZ')",
        "BillingPeriodEnd": "strftime(date_trunc('month', ts) + interval 1 month, '%Y-%m-%dT%H:%M:%SZ')",
        "ChargePeriodStart": "strftime(ts, '%Y-%m-%dT%H:%M:%SZ')",
        "ChargePeriodEnd": "strftime(ts + interval 1 hour, '%Y-%m-%dT%H:%M:%SZ')",
        "CapacityReservationId": "null",
        "CapacityReservationStatus": "null",
        "ChargeCategory": "cat",
        "ChargeClass": "null",
        "ChargeDescription": "service || ' ' || cat || ' line ' || (i % 1000)",
        "ChargeFrequency": "case when cat = 'Usage' then 'Usage-Based' when cat = 'Purchase' then 'Recurring' else 'One-Time' end",
        "CommitmentDiscountCategory": "case when commit_usage or commit_purchase then 'Spend' end",
        "CommitmentDiscountId": "case when commit_usage or commit_purchase then 'arn:aws:savingsplans::210987654321:savingsplan/bench-' || (i % 7) end",
        "CommitmentDiscountName": "case when commit_usage or commit_purchase then 'bench-sp-' || (i % 7) end",
        "CommitmentDiscountStatus": "case when commit_usage then 'Used' end",
        "CommitmentDiscountType": "case when commit_usage or commit_purchase then 'Savings Plan' end",
        "CommitmentDiscountUnit": "case when commit_usage then 'Hour' end",
        "ConsumedUnit": "'Hour'",
        "PricingUnit": "'Hour'",
        "InvoiceId": "case when cn then 'ALI-INV-' else 'AWS-INV-' end || strftime(ts, '%Y%m')",
        "InvoiceIssuerName": "case when cn then 'Alibaba Cloud' else 'AWS' end",
        "PricingCategory": "case when commit_usage or commit_purchase then 'Committed' else 'Standard' end",
        "ProviderName": "case when cn then 'Alibaba Cloud' else 'AWS' end",
        "PublisherName": "case when cn then 'Alibaba Cloud' else 'AWS' end",
        "RegionId": "case when cn then 'cn-hangzhou' else 'us-east-1' end",
        "RegionName": "case when cn then 'China (Hangzhou)' else 'US East (N. Virginia)' end",
        "ResourceId": "case when cat in ('Tax') then null else 'res-' || p || '-' || (i % 50000) end",
        "ResourceName": "case when cat in ('Tax') then null else 'bench-' || p || '-' || (i % 50000) end",
        "ResourceType": _pick("p", [x[4] for x in _PROFILES]),
        "ServiceCategory": _pick("p", [x[2] for x in _PROFILES]),
        "ServiceName": "service",
        "ServiceSubcategory": _pick("p", [x[3] for x in _PROFILES]),
        "SkuId": "'sku-' || p || '-' || (i % 97)",
        "SkuMeter": "'Hours'",
        "SkuPriceDetails": "null",
        "SkuPriceId": "'price-' || p || '-' || (i % 97)",
        "SubAccountId": "case when cn then '1760000000000001' else '210987654321' end",
        "SubAccountName": "case when cn then 'acme-ai-platform' else 'acme-ml-prod' end",
        "SubAccountType": "'Member Account'",
        "Tags": "case when cat = 'Tax' then '{}' else " + _pick("p", [x[0] for x in _PROFILES]) + " end",
    }
    missing = [c for c in FOCUS_12_COLUMNS if c not in exprs]
    assert not missing, missing
    select = ",\n    ".join(
        f'cast({exprs[c]} as decimal(38, 10)) as "{c}"'
        if c in FOCUS_DECIMAL_COLUMNS
        else f'{exprs[c]} as "{c}"'
        for c in FOCUS_12_COLUMNS
    )
    return f"""
with base as (
    select
        i,
        i % 12 as p,
        i % 3 = 0 as cn,
        timestamp '{BENCH_START.isoformat()}' + to_days(cast(i % {days} as integer))
            + to_hours(cast((i // {days}) % 24 as integer)) as ts,
        -- unit price 0.0001 .. 20.0000 a unit, 1 .. 24 units: amounts exact in DECIMAL (no float)
        cast(cast(hash(i) % 200000 + 1 as decimal(18, 0)) * 0.0001 as decimal(38, 10)) as unit_price,
        cast(i % 24 + 1 as decimal(38, 10)) as qty,
        case when i % 1000 = 999 then 'Tax' when i % 997 = 996 then 'Credit'
             when i % 2003 = 2002 then 'Purchase' else 'Usage' end as cat
    from range({int(start)}, {int(lines)}) t(i){where}
),
shaped as (
    select
        *,
        case when cat = 'Purchase' and i % 2 = 0 then 'AWS Support (Business)'
             else {_pick("p", [x[1] for x in _PROFILES])} end as service,
        (cat = 'Usage' and p in (0, 1) and i % 4 = 0) as commit_usage,
        (cat = 'Purchase' and i % 2 = 1) as commit_purchase,
        cast(unit_price * qty as decimal(38, 10)) as amt
    from base
)
select
    {select}
from shaped
"""


def part_files(target: Path, parts: int, by_month: bool = False, months: int = DEFAULT_MONTHS) -> list[Path]:
    """The files of the export: `target` itself, its N part files (a glob over them is
    `target.parent / "part-*-of-N.<ext>"`), or with `by_month` one file per billing period of the
    `months`-month history (`billing-period-2026-01.<ext>` ...)."""
    ext = target.name.rsplit(".", 1)[1]
    if by_month:
        return [target.parent / f"billing-period-{m}.{ext}" for m in bench_months(months)]
    if parts <= 1:
        return [target]
    return [target.parent / f"part-{p:05d}-of-{parts}.{ext}" for p in range(1, parts + 1)]


def generate(
    landing: Path, lines: int, fmt: str, parts: int = 1, by_month: bool = False, months: int = DEFAULT_MONTHS
) -> Path:
    """Write the bench landing zone; returns the FOCUS file, or for `parts` > 1 a glob over its
    part files (the N lines split evenly, in order), or with `by_month` a glob over one file per
    billing period (each file the lines of its month, as AWS Data Exports and Azure's monthly
    exports deliver them: separate loads). The lines spread evenly over the days of `months`
    billing periods from 2026-01. Reused when size, format, layout and months match."""
    landing.mkdir(parents=True, exist_ok=True)
    ext = "csv" if fmt == "csv" else "parquet"
    folder = landing / "focus" / "bench"
    target = folder / f"bench-focus-1.2-{lines}.{ext}"
    files = part_files(target, parts, by_month, months)
    if by_month:
        shown = folder / f"billing-period-*.{ext}"
    else:
        shown = folder / f"part-*-of-{parts}.{ext}" if parts > 1 else target
    stamp = landing / ".bench.json"
    want = {"lines": lines, "format": fmt, "file": shown.relative_to(landing).as_posix(), "months": months}
    if all(p.exists() for p in files) and stamp.exists():
        have = json.loads(stamp.read_text())
        have.setdefault("months", DEFAULT_MONTHS)  # stamped before --months: a 3-month export
        if have == want:
            return shown
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        if by_month:
            # the same N lines as one file, split by billing period (each month's lines in order)
            queries = [focus_select(lines, months=months, month=m) for m in bench_months(months)]
        else:
            bounds = [lines * p // len(files) for p in range(len(files) + 1)]
            queries = [focus_select(hi, lo, months) for lo, hi in zip(bounds, bounds[1:], strict=False)]
        for path, query in zip(files, queries, strict=True):
            if fmt == "csv":
                con.execute(f"copy ({query}) to {_lit(str(path))} (header, delimiter ',')")
            else:
                con.execute(f"copy ({query}) to {_lit(str(path))} (format parquet, compression zstd)")
    finally:
        con.close()
    _side_files(landing, months)
    stamp.write_text(json.dumps(want) + "\n")
    return shown


NIGHT_MONTH = "2026-02"
NIGHT_LINES = 10_000
NIGHT_DIR = Path("focus") / "bench-night"


def night_month(months: int = DEFAULT_MONTHS) -> str:
    """The month the night adds to: NIGHT_MONTH, or 2026-01 for a one-month history (inside it)."""
    return NIGHT_MONTH if NIGHT_MONTH in bench_months(months) else bench_months(months)[0]


def generate_night(landing: Path, lines: int, month: str = NIGHT_MONTH) -> Path:
    """The night's extra FOCUS file: `lines` lines of the bench's shape, all in `month`, of a
    billing account of their own (one account and period in two files would be the same charges
    twice, a critical check)."""
    target = landing / NIGHT_DIR / f"night-{month}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    query = f"""
        with lines as (
            select *, strptime("ChargePeriodStart", '%Y-%m-%dT%H:%M:%SZ') as start_ts
            from ({focus_select(lines)})
        ),
        moved as (
            select *, date '{month}-01' + (start_ts - date_trunc('month', start_ts)) as night_ts
            from lines where day(start_ts) <= 28
        )
        select * exclude (start_ts, night_ts) replace (
            case when "BillingAccountId" = '112233445566' then '998877665544' else '1588000000000999' end
                as "BillingAccountId",
            strftime(night_ts, '%Y-%m-%dT%H:%M:%SZ') as "ChargePeriodStart",
            strftime(night_ts + interval 1 hour, '%Y-%m-%dT%H:%M:%SZ') as "ChargePeriodEnd",
            '{month}-01T00:00:00Z' as "BillingPeriodStart",
            strftime(date '{month}-01' + interval 1 month, '%Y-%m-%dT%H:%M:%SZ') as "BillingPeriodEnd"
        )
        from moved
    """
    con = duckdb.connect()
    try:
        con.execute(f"copy ({query}) to {_lit(str(target))} (header, delimiter ',')")
    finally:
        con.close()
    return target


def _side_files(landing: Path, months: int = DEFAULT_MONTHS) -> None:
    """FX rates, budgets and GPU-hour metrics for the bench months (what the rules need): daily
    rates from the month before the history to the month after it, a budget and the GPU hours of
    every month of the history."""
    fx_from, fx_to = _add_months(BENCH_START, -1), _add_months(BENCH_START, months + 1)
    values = ", ".join(f"('{m}')" for m in bench_months(months))
    con = duckdb.connect()
    try:
        (landing / "fx_rates").mkdir(exist_ok=True)
        con.execute(f"""
            copy (select strftime(d, '%Y-%m-%d') as rate_date, 'USD' as from_currency, 'CNY' as to_currency,
                         cast(7.15 + (hash(d) % 1000) * 0.0001 as decimal(10, 4)) as rate
                  from range(date '{fx_from.isoformat()}', date '{fx_to.isoformat()}', interval 1 day) t(d))
            to {_lit(str(landing / "fx_rates" / "usd_cny_daily.csv"))} (header)""")
        (landing / "budgets").mkdir(exist_ok=True)
        con.execute(f"""
            copy (select m as month, s.stage, null as leaf, null as model_id, 'CNY' as currency,
                         cast(s.amount as decimal(18, 2)) as amount
                  from (values {values}) mm(m),
                       (values ('pretrain', 200000), ('tuning', 100000), ('deploy', 300000),
                               ('maintenance', 400000)) s(stage, amount)
                  order by month, s.amount)
            to {_lit(str(landing / "budgets" / "stage_budgets.csv"))} (header)""")
        (landing / "metrics").mkdir(exist_ok=True)
        con.execute(f"""
            copy (select m as month, model_id, 'gpu_hours' as metric, 100 + 50 * n as value
                  from (values {values}) mm(m),
                       (values ('reco-llm', 1), ('ads-ctr-dcn', 2), ('search-rerank-bert', 3)) x(model_id, n)
                  order by month, model_id)
            to {_lit(str(landing / "metrics" / "gpu_hours.csv"))} (header)""")
    finally:
        con.close()


def _checkout_python(checkout: Path) -> str:
    """The interpreter of a checkout's own venv (its costledger, its duckdb)."""
    py = checkout / ".venv" / "bin" / "python"
    return str(py) if checkout != REPO and py.exists() else sys.executable


def _costledger_cmd(checkout: Path = REPO) -> list[str]:
    exe = Path(_checkout_python(checkout)).with_name("costledger")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from pipeline.app.cli import main; sys.exit(main())"]


def _checkout_config(checkout: Path) -> Path:
    """The demo company's config of a checkout (examples/demo/config, or config/ before the move)."""
    if checkout == REPO:
        return DEMO_CONFIG
    demo = checkout / "examples" / "demo" / "config"
    return demo if demo.is_dir() else checkout / "config"


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a live process has used so far, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15)
    except (OSError, IndexError, ValueError):
        return None


def _rss(pid: int) -> int | None:
    """Resident bytes of a live process (VmRSS), None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _measure(cmd: list[str], env: dict[str, str] | None = None, sample_every: float = 0.05) -> dict[str, Any]:
    """Run cmd in a child: wall seconds, its own peak RSS (``wait4``), exit code, output, and a
    resident-memory timeline ``samples`` [(seconds since start, bytes)] for per-step peaks."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started_at = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, text=True)
        samples: list[tuple[float, int]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                rss, cpu = _rss(proc.pid), _cpu(proc.pid)
                if rss is not None:
                    samples.append((time.perf_counter() - t0, rss, cpu))
                done.wait(sample_every)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4 reaps this child and gives its own rusage (ru_maxrss: KiB on Linux)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {
            "seconds": seconds,
            "rc": proc.returncode,
            "stdout": out.read(),
            "stderr": err.read(),
            "peak_rss_bytes": usage.ru_maxrss * 1024,
            # on a shared machine wall time depends on the neighbours; CPU seconds much less so
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "started_at": started_at,
            "samples": samples,
        }


def bare_duckdb_cmd(data_file: Path, db_file: Path, python: str | None = None) -> list[str]:
    reader = "read_csv" if data_file.suffix == ".csv" else "read_parquet"
    code = (
        "import duckdb, sys\n"
        "con = duckdb.connect(sys.argv[1])\n"
        f'con.execute("create table t as select * from {reader}(\'" + sys.argv[2].replace("\'", "\'\'") + "\')")\n'
        "print(con.execute('select count(*) from t').fetchone()[0])\n"
        "con.close()\n"
    )
    return [python or sys.executable, "-c", code, str(db_file), str(data_file)]


# The notebook a FinOps analyst writes instead of the ledger: read, parse the tags, sum as Decimal.
NOTEBOOK = """
import decimal, json, sys
import pandas as pd
path = sys.argv[1]
cols = ["ChargePeriodStart", "BillingCurrency", "EffectiveCost", "Tags"]
if path.endswith(".parquet"):
    df = pd.read_parquet(path, columns=cols)
    df["EffectiveCost"] = df["EffectiveCost"].map(decimal.Decimal)
else:
    df = pd.read_csv(path, usecols=cols, dtype=str, keep_default_na=False)
    df["EffectiveCost"] = df["EffectiveCost"].map(decimal.Decimal)
tags = df["Tags"].map(lambda t: json.loads(t) if t else {})
df["leaf"] = tags.map(lambda t: t.get("cl-leaf", "unallocated"))
df["model"] = tags.map(lambda t: t.get("cl-model"))
df["month"] = df["ChargePeriodStart"].str.slice(0, 7)
out = df.groupby(["month", "BillingCurrency", "leaf", "model"], dropna=False)["EffectiveCost"].sum()
print(len(df), len(out), sum(out.values))
"""


def notebook_cmd(data_file: Path, python: str | None = None) -> list[str]:
    return [python or sys.executable, "-c", NOTEBOOK, str(data_file)]


def gate_timings(warehouse: Path) -> dict[str, float] | None:
    """Per-step seconds of the latest run, from audit.runs.timings in the published (or work) db."""
    for name in ("costledger.duckdb", "work.duckdb"):
        db = warehouse / name
        if not db.exists():
            continue
        try:
            con = duckdb.connect(str(db), read_only=True)
            try:
                row = con.execute(
                    "select timings from audit.runs order by started_at desc limit 1"
                ).fetchall()
            finally:
                con.close()
        except duckdb.Error:
            continue
        if row and row[0][0]:
            try:
                timings = json.loads(row[0][0])
            except ValueError:
                continue
            if isinstance(timings, dict):
                return {str(k): float(v) for k, v in timings.items() if isinstance(v, int | float)}
    return None


# The run's steps as the report groups them (audit.runs.timings keys -> group)
STEP_GROUPS = ("load", "transform", "gates", "publish")


def step_group(step: str) -> str | None:
    s = step.lower()
    if s == "discover" or s.startswith("load"):
        return "load"
    if s.startswith("transform"):
        return "transform"
    if any(w in s for w in ("check", "quality", "gate")):
        return "gates"
    if s.startswith("publish"):
        return "publish"
    return None


_TOOK = re.compile(r"^(\S+ \S+) \S+\s+\S+ \[pid (\d+)\] run \S+: (\S+) took ([\d.]+)s$")


def step_windows(
    warehouse: Path, run: dict[str, Any], timings: dict[str, float]
) -> tuple[dict[str, tuple[float, float]], bool]:
    """(step -> (start, end) seconds since the child started, exact?). From the run log's
    '<step> took N s' lines when the checkout writes them, else laid end to end before exit."""
    log = warehouse / "logs" / "costledger.log"
    windows: dict[str, tuple[float, float]] = {}
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            m = _TOOK.match(line)
            if not m:
                continue
            stamp, step, took = m[1], m[3], float(m[4])
            try:
                end = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp() - run["started_at"]
            except ValueError:
                continue
            windows[step] = (end - took, end)
    if windows and set(timings) <= set(windows):
        return windows, True
    end = run["seconds"]
    for step, took in reversed(list(timings.items())):
        windows[step] = (end - took, end)
        end -= took
    return windows, False


def per_step(
    timings: dict[str, float], windows: dict[str, tuple[float, float]], samples: list[tuple[float, int]]
) -> dict[str, dict[str, float]]:
    """Seconds and sampled peak RSS of each step group."""
    out: dict[str, dict[str, float]] = {}
    for step, took in timings.items():
        group = step_group(step)
        if group is None:
            continue
        g = out.setdefault(group, {"seconds": 0.0, "peak_rss_bytes": 0, "cpu_seconds": 0.0})
        g["seconds"] += took
        lo, hi = windows.get(step, (0.0, 0.0))
        inside = [x for x in samples if lo - 0.05 <= x[0] <= hi + 0.05]
        g["peak_rss_bytes"] = max(g["peak_rss_bytes"], max((x[1] for x in inside), default=0))
        cpu = [x[2] for x in inside if len(x) > 2 and x[2] is not None]
        if cpu:
            g["cpu_seconds"] += max(cpu) - min(cpu)
    return {g: out[g] for g in STEP_GROUPS if g in out}


# --- --profile: EXPLAIN ANALYZE of the heaviest statements ----------------------------------

PROFILE_SCRIPT = r"""
import glob, json, os, sys, time
import duckdb
work, checkout, data_file, out_dir = sys.argv[1:5]
os.makedirs(out_dir, exist_ok=True)
con = duckdb.connect(work)
con.execute("set TimeZone = 'UTC'")
con.execute("set python_enable_replacements = false")
for key, value in json.loads(sys.argv[5]).items():
    con.execute(f"set {key} = '{value}'")
reader = "read_csv" if data_file.endswith(".csv") else "read_parquet"
opts = ", all_varchar = true" if reader == "read_csv" else ""
statements = [("read_file", f"select * from {reader}('{data_file}'{opts})")]
models = []
for pattern in ("sql/*/int_line_items_*.sql", "sql/*/int_rule_matches.sql", "sql/core/line_items*.sql",
                "sql/core/rule_matches.sql", "sql/*/*allocated*.sql",
                "sql/marts/cost_line_items.sql", "sql/marts/monthly_leaf_cost.sql",
                "sql/marts/monthly_cost_rollup.sql", "sql/audit/reconciliation.sql"):
    for path in sorted(glob.glob(os.path.join(checkout, pattern))):
        if path not in models:
            models.append(path)
for path in models:
    sql = open(path, encoding="utf-8").read().strip().rstrip(";")
    if "$" in sql:
        continue  # a parameterised step: not re-run here
    statements.append((os.path.relpath(path, checkout).replace("/", "__")[:-4], sql))
summary = []
for i, (name, sql) in enumerate(statements):
    t0 = time.perf_counter()
    try:
        rows = con.execute(f"explain analyze create or replace temp table __profiled as {sql}").fetchall()
        text = "\n".join(str(r[-1]) for r in rows)
    except duckdb.Error as exc:
        text = f"not profiled: {str(exc).splitlines()[0]}"
    seconds = time.perf_counter() - t0
    con.execute("drop table if exists __profiled")
    fname = f"{i:02d}-{name}.txt"
    with open(os.path.join(out_dir, fname), "w", encoding="utf-8") as fh:
        fh.write(f"-- {name}: {seconds:.2f} s\n{text}\n")
    summary.append({"statement": name, "seconds": round(seconds, 3), "file": fname})
summary.sort(key=lambda r: -r["seconds"])
with open(os.path.join(out_dir, "summary.json"), "w", encoding="utf-8") as fh:
    json.dump(summary, fh, indent=2)
print(json.dumps(summary))
"""


def profile(checkout: Path, warehouse: Path, data_file: Path, out_dir: Path) -> list[dict] | None:
    """EXPLAIN ANALYZE of the file read and the core/mart models, under the run's memory settings."""
    settings = {
        "memory_limit": os.environ.get("COSTLEDGER_DUCKDB_MEMORY_LIMIT", "3GB"),
        "temp_directory": str(warehouse / ".tmp"),
    }
    cmd = [
        _checkout_python(checkout),
        "-c",
        PROFILE_SCRIPT,
        str(warehouse / "work.duckdb"),
        str(checkout),
        str(data_file),
        str(out_dir),
        json.dumps(settings),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  profile failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def _line(label: str, m: dict[str, Any], bare_s: float | None = None) -> str:
    ratio = f"   {m['seconds'] / bare_s:5.2f}x bare" if bare_s else ""
    cpu = f"   CPU {m['cpu_seconds']:7.1f} s" if "cpu_seconds" in m else ""
    return f"  {label:<20}{m['seconds']:8.1f} s   peak RSS {_gib(m['peak_rss_bytes'])}{cpu}{ratio}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python tools/bench.py", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--lines", type=int, default=5_000_000, help="FOCUS lines to generate (default 5,000,000)"
    )
    ap.add_argument("--format", choices=("csv", "parquet"), default="csv")
    ap.add_argument(
        "--parts", type=int, default=1, help="write the export as N part files (same total lines)"
    )
    ap.add_argument(
        "--by-month",
        action="store_true",
        help="write the export as one file per billing period (separate loads, as exports arrive)",
    )
    ap.add_argument(
        "--months",
        type=int,
        default=DEFAULT_MONTHS,
        help=f"billing periods of history from 2026-01, 1 to {MAX_MONTHS} (default {DEFAULT_MONTHS}: 2026-01..03)",
    )
    ap.add_argument("--workdir", default="bench", help="where the landing, warehouse and results go")
    ap.add_argument("--generate-only", action="store_true", help="write the export and stop")
    ap.add_argument("--notebook", action="store_true", help="also time the pandas notebook")
    ap.add_argument("--profile", metavar="DIR", help="save EXPLAIN ANALYZE of the heaviest statements")
    ap.add_argument(
        "--checkout", metavar="DIR", help="measure another checkout of costledger (its .venv and config)"
    )
    ap.add_argument("--label", default="", help="a name for this measurement in history.jsonl")
    ap.add_argument(
        "--incremental",
        action="store_true",
        help="after the full run, a night that adds one small FOCUS file to one month, on the same warehouse",
    )
    ap.add_argument(
        "--night-lines", type=int, default=NIGHT_LINES, help=f"lines of that file (default {NIGHT_LINES:,})"
    )
    args = ap.parse_args(argv)
    if args.lines <= 0:
        print("bench: --lines must be positive", file=sys.stderr)
        return 2
    if not 1 <= args.parts <= args.lines:
        print("bench: --parts must be between 1 and --lines", file=sys.stderr)
        return 2
    if not 1 <= args.months <= MAX_MONTHS:
        print(
            f"bench: --months must be between 1 and {MAX_MONTHS} (billing periods from 2026-01)",
            file=sys.stderr,
        )
        return 2
    if args.by_month and args.lines < bench_days(args.months):
        print(
            f"bench: --by-month over {args.months} months needs at least {bench_days(args.months)} lines"
            " (one a day) so every billing-period file has lines",
            file=sys.stderr,
        )
        return 2
    if (args.parts > 1 or args.by_month) and args.notebook:
        print("bench: --notebook reads one file; leave it out with --parts or --by-month", file=sys.stderr)
        return 2
    if args.parts > 1 and args.by_month:
        print("bench: --parts and --by-month are two layouts of the export; pick one", file=sys.stderr)
        return 2

    checkout = Path(args.checkout).resolve() if args.checkout else REPO
    python = _checkout_python(checkout)
    work = Path(args.workdir).resolve()
    landing, warehouse, bare_db = work / "landing", work / "warehouse", work / "bare.duckdb"
    for left in (landing / NIGHT_DIR).glob("night-*.csv"):
        left.unlink(missing_ok=True)  # a night's file left by an earlier bench
    t0 = time.perf_counter()
    data_file = generate(landing, args.lines, args.format, args.parts, args.by_month, args.months)
    gen_s = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in data_file.parent.glob(data_file.name))
    parts = f" over {args.months} months" + (f" in {args.parts} parts" if args.parts > 1 else "")
    parts = f" in {args.months} billing-period files" if args.by_month else parts
    print(
        f"bench: {args.lines:,} FOCUS 1.2 lines{parts}, {args.format}, {size / 2**20:,.1f} MiB -> {data_file}"
    )
    print(f"  checkout            {checkout}")
    print(f"  generate            {gen_s:8.1f} s")
    if args.generate_only:
        return 0

    def bare_load() -> dict[str, Any]:
        for p in (bare_db, bare_db.with_suffix(".duckdb.wal")):
            p.unlink(missing_ok=True)
        m = _measure(bare_duckdb_cmd(data_file, bare_db, python))
        for p in (bare_db, bare_db.with_suffix(".duckdb.wal")):
            p.unlink(missing_ok=True)
        return m

    bare_before = bare_load()
    print(_line("bare DuckDB load", bare_before))

    shutil.rmtree(warehouse, ignore_errors=True)
    warehouse.mkdir(parents=True)
    env = dict(os.environ)
    env.setdefault("COSTLEDGER_PII_KEY", "bench-not-a-secret")
    run_cmd = [*_costledger_cmd(checkout), "run", "--config", str(_checkout_config(checkout))]
    run = _measure([*run_cmd, "--landing", str(landing), "--warehouse", str(warehouse)], env)

    bare_after = bare_load()
    print(_line("bare DuckDB load", bare_after))
    bare_s = (bare_before["seconds"] + bare_after["seconds"]) / 2
    bare_rss = max(bare_before["peak_rss_bytes"], bare_after["peak_rss_bytes"])
    bare_cpu = (bare_before["cpu_seconds"] + bare_after["cpu_seconds"]) / 2
    print(
        _line("costledger run", run, bare_s)
        + f", CPU {run['cpu_seconds'] / bare_cpu:5.2f}x   exit {run['rc']}"
    )
    if run["rc"] != 0:
        tail = (run["stderr"].strip() or run["stdout"].strip()).splitlines()[-3:]
        for line in tail:
            print(f"    | {line}")
    ratio = run["seconds"] / bare_s if bare_s else float("nan")

    timings = gate_timings(warehouse) if run["rc"] == 0 else None
    steps: dict[str, dict[str, float]] = {}
    gate_share = None
    if timings:
        windows, exact = step_windows(warehouse, run, timings)
        steps = per_step(timings, windows, run["samples"])
        mark = " " if exact else "~"
        for group, g in steps.items():
            print(
                f"    {group:<18}{g['seconds']:8.1f} s  {mark}peak RSS {_gib(g['peak_rss_bytes'])}"
                f"   CPU {g['cpu_seconds']:7.1f} s   {g['seconds'] / bare_s:5.2f}x bare"
                + (f", CPU {g['cpu_seconds'] / bare_cpu:5.2f}x" if bare_cpu else "")
            )
        if "gates" in steps and sum(timings.values()):
            gate_share = steps["gates"]["seconds"] / sum(timings.values())
        print("    steps             " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    else:
        print("    steps                  n/a (the run recorded no per-step timings)")

    night = None
    if args.incremental and run["rc"] == 0:
        night_file = generate_night(landing, args.night_lines, night_month(args.months))
        try:
            nrun = _measure([*run_cmd, "--landing", str(landing), "--warehouse", str(warehouse)], env)
            ntimings = gate_timings(warehouse) if nrun["rc"] == 0 else None
            # then a night with nothing new: same landing, config and code
            quiet = _measure([*run_cmd, "--landing", str(landing), "--warehouse", str(warehouse)], env)
        finally:
            night_file.unlink(missing_ok=True)
        share = nrun["cpu_seconds"] / run["cpu_seconds"] if run["cpu_seconds"] else float("nan")
        print(
            _line(f"night +{args.night_lines:,} lines", nrun, bare_s)
            + f"   {share:6.1%} of the full run's CPU, {nrun['seconds'] / run['seconds']:6.1%} of its time"
            + f"   exit {nrun['rc']}"
        )
        nsteps: dict[str, dict[str, float]] = {}
        if ntimings:
            windows, exact = step_windows(warehouse, nrun, ntimings)
            nsteps = per_step(ntimings, windows, nrun["samples"])
            mark = " " if exact else "~"
            for group, g in nsteps.items():
                full_cpu = steps.get(group, {}).get("cpu_seconds")
                print(
                    f"    {group:<18}{g['seconds']:8.1f} s  {mark}peak RSS {_gib(g['peak_rss_bytes'])}"
                    f"   CPU {g['cpu_seconds']:7.1f} s"
                    + (f"   {g['cpu_seconds'] / full_cpu:6.1%} of the full run's" if full_cpu else "")
                )
            print("    steps             " + ", ".join(f"{k} {v:.1f}s" for k, v in ntimings.items()))
        else:
            tail = (nrun["stderr"].strip() or nrun["stdout"].strip()).splitlines()[-3:]
            for line in tail:
                print(f"    | {line}")
        print(
            _line("night, nothing new", quiet)
            + f"   exit {quiet['rc']}"
            + ("" if "nothing new since" in quiet["stdout"] + quiet["stderr"] else "   (work was done!)")
        )
        night = {
            "nothing_new": {k: quiet[k] for k in ("seconds", "peak_rss_bytes", "cpu_seconds", "rc")},
            "lines": args.night_lines,
            "month": night_month(args.months),
            "run": {k: nrun[k] for k in ("seconds", "peak_rss_bytes", "cpu_seconds", "rc")},
            "cpu_share_of_full_run": round(share, 4),
            "steps": nsteps,
            "step_seconds": ntimings,
        }

    notebook = None
    if args.notebook:
        notebook = _measure(notebook_cmd(data_file, python))
        print(_line("pandas notebook", notebook, bare_s) + f"   exit {notebook['rc']}")
        if notebook["rc"] != 0:
            print(f"    | {(notebook['stderr'].strip().splitlines() or ['?'])[-1]}")

    profiled = None
    if args.profile and run["rc"] == 0:
        profiled = profile(checkout, warehouse, data_file, Path(args.profile).resolve())
        for r in (profiled or [])[:5]:
            print(f"    profile  {r['statement']:<40}{r['seconds']:8.2f} s")

    def figures(m: dict[str, Any] | None) -> dict[str, Any] | None:
        return {k: m[k] for k in ("seconds", "peak_rss_bytes", "cpu_seconds", "rc")} if m else None

    results = {
        "label": args.label,
        "checkout": str(checkout),
        "lines": args.lines,
        "format": args.format,
        "parts": args.parts,
        "by_month": args.by_month,
        "months": args.months,
        "file_bytes": size,
        "generate_seconds": round(gen_s, 3),
        "load_average": os.getloadavg(),
        "costledger_run": figures(run),
        "bare_duckdb": {
            "seconds": bare_s,
            "peak_rss_bytes": bare_rss,
            "cpu_seconds": bare_cpu,
            "rc": bare_after["rc"],
        },
        "cpu_ratio": round(run["cpu_seconds"] / bare_cpu, 3) if bare_cpu else None,
        "bare_duckdb_each": [figures(bare_before), figures(bare_after)],
        "ratio": round(ratio, 3),
        "steps": {g: {**v, "ratio_to_bare": round(v["seconds"] / bare_s, 3)} for g, v in steps.items()},
        "step_seconds": timings,
        "quality_gate_share": gate_share,
        "notebook": figures(notebook),
        "incremental_night": night,
        "profile": profiled,
    }
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    with (work / "history.jsonl").open("a") as fh:
        fh.write(json.dumps(results) + "\n")
    ok = run["rc"] == 0 and bare_after["rc"] == 0 and (notebook is None or notebook["rc"] == 0)
    ok = ok and (night is None or (night["run"]["rc"] == 0 and night["nothing_new"]["rc"] == 0))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
