"""Rounding to cents so that displayed figures add up exactly.

The ledger keeps DECIMAL(38,10); a report shows cents. Rounding each figure on its own makes
nine leaves that add to one cent more than their stage. Here a whole is rounded first, and its
parts are rounded to add up to it: largest-remainder rounding (Hamilton's method) of the cents.

The report rounds its month once, as a table (pipeline.report.data): each rollup row's C_total so
the rows add up to the month's C_total, inside a row the stages (and people time merged across
leaves) so they add up to the row's C_total, and the leaves so they add up to their stage. Every
other table (the equation, models, scenarios, the CSVs) is a sum of those displayed cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def cents(x: Decimal) -> Decimal:
    """x to cents, half up (the rounding of a whole); never a negative zero."""
    q = Decimal(x).quantize(CENT, rounding=ROUND_HALF_UP)
    return q.copy_abs() if q == 0 else q


def largest_remainder(parts: list[Decimal], total: Decimal | None = None) -> list[Decimal]:
    """`parts` in cents, adding up exactly to `total` (default: the cents of their sum).

    Each part goes down to its floor cent; the cents still missing go one each to the parts with
    the largest remainders (ties: the earlier part). A part moves by less than a cent when `total`
    is the rounding of the parts' sum; when it is not, the difference is spread a cent at a time.
    """
    if not parts:
        return []
    exact = [Decimal(p) for p in parts]
    target = cents(sum(exact, Decimal(0)) if total is None else Decimal(total))
    floors = [p.quantize(CENT, rounding=ROUND_FLOOR) for p in exact]
    missing = int((target - sum(floors, Decimal(0))) / CENT)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    out = list(floors)
    step = CENT if missing >= 0 else -CENT
    if step < 0:
        order.reverse()
    for k in range(abs(missing)):
        out[order[k % len(order)]] += step
    return [o.copy_abs() if o == 0 else o for o in out]


def round_table(cells: list[list[Decimal]], column_totals: list[Decimal]) -> list[list[Decimal]]:
    """A table's cells in cents, each column adding up exactly to its (cents) total.

    Each cell goes to its floor or its ceiling cent. A column's missing cents go to its cells with
    the largest remainders; then, while a row has drifted a cent or more from its exact sum, a
    cent moves within a column between it and a row that drifted the other way (both cells stay
    floor or ceiling), so rows stay as close to their exact sums as the columns allow.
    """
    if not cells:
        return []
    n_rows, n_cols = len(cells), len(column_totals)
    exact = [[Decimal(c) for c in row] for row in cells]
    floor = [[c.quantize(CENT, rounding=ROUND_FLOOR) for c in row] for row in exact]
    out = [list(row) for row in floor]
    up = [[False] * n_cols for _ in range(n_rows)]
    for j in range(n_cols):
        missing = int(
            (cents(column_totals[j]) - sum((floor[i][j] for i in range(n_rows)), Decimal(0))) / CENT
        )
        order = sorted(
            (i for i in range(n_rows) if exact[i][j] != floor[i][j]),
            key=lambda i: (-(exact[i][j] - floor[i][j]), i),
        )
        if not 0 <= missing <= len(order):
            raise ValueError(f"column {j}: total {column_totals[j]} is not a rounding of its cells")
        for i in order[:missing]:
            out[i][j] += CENT
            up[i][j] = True

    def drift(i: int) -> Decimal:
        return sum(out[i], Decimal(0)) - sum(exact[i], Decimal(0))

    def move(i: int, k: int) -> bool:
        """A cent of some column from row i (rounded up there) to row k (rounded down there)."""
        for j in range(n_cols):
            if up[i][j] and not up[k][j] and exact[k][j] != floor[k][j]:
                out[i][j] -= CENT
                out[k][j] += CENT
                up[i][j], up[k][j] = False, True
                return True
        return False

    # a row more than a cent off gives a cent to (or takes one from) a row off the other way
    for _ in range(n_rows * n_cols):
        drifts = [drift(i) for i in range(n_rows)]
        moved = False
        for i in range(n_rows):
            if drifts[i] >= CENT:
                moved = any(drifts[k] < 0 and move(i, k) for k in range(n_rows) if k != i)
            elif drifts[i] <= -CENT:
                moved = any(drifts[k] > 0 and move(k, i) for k in range(n_rows) if k != i)
            if moved:
                break
        if not moved:
            break
    return [[o.copy_abs() if o == 0 else o for o in row] for row in out]


@dataclass(frozen=True)
class MonthFigures:
    """The month's headline figures in cents, the same wherever they are shown (the report's
    equation and tie-out, `costledger explain`): the total read is its exact sum rounded half up,
    C_total is rounded half up on its own, and unallocated and out of scope share the rest by
    largest remainder, so C_total + unallocated + out of scope = the total read, to the cent."""

    total: Decimal
    c_total: Decimal
    unallocated: Decimal
    out_of_scope: Decimal


def month_figures(c_total: Decimal, unallocated: Decimal, out_of_scope: Decimal) -> MonthFigures:
    """The month's figures from its exact C_total, unallocated and out-of-scope cost."""
    exact = [Decimal(c_total), Decimal(unallocated), Decimal(out_of_scope)]
    total = cents(sum(exact, Decimal(0)))
    shown_c_total = cents(exact[0])
    rest = largest_remainder(exact[1:], total - shown_c_total)
    return MonthFigures(total, shown_c_total, rest[0], rest[1])
