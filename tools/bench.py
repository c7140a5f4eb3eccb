"""``make bench``: time ``costledger run`` on an N-line FOCUS export against bare DuckDB loading it.

    python tools/bench.py [--lines 5000000] [--format csv|parquet] [--workdir bench/]

1. Generates, set-based in DuckDB (``copy (select ... from range(N)) to ...``), one FOCUS 1.2
   export of N lines (AWS lines in USD, Alibaba Cloud lines in CNY, three months, tags that
   examples/demo/config/cost_rules.yaml places: model/leaf tags, the shared GPU pool, shared serving, the web
   shop, untagged lines, a support plan, credits and tax), plus the USD->CNY rates, budgets and
   GPU-hour metrics the run needs, under ``<workdir>/landing``. The export is reused when it
   already has the asked size and format.
2. Runs ``costledger run --config examples/demo/config --landing <workdir>/landing
   --warehouse <workdir>/warehouse`` in a child process on a fresh warehouse.
3. Runs bare DuckDB ``create table t as select * from read_csv(...)`` (or ``read_parquet``) on
   the same file, into a fresh database file, in a child process.

Prints both wall times, the ratio, each child's peak RSS (``wait4`` rusage) and, when the run
recorded per-step timings in ``audit.runs``, the share of the run spent in quality gates.
Writes the figures to ``<workdir>/results.json``. Nothing here reads the clock to pick data:
the export is the same for the same N.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

# tools/ and examples/ are not installed: the checkout's root goes on the path for the demo's columns
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from examples.demo.generate import FOCUS_12_COLUMNS, FOCUS_DECIMAL_COLUMNS  # noqa: E402
from pipeline.config.settings import DEMO_CONFIG  # noqa: E402

MONTHS = ("2026-01", "2026-02", "2026-03")
BENCH_DAYS = 90  # 2026-01-01 .. 2026-03-31

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


def focus_select(lines: int) -> str:
    """The set-based FOCUS 1.2 query: one row per i in range(lines), deterministic."""
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
        timestamp '2026-01-01' + to_days(cast(i % {BENCH_DAYS} as integer))
            + to_hours(cast((i // {BENCH_DAYS}) % 24 as integer)) as ts,
        -- unit price 0.0001 .. 20.0000 a unit, 1 .. 24 units: amounts exact in DECIMAL (no float)
        cast(cast(hash(i) % 200000 + 1 as decimal(18, 0)) * 0.0001 as decimal(38, 10)) as unit_price,
        cast(i % 24 + 1 as decimal(38, 10)) as qty,
        case when i % 1000 = 999 then 'Tax' when i % 997 = 996 then 'Credit'
             when i % 2003 = 2002 then 'Purchase' else 'Usage' end as cat
    from range({int(lines)}) t(i)
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


def generate(landing: Path, lines: int, fmt: str) -> Path:
    """Write the bench landing zone; returns the FOCUS file. Reused when size and format match."""
    landing.mkdir(parents=True, exist_ok=True)
    ext = "csv" if fmt == "csv" else "parquet"
    target = landing / "focus" / "bench" / f"bench-focus-1.2-{lines}.{ext}"
    stamp = landing / ".bench.json"
    want = {"lines": lines, "format": fmt, "file": target.relative_to(landing).as_posix()}
    if target.exists() and stamp.exists() and json.loads(stamp.read_text()) == want:
        return target
    if (landing / "focus" / "bench").exists():
        shutil.rmtree(landing / "focus" / "bench")
    target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        query = focus_select(lines)
        if fmt == "csv":
            con.execute(f"copy ({query}) to {_lit(str(target))} (header, delimiter ',')")
        else:
            con.execute(f"copy ({query}) to {_lit(str(target))} (format parquet, compression zstd)")
    finally:
        con.close()
    _side_files(landing)
    stamp.write_text(json.dumps(want) + "\n")
    return target


def _side_files(landing: Path) -> None:
    """FX rates, budgets and GPU-hour metrics for the bench months (what the rules need)."""
    con = duckdb.connect()
    try:
        (landing / "fx_rates").mkdir(exist_ok=True)
        con.execute(f"""
            copy (select strftime(d, '%Y-%m-%d') as rate_date, 'USD' as from_currency, 'CNY' as to_currency,
                         cast(7.15 + (hash(d) % 1000) * 0.0001 as decimal(10, 4)) as rate
                  from range(date '2025-12-01', date '2026-05-01', interval 1 day) t(d))
            to {_lit(str(landing / "fx_rates" / "usd_cny_daily.csv"))} (header)""")
        (landing / "budgets").mkdir(exist_ok=True)
        con.execute(f"""
            copy (select m as month, s.stage, null as leaf, null as model_id, 'CNY' as currency,
                         cast(s.amount as decimal(18, 2)) as amount
                  from (values {", ".join(f"('{m}')" for m in MONTHS)}) mm(m),
                       (values ('pretrain', 200000), ('tuning', 100000), ('deploy', 300000),
                               ('maintenance', 400000)) s(stage, amount)
                  order by month, s.amount)
            to {_lit(str(landing / "budgets" / "stage_budgets.csv"))} (header)""")
        (landing / "metrics").mkdir(exist_ok=True)
        con.execute(f"""
            copy (select m as month, model_id, 'gpu_hours' as metric, 100 + 50 * n as value
                  from (values {", ".join(f"('{m}')" for m in MONTHS)}) mm(m),
                       (values ('reco-llm', 1), ('ads-ctr-dcn', 2), ('search-rerank-bert', 3)) x(model_id, n)
                  order by month, model_id)
            to {_lit(str(landing / "metrics" / "gpu_hours.csv"))} (header)""")
    finally:
        con.close()


def _costledger_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("costledger")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from pipeline.app.cli import main; sys.exit(main())"]


def timed(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run cmd in a child; wall seconds, the child's own peak RSS (bytes), exit code, output tails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    # communicate() has reaped the child; RUSAGE_CHILDREN keeps the max over reaped children,
    # so a fresh python per measurement (below) keeps the two figures apart.
    return {"seconds": seconds, "rc": proc.returncode, "stdout": out, "stderr": err}


def _measure(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``timed`` in a fresh interpreter so RUSAGE_CHILDREN is this command's alone."""
    probe = (
        "import json, resource, sys\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from bench import timed\n"
        "r = timed(json.loads(sys.argv[1]))\n"
        "r['peak_rss_bytes'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
        "print(json.dumps(r))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(cmd), str(Path(__file__).resolve().parent)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench probe failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bare_duckdb_cmd(data_file: Path, db_file: Path) -> list[str]:
    reader = "read_csv" if data_file.suffix == ".csv" else "read_parquet"
    code = (
        "import duckdb, sys\n"
        "con = duckdb.connect(sys.argv[1])\n"
        f'con.execute("create table t as select * from {reader}(\'" + sys.argv[2].replace("\'", "\'\'") + "\')")\n'
        "print(con.execute('select count(*) from t').fetchone()[0])\n"
        "con.close()\n"
    )
    return [sys.executable, "-c", code, str(db_file), str(data_file)]


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


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python tools/bench.py", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--lines", type=int, default=5_000_000, help="FOCUS lines to generate (default 5,000,000)"
    )
    ap.add_argument("--format", choices=("csv", "parquet"), default="csv")
    ap.add_argument("--workdir", default="bench", help="where the landing, warehouse and results go")
    ap.add_argument("--generate-only", action="store_true", help="write the export and stop")
    args = ap.parse_args(argv)
    if args.lines <= 0:
        print("bench: --lines must be positive", file=sys.stderr)
        return 2

    work = Path(args.workdir).resolve()
    landing, warehouse, bare_db = work / "landing", work / "warehouse", work / "bare.duckdb"
    t0 = time.perf_counter()
    data_file = generate(landing, args.lines, args.format)
    gen_s = time.perf_counter() - t0
    size = data_file.stat().st_size
    print(f"bench: {args.lines:,} FOCUS 1.2 lines, {args.format}, {size / 2**20:,.1f} MiB -> {data_file}")
    print(f"  generate            {gen_s:8.1f} s")
    if args.generate_only:
        return 0

    shutil.rmtree(warehouse, ignore_errors=True)
    warehouse.mkdir(parents=True)
    env = dict(os.environ)
    env.setdefault("COSTLEDGER_PII_KEY", "bench-not-a-secret")
    run_cmd = [*_costledger_cmd(), "run", "--config", str(DEMO_CONFIG)]
    run = _measure([*run_cmd, "--landing", str(landing), "--warehouse", str(warehouse)], env)
    print(
        f"  costledger run      {run['seconds']:8.1f} s   peak RSS {_gib(run['peak_rss_bytes'])}   exit {run['rc']}"
    )
    if run["rc"] != 0:
        tail = (run["stderr"].strip() or run["stdout"].strip()).splitlines()[-3:]
        for line in tail:
            print(f"    | {line}")

    for p in (bare_db, bare_db.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    bare = _measure(bare_duckdb_cmd(data_file, bare_db))
    print(
        f"  bare DuckDB load    {bare['seconds']:8.1f} s   peak RSS {_gib(bare['peak_rss_bytes'])}   exit {bare['rc']}"
    )
    ratio = run["seconds"] / bare["seconds"] if bare["seconds"] else float("nan")
    print(f"  ratio               {ratio:8.1f} x")

    timings = gate_timings(warehouse) if run["rc"] == 0 else None
    gate_share = None
    if timings:
        gates = sum(
            v for k, v in timings.items() if any(w in k.lower() for w in ("check", "quality", "gate"))
        )
        total = sum(v for k, v in timings.items() if k.lower() not in ("total", "run"))
        total = timings.get("total", total) or total
        if total:
            gate_share = gates / total
            print(f"  quality gates       {gates:8.1f} s   {100 * gate_share:.1f} % of the run")
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
        print(f"  steps               {steps}")
    else:
        print("  quality gates            n/a (the run recorded no per-step timings)")

    results = {
        "lines": args.lines,
        "format": args.format,
        "file_bytes": size,
        "generate_seconds": round(gen_s, 3),
        "costledger_run": {k: run[k] for k in ("seconds", "peak_rss_bytes", "rc")},
        "bare_duckdb": {k: bare[k] for k in ("seconds", "peak_rss_bytes", "rc")},
        "ratio": round(ratio, 3),
        "step_seconds": timings,
        "quality_gate_share": gate_share,
    }
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0 if run["rc"] == 0 and bare["rc"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
