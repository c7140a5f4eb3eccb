"""ISO-4217 currency codes: the one list every check of a currency reads.

The reporting currency (settings), the input rules' `currency` type (pipeline/ingest/rules.py,
through the work database's `config.currencies` table) and so both ingest and the raw quality
gate take their verdict from here.
"""

from __future__ import annotations

from functools import cache


@cache
def iso_currencies() -> frozenset[str]:
    """ISO-4217 codes as CLDR knows them (babel ships with the pinned install)."""
    from babel.numbers import list_currencies

    return frozenset(list_currencies())
