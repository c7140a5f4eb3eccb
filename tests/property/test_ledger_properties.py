"""Properties of a whole run on random small ledgers (issue 8, point 14).

Each example writes a few FOCUS CSV files (1-3 months, amounts with six decimals, credits and
refunds negative, tags that match the demo rules or not) into a real tmp landing folder and runs
the real pipeline (`steps.run_all`, what `costledger run` calls) into a real tmp warehouse.
What the ledger must book is computed from the generated rows in Python Decimal
(tests/fixtures/random_ledger.py), never read back from the pipeline.

- conservation: per file and month, the cost read = C_total + unallocated + out_of_scope as the
  published file books it (audit.reconciliation and the lines), to the cent; per month and leaf too;
- idempotence: `run --force` publishes the same figures again, and a plain rerun is a no-op;
- restatement: a new version of a file at the same path replaces its rows, never adds to them;
  putting the first version back books the first figures again.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pipeline.app import steps
from pipeline.config.settings import load_settings
from tests.fixtures.random_ledger import assert_books, booked, focus_files, ledgers, write_ledger

pytestmark = pytest.mark.slow

# Every example is a real run (2-6 s each on a busy 2-core machine, the quality gates most of it):
# few examples, no deadline, no database of failing examples kept between sessions, and no
# shrinking (hundreds of runs more): a failing ledger is at most 3 files of 8 rows, printed as drawn.


def runs(n: int):
    return settings(
        max_examples=n,
        deadline=None,
        phases=(Phase.explicit, Phase.reuse, Phase.generate),
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@contextmanager
def company():
    """A fresh landing folder and warehouse for one example."""
    with tempfile.TemporaryDirectory(prefix="costledger-prop-") as tmp:
        landing, warehouse = Path(tmp) / "landing", Path(tmp) / "warehouse"
        landing.mkdir()
        yield landing, load_settings(landing=landing, warehouse=warehouse)


def run(cfg, **kw) -> steps.RunSummary:
    summary = steps.run_all(cfg, **kw)
    assert summary.status == "succeeded", summary.message
    return summary


@runs(10)
@given(ledger=ledgers())
def test_every_file_and_month_is_conserved_to_the_cent(ledger):
    with company() as (landing, cfg):
        write_ledger(landing, ledger)
        run(cfg)
        assert_books(cfg.published_db, ledger)


@runs(6)
@given(ledger=ledgers())
def test_a_forced_rerun_publishes_the_same_books(ledger):
    with company() as (landing, cfg):
        write_ledger(landing, ledger)
        run(cfg)
        before = booked(cfg.published_db)
        again = run(cfg, force=True)
        assert again.published  # rebuilt and published again, not skipped as nothing new
        assert booked(cfg.published_db) == before  # the same figures, exactly (DECIMAL in, DECIMAL out)
        assert_books(cfg.published_db, ledger)
        quiet = run(cfg)  # nothing new: the published file keeps what it had
        assert quiet.message.startswith(f"nothing new since {again.run_id}")
        assert booked(cfg.published_db) == before


@runs(6)
@given(data=st.data())
def test_a_new_version_of_a_file_replaces_its_rows_never_adds(data):
    ledger = data.draw(ledgers(min_files=1, max_files=3), label="ledger")
    which = data.draw(st.integers(0, len(ledger) - 1), label="restated file")
    old = ledger[which]
    months = tuple(sorted({r.month for f in ledger for r in f.rows}))
    new = data.draw(focus_files(old.rel, old.account, months), label="new version")
    restated = tuple(new if i == which else f for i, f in enumerate(ledger))
    with company() as (landing, cfg):
        write_ledger(landing, ledger)
        run(cfg)
        assert_books(cfg.published_db, ledger)

        new.write(landing)  # re-delivered at the same path with new content
        run(cfg)
        if new.csv_bytes() == old.csv_bytes():  # an identical re-delivery is a no-op
            assert_books(cfg.published_db, ledger)
            return
        assert_books(cfg.published_db, restated)

        old.write(landing)  # and back: the first figures again, nothing of the second version left
        run(cfg)
        assert_books(cfg.published_db, ledger)


def test_the_generator_covers_what_the_properties_are_about():
    """The strategy does produce credits, every bucket, several months and files (else the
    properties above would hold vacuously)."""
    seen = set()

    @settings(max_examples=100, database=None, deadline=None)
    @given(ledger=ledgers())
    def probe(ledger):
        rows = [r for f in ledger for r in f.rows]
        seen.update(r.bucket for r in rows)
        seen.update({"credit"} if any(r.category == "Credit" for r in rows) else set())
        seen.update({"negative"} if any(r.effective < 0 for r in rows) else set())
        seen.update({"several files"} if len(ledger) > 1 else set())
        seen.update({"several months"} if len({r.month for r in rows}) > 1 else set())
        seen.update({"software"} if any(r.leaf == "software" for r in rows) else set())

    probe()
    assert seen >= {
        "leaves",
        "unallocated",
        "out_of_scope",
        "credit",
        "negative",
        "several files",
        "several months",
        "software",
    }, seen
