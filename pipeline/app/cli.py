"""`costledger` — the command line.

    costledger demo                         make the demo company (examples/demo/) and run everything
    costledger run [--month M | --from M --to M]
    costledger report --month M [--send] [--to ADDR ...] [--out DIR] [--lang en|zh-CN] [--force]
    costledger explain --month M [--top N]  why cost is unallocated, with rules to paste
    costledger query "select ..."
    costledger status
    costledger forget PATH --reason TEXT    take a file that is gone from landing/ out of the books
    costledger pull [URL --to FOLDER]       copy new or changed exports from object stores into landing/
    costledger docs [--check] [--out FILE]  write (or check) the data dictionary from the tables' contracts
    costledger export focus [--month M | --from M --to M] [--out PATH] [--format csv|parquet]
                                            the published ledger as a FOCUS 1.3 dataset

Every command but docs takes --landing, --warehouse (folder) and --config; COSTLEDGER_LANDING,
COSTLEDGER_WAREHOUSE and COSTLEDGER_CONFIG are the defaults. Without --config or
COSTLEDGER_CONFIG, the config folder recorded in the warehouse or landing folder (`costledger
demo` records its own) is used, else the checkout's config/ (pipeline.config.settings.resolve_config_dir). Exit 0 on success; on failure a
one-line reason on stderr and a non-zero exit code (pipeline/errors.py): the traceback goes to
warehouse/logs/costledger.log, and to stderr too with --debug.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from decimal import Decimal

import duckdb

from pipeline.app import logs
from pipeline.errors import ConfigError, CostledgerError, InputError, PullFailedError, user_error

DEMO_PII_KEY = "costledger-demo-key-not-a-secret"


def _debug_flag(p: argparse.ArgumentParser, default) -> None:
    p.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="also print the log, tracebacks included, to stderr (always in warehouse/logs/costledger.log)",
    )


def _common(p: argparse.ArgumentParser) -> None:
    # --debug is global: `costledger --debug run` and `costledger run --debug` both work
    _debug_flag(p, argparse.SUPPRESS)
    g = p.add_argument_group("locations")
    g.add_argument("--landing", help="landing folder (default: $COSTLEDGER_LANDING or config paths.landing)")
    g.add_argument(
        "--warehouse", help="warehouse folder (default: $COSTLEDGER_WAREHOUSE or config paths.warehouse)"
    )
    g.add_argument(
        "--config",
        help="config folder (default: $COSTLEDGER_CONFIG, else the one recorded in the warehouse or "
        "landing folder, else the checkout's config/)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="costledger",
        description="The monthly cost ledger of e-commerce AI models: billing exports, vendor invoices "
        "and time logs into nine leaf costs, published to DuckDB.",
    )
    _debug_flag(parser, False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="generate the demo company into the landing folder and run everything")
    _common(p)
    p.add_argument("--seed", type=int, default=20261, help="random seed of the demo company (default 20261)")
    p.add_argument("--no-report", action="store_true", help="do not write the latest month's report")

    p = sub.add_parser("run", help="ingest, check, transform and publish")
    _common(p)
    p.add_argument("--month", help="rebuild only this month (YYYY-MM)")
    p.add_argument("--from", dest="month_from", help="first month to rebuild (YYYY-MM)")
    p.add_argument("--to", dest="month_to", help="last month to rebuild (YYYY-MM)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON")
    p.add_argument(
        "--force",
        action="store_true",
        help="rebuild and republish even when nothing changed since the last successful publish",
    )
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="go on although more than ingest.max_missing_share of the booked files are gone from the "
        "landing folder (their rows stay booked)",
    )

    p = sub.add_parser("report", help="the month's cost report (terminal, files, or e-mail)")
    _common(p)
    p.add_argument("--month", required=True, help="the month to report (YYYY-MM)")
    p.add_argument("--send", action="store_true", help="e-mail the report over SMTP (COSTLEDGER_SMTP_*)")
    p.add_argument("--to", nargs="+", metavar="ADDR", help="recipients (default: config report.recipients)")
    p.add_argument("--out", metavar="DIR", help="write .html, .eml and attachments to DIR")
    p.add_argument(
        "--lang", choices=["en", "zh-CN"], help="report language (default: config report.language)"
    )
    p.add_argument(
        "--force", action="store_true", help="send again even if this month was sent to these recipients"
    )

    p = sub.add_parser(
        "explain",
        help="why the month's cost is unallocated: the largest groups, each with a rule to paste",
        description="List the month's largest unallocated groups (lines a rule could place together) "
        "with their cost, share of unallocated and of total, line count, resources and tags, and a "
        "cost_rules.yaml rule that would place each (leaf and model suggested from where similar "
        "cost went: check them before pasting).",
    )
    _common(p)
    p.add_argument("--month", required=True, help="the month to explain (YYYY-MM)")
    p.add_argument("--top", type=int, default=10, help="how many groups (default 10)")

    p = sub.add_parser("query", help="run SQL against the published ledger (read-only)")
    _common(p)
    p.add_argument("sql", help='the SQL to run, e.g. "select * from marts.monthly_cost_rollup"')
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")

    p = sub.add_parser(
        "plan",
        help="project the what-if strategies of config/scenarios.yaml against the forecast",
        description="Each strategy's C_total and nine leaves over the next months, side by side with the "
        "forecast baseline, the cumulative difference and the break-even month (read from the published "
        "marts.scenario_projection; docs/planning.md).",
    )
    _common(p)
    p.add_argument(
        "--months", type=int, default=12, choices=range(1, 13), metavar="N", help="1-12 (default 12)"
    )

    p = sub.add_parser("status", help="files, runs, checks and what was refused")
    _common(p)

    p = sub.add_parser(
        "forget",
        help="take a file that is gone from the landing folder out of the books (audited)",
        description="Take a file that is no longer in the landing folder out of the books: its rows leave "
        "raw and core now, the next `costledger run` publishes without them, and audit.forgotten_files "
        "keeps the path, sha256, rows, cost, reason, time and user.",
    )
    _common(p)
    p.add_argument(
        "path", metavar="PATH", help="the file's path under the landing folder, as `status` lists it"
    )
    p.add_argument("--reason", required=True, help="why it is taken out (kept in audit.forgotten_files)")

    p = sub.add_parser(
        "pull",
        help="copy new or changed billing exports from object stores into landing/",
        description="Sync object-store prefixes into the landing folder: only new or changed objects are "
        "copied, and a pull that fails changes nothing. Without URL, every `pull:` entry of "
        "costledger.yaml. Credentials and endpoints come from the clients' own settings "
        "(AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, GOOGLE_APPLICATION_CREDENTIALS, "
        "AZURE_STORAGE_CONNECTION_STRING, ...).",
    )
    _common(p)
    p.add_argument("url", nargs="?", help="one prefix to pull now: s3://, gs://, az://, abfs:// or file:///")
    p.add_argument("--to", metavar="FOLDER", help="the landing folder for URL, e.g. aws_cur/my-export")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--json", action="store_true", help="print what was pulled as JSON")

    p = sub.add_parser(
        "docs",
        help="write the data dictionary (docs/data-dictionary.md) from the tables' contracts",
        description="Generate the data dictionary from the contracts beside the SQL "
        "(sql/<schema>/<table>.yml), as `make docs` does. With --check, write nothing and exit 1 "
        "when the file differs from what the contracts generate.",
    )
    _debug_flag(p, argparse.SUPPRESS)
    p.add_argument("--check", action="store_true", help="exit 1 when the file is stale; write nothing")
    p.add_argument("--out", metavar="FILE", help="the file (default: the checkout's docs/data-dictionary.md)")
    p = sub.add_parser("export", help="write the published ledger in another format (FOCUS 1.3)")
    export = p.add_subparsers(dest="export_format", required=True, metavar="FORMAT")
    p = export.add_parser(
        "focus",
        help="the allocated ledger as a FOCUS 1.3 cost-and-usage dataset (CSV or Parquet)",
        description="Write the published ledger's allocated cost (C_total, unallocated and out of scope) "
        "as a FOCUS 1.3 cost-and-usage dataset: FOCUS columns, split cost allocation columns for "
        "shared cost, costledger's leaf, model and rule as x_ columns; people cost at its published "
        "privacy grain (docs/focus.md). Without --month/--from/--to: every published month.",
    )
    _common(p)
    p.add_argument("--month", help="one month (YYYY-MM)")
    p.add_argument("--from", dest="month_from", help="first month (YYYY-MM)")
    p.add_argument("--to", dest="month_to", help="last month (YYYY-MM)")
    p.add_argument(
        "--out",
        metavar="PATH",
        help="the file to write (default: warehouse/exports/focus-1.3-<months>.<format>)",
    )
    p.add_argument("--format", choices=["csv", "parquet"], default="csv", help="csv (default) or parquet")
    return parser


def _settings(args):
    from pipeline.config.settings import load_settings

    settings = load_settings(config=args.config, landing=args.landing, warehouse=args.warehouse)
    logs.to_file(settings.warehouse)
    logs.log.info("costledger %s (pid %d)", args.command, os.getpid())
    return settings


def _progress(quiet: bool):
    if quiet:
        return None
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    return say


_FILE_COUNTS = ("files_loaded", "files_unchanged", "files_refused", "files_missing", "files_pending")


def _print_run_summary(summary, landing=None) -> None:
    from pipeline.ingest import rejected_text

    seen = any(s.get(k) for s in summary.loads for k in (*_FILE_COUNTS, "files_duplicate"))
    if landing is not None and not seen and not summary.unsupported and not summary.months:
        # a new company's first run: one line, not a table of zeros
        print(
            f"run {summary.run_id}: {summary.status}: {landing} holds no files yet "
            "(drop billing exports, invoices and time logs there: docs/formats.md)"
        )
        return
    print(f"run {summary.run_id}: {summary.status}")
    print(
        f"{'source':<18}{'loaded':>8}{'unchanged':>11}{'refused':>9}{'missing':>9}{'pending':>9}{'rows read':>12}"
        f"{'rejected':>10}{'duplicate':>11}"
    )
    for s in summary.loads:
        print(
            f"{s['source']:<18}{s['files_loaded']:>8}{s['files_unchanged']:>11}{s['files_refused']:>9}"
            f"{s['files_missing']:>9}{s['files_pending']:>9}{s['rows_read']:>12,}{s['rows_rejected']:>10,}"
            f"{s.get('files_duplicate', 0):>11}"
        )
    for r in summary.rejected:
        print(f"rejected: {rejected_text(r)}")
    for line in summary.warnings:
        print(f"warning: {line}")
    for rel, why in summary.unsupported.items():
        print(f"not read: {rel}: {why}")
    if summary.message:
        print(summary.message)
    if summary.months:
        print(
            f"months: {summary.months[0]} .. {summary.months[-1]} ({len(summary.months)}); allocated lines: {summary.lines:,}"
        )
    if summary.coverage:
        shown = ", ".join(
            f"{m} {pct:.1f} %" if pct is not None else f"{m} -" for m, pct in summary.coverage.items()
        )
        print(f"rule coverage (in-scope cost placed on a leaf): {shown}")
    if summary.published:
        print(f"published: {summary.published}")
    print("timings (s): " + ", ".join(f"{k}={v}" for k, v in summary.timings.items()))


def cmd_run(args) -> int:
    from pipeline.app import steps

    settings = _settings(args)
    if args.month and (args.month_from or args.month_to):
        raise CostledgerError("use either --month or --from/--to")
    lo, hi = (args.month, args.month) if args.month else (args.month_from, args.month_to)
    summary = steps.run_all(
        settings,
        lo,
        hi,
        progress=_progress(args.quiet or args.json),
        force=args.force,
        allow_missing=args.allow_missing,
    )
    if args.json:
        print(json.dumps(summary.__dict__, default=str, indent=2))
    else:
        _print_run_summary(summary, settings.landing)
    return 0


def _demo_generator():
    """examples/demo/generate.py of the checkout, which the package runs from (like sql/)."""
    import importlib.util

    from pipeline.config.settings import DEMO_DIR

    path = DEMO_DIR / "generate.py"
    if not path.is_file():
        raise ConfigError(
            f"{path}: the demo company is not here (costledger demo runs from a source checkout)"
        )
    spec = importlib.util.spec_from_file_location("costledger_demo_generate", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def cmd_demo(args) -> int:
    from pipeline.app import steps
    from pipeline.config.settings import DEMO_CONFIG, record_config

    os.environ.setdefault("COSTLEDGER_PII_KEY", DEMO_PII_KEY)
    # The demo company's data only makes sense with its own config: COSTLEDGER_CONFIG is not read.
    args.config = args.config or str(DEMO_CONFIG)
    demo = _demo_generator()
    settings = _settings(args)
    # later commands given the same --warehouse or --landing find this config (resolve_config_dir)
    record_config(settings)
    say = _progress(False)
    say(f"generating the demo company into {settings.landing}")
    demo.generate(settings.landing, seed=args.seed)
    summary = steps.run_all(settings, progress=say)
    _print_run_summary(summary)
    print()
    latest = summary.months[-1] if summary.months else None
    print(_terminal(settings, latest))
    if latest and not args.no_report:
        written = _write_report(settings, latest, settings.reports)
        if written:
            print(f"\nreport for {latest} written to {settings.reports}/")
    return 0


def _terminal(settings, month: str | None) -> str:
    from pipeline.report import build_report, render_terminal

    return render_terminal(build_report(settings, month))


def _write_report(settings, month: str, out_dir):
    from pipeline.report import build_report, write_report

    return write_report(build_report(settings, month), out_dir)


def cmd_report(args) -> int:
    from pipeline.report import run_report_command

    settings = _settings(args)
    run_report_command(
        settings, args.month, send=args.send, to=args.to, out=args.out, lang=args.lang, force=args.force
    )
    return 0


def cmd_explain(args) -> int:
    from pipeline.report.explain import explain

    settings = _settings(args)
    if args.top < 1:
        raise CostledgerError(f"--top: {args.top} must be at least 1")
    print(explain(settings, args.month, args.top))
    return 0


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, Decimal):
        return f"{v:.2f}" if v == v.quantize(Decimal("0.01")) or abs(v) >= 1 else str(v.normalize())
    return str(v)


def cmd_query(args) -> int:
    settings = _settings(args)
    if not settings.published_db.exists():
        raise CostledgerError(f"{settings.published_db}: nothing published yet; run `costledger run` first")
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        try:
            cur = con.execute(args.sql)
        except duckdb.Error as exc:
            raise CostledgerError(f"query failed: {str(exc).splitlines()[0]}") from None
        cols = [d[0] for d in cur.description] if cur.description else []
        rows = cur.fetchall()
    finally:
        con.close()
    if args.format == "json":
        print(json.dumps([dict(zip(cols, r, strict=True)) for r in rows], default=str, indent=2))
    elif args.format == "csv":
        import csv

        w = csv.writer(sys.stdout)
        w.writerow(cols)
        w.writerows([[_fmt(v) for v in r] for r in rows])
    else:
        cells = [[_fmt(v) for v in r] for r in rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
        print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for r in cells:
            print(
                "  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths, strict=True))
            )
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return 0


def _numeric(v: str) -> bool:
    try:
        Decimal(v)
        return True
    except ArithmeticError:
        return False


def cmd_plan(args) -> int:
    from pipeline.report.planning import plan_text

    settings = _settings(args)
    if not settings.published_db.exists():
        raise CostledgerError(f"{settings.published_db}: nothing published yet; run `costledger run` first")
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        print(plan_text(con, args.months, settings.report.language))
    finally:
        con.close()
    return 0


def cmd_export(args) -> int:
    from pipeline.app.steps import parse_month
    from pipeline.publish.focus_export import export_focus

    if args.month and (args.month_from or args.month_to):
        raise CostledgerError("export focus: give --month or --from/--to, not both")
    lo = parse_month(args.month or args.month_from)
    hi = parse_month(args.month or args.month_to)
    settings = _settings(args)
    result = export_focus(settings, lo, hi, out=args.out, fmt=args.format)
    span = f"{result.months[0]:%Y-%m} .. {result.months[-1]:%Y-%m}"
    print(
        f"FOCUS 1.3 {args.format}: {result.path} ({result.rows:,} rows, {span}; "
        f"EffectiveCost {result.effective_cost:,.2f}, BilledCost {result.billed_cost:,.2f})"
    )
    return 0


def cmd_status(args) -> int:
    from pipeline.app.status import status_text

    settings = _settings(args)
    print(status_text(settings))
    return 0


def cmd_forget(args) -> int:
    import getpass

    from pipeline.app import steps

    settings = _settings(args)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    done = steps.forget(settings, args.path, args.reason, user)
    months = ""
    if done["first_month"]:
        months = f" in {done['first_month']:%Y-%m}" + (
            f" .. {done['last_month']:%Y-%m}" if done["last_month"] != done["first_month"] else ""
        )
    cost = f", {done['currency']} {done['cost']:,.2f}{months}" if done["cost"] is not None else ""
    print(
        f"forgot {done['file']}: {done['rows_removed']:,} row(s){cost} taken out of the books; "
        "the next `costledger run` publishes without them"
    )
    return 0


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def cmd_pull(args) -> int:
    from pipeline.landing.pull import TransferError, adhoc_source, pull

    if bool(args.url) != bool(args.to):
        raise CostledgerError(
            "pull URL and --to FOLDER go together (e.g. pull s3://bucket/cur/ --to aws_cur/cur)"
        )
    settings = _settings(args)
    sources = [adhoc_source(args.url, args.to)] if args.url else None
    if sources is None and not settings.pull:
        print(f"nothing to pull: no `pull:` entries in {settings.config_dir / 'costledger.yaml'}")
        return 0
    try:
        result = pull(settings, sources, progress=_progress(args.quiet or args.json))
    except TransferError as exc:
        raise PullFailedError(f"pull failed, landing unchanged: {exc}") from None
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for r in result["sources"]:
        line = (
            f"{r['url']} -> landing/{r['to']}: {r['listed']} objects, {r['transferred']} new or changed "
            f"({_size(r['bytes'])}), {r['unchanged']} unchanged"
        )
        if r["gone"]:
            line += f", {r['gone']} gone at the source (kept in landing)"
        if r["ignored"]:
            line += f", {len(r['ignored'])} hidden names not pulled (e.g. {r['ignored'][0]})"
        print(line)
    print(f"pulled {result['transferred']} objects ({_size(result['bytes'])}) in {result['seconds']:.1f} s")
    return 0


def cmd_docs(args) -> int:
    from pathlib import Path

    from pipeline.transform import dictionary

    path = Path(args.out) if args.out else dictionary.DICTIONARY
    if args.check:
        if not dictionary.is_current(path):
            print(
                f"costledger: error: {path} is stale: run `costledger docs`"
                + (f" --out {path}" if args.out else ""),
                file=sys.stderr,
            )
            return 1
        print(f"{path} is up to date")
        return 0
    if not path.parent.is_dir():
        raise InputError(f"--out {path}: folder {path.parent} does not exist")
    print(f"wrote {dictionary.write(path)}")
    return 0


COMMANDS = {
    "demo": cmd_demo,
    "run": cmd_run,
    "report": cmd_report,
    "query": cmd_query,
    "plan": cmd_plan,
    "status": cmd_status,
    "forget": cmd_forget,
    "pull": cmd_pull,
    "explain": cmd_explain,
    "docs": cmd_docs,
    "export": cmd_export,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.start(debug=args.debug)
    try:
        return COMMANDS[args.command](args)
    except CostledgerError as exc:
        if exc.__cause__ is None:  # a failure mapped by a step was logged with its cause there
            logs.failure(exc, f"costledger {args.command} failed: {exc}")
        print(f"costledger: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("costledger: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`costledger explain | head`): stop quietly, like any Unix filter;
        # stdout is pointed at /dev/null so the interpreter's final flush does not fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a filter stopped by a closed pipe
    except Exception as exc:  # anything else still reaches the user as one line
        log_file = logs.current_file()
        err = user_error(exc, args.command, log_file=str(log_file) if log_file else None)
        logs.failure(exc, f"costledger {args.command} failed: {err}")
        print(f"costledger: error: {err}", file=sys.stderr)
        return err.exit_code
    finally:
        logs.stop()


if __name__ == "__main__":
    sys.exit(main())
