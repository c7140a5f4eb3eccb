"""The report as text: subject, text/plain body, HTML body (inline CSS, tables), terminal summary.

Every value that came from data passes through `esc` in HTML. Amounts are rounded to cents here.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from pipeline.report.charts import CHART_LEAVES, CHART_STAGES
from pipeline.report.fmt import DASH, display_width, money, pad, pct, ratio_pct, signed_money, wan
from pipeline.report.i18n import wan_unit
from pipeline.report.model import BreakdownRow, EquationRow, Report

FONT = "Arial,Helvetica,'PingFang SC','Microsoft YaHei',sans-serif"
RED, GREEN, AMBER, GREY, INK, MUTED, LINE = (
    "#b42318",
    "#067647",
    "#b54708",
    "#667085",
    "#1f2933",
    "#667085",
    "#e4e7ec",
)


class Safe(str):
    """HTML built here from escaped parts; `esc` passes it through unchanged."""


def esc(value: object) -> str:
    if isinstance(value, Safe):
        return value
    return escape("" if value is None else str(value), quote=True)


# ---------------------------------------------------------------- words shared by all forms


def basis_text(report: Report) -> str:
    return report.t("currency_basis", currency=report.currency, basis=report.t(f"basis.{report.cost_basis}"))


def amount_with_unit(report: Report, x: Decimal | None) -> str:
    """'CNY 209,652.32' (en) or '209,652.32 CNY（20.97 万元）' (zh-CN)."""
    if x is None:
        return DASH
    if report.lang == "zh-CN":
        return f"{money(x)} {report.currency}（{wan(x)} {wan_unit(report.lang, report.currency)}）"
    return f"{report.currency} {money(x)}"


def subject(report: Report) -> str:
    return report.t("subject", month=report.month_label, amount=amount_with_unit(report, report.total.amount))


def budget_line(report: Report) -> str:
    tot = report.total
    if tot.budget is None:
        return f"{report.t('budget')}: {report.t('no_budget')}"
    word = report.t("over_budget") if tot.variance > 0 else report.t("under_budget")
    line = (
        f"{report.t('budget')}: {amount_with_unit(report, tot.budget)} · {report.t('variance')}: "
        f"{signed_money(tot.variance)} ({pct(tot.variance_pct)}, {word})"
    )
    if not report.unallocated:
        return line
    # had the rules placed everything in scope, C_total would be C_total + unallocated
    with_u = report.variance_with_unallocated
    return (
        f"{line}; {report.t('with_unallocated')} ({money(report.total_with_unallocated)}): "
        f"{signed_money(with_u)} ({pct(ratio_pct(with_u, tot.budget))})"
    )


def mom_line(report: Report) -> str:
    tot = report.total
    if tot.previous is None:
        return f"{report.t('vs_last_month')}: {report.t('no_previous')}"
    return (
        f"{report.t('vs_last_month')}: {signed_money(tot.mom)} ({pct(tot.mom_pct)}; "
        f"{report.t('last_month')} {money(tot.previous)})"
    )


def quality_line(report: Report) -> str:
    q = report.quality
    return report.t(f"quality.{q.status}", n=q.checks, c=q.critical_failed, w=q.warnings_failed)


def notes_lines(report: Report) -> list[str]:
    """The run notes, one line each: rejected rows and the cost they carried, duplicates,
    missing and forgotten files."""
    n = report.notes
    out: list[str] = []
    for r in n.rejected:
        cost = ", ".join(f"{ccy} {money(amount)}" for ccy, amount in r.cost)
        if cost and r.rows_without_cost:
            out.append(
                report.t("notes.rejected_some", file=r.file, rows=r.rows, cost=cost, n=r.rows_without_cost)
            )
        elif cost:
            out.append(report.t("notes.rejected", file=r.file, rows=r.rows, cost=cost))
        else:
            out.append(report.t("notes.rejected_nocost", file=r.file, rows=r.rows))
    out += [report.t("notes.duplicate", file=f, of=of) for f, of in n.duplicates]
    out += [report.t("notes.missing", file=f) for f in n.missing]
    for f in n.forgotten:
        out.append(
            report.t(
                "notes.forgotten",
                file=f.file,
                when=f.forgotten_at.strftime("%Y-%m-%d") if f.forgotten_at else DASH,
                who=f.forgotten_by or report.t("notes.unknown"),
                rows=f.rows,
                cost=f"{f.currency or ''} {money(f.cost)}".strip() if f.cost is not None else DASH,
                reason=f.reason,
            )
        )
    return out


def _equation_cells(report: Report, r: EquationRow) -> list[str]:
    cells = [r.symbol, r.name, money(r.amount)]
    if report.lang == "zh-CN":
        cells.append(wan(r.amount))
    cells += [
        money(r.budget),
        signed_money(r.variance),
        pct(r.variance_pct),
        money(r.previous),
        signed_money(r.mom),
    ]
    return cells


def _equation_headers(report: Report) -> list[str]:
    h = [report.t("symbol"), report.t("item"), report.t("amount")]
    if report.lang == "zh-CN":
        h.append(wan_unit(report.lang, report.currency))
    return h + [
        report.t("budget"),
        report.t("variance"),
        report.t("variance_pct"),
        report.t("last_month"),
        report.t("mom"),
    ]


def _breakdown_cells(report: Report, b: BreakdownRow, with_detail: bool) -> list[str]:
    cells = [b.label] + ([b.detail] if with_detail else []) + [money(b.amount)]
    if report.lang == "zh-CN":
        cells.append(wan(b.amount))
    return cells + [pct(report.share(b.amount), signed=False), money(b.previous), signed_money(b.mom)]


def _breakdown_headers(report: Report, first: str, with_detail: bool) -> list[str]:
    h = [report.t(first)] + ([f"{report.t('scenario')} / {report.t('team')}"] if with_detail else [])
    h.append(report.t("amount"))
    if report.lang == "zh-CN":
        h.append(wan_unit(report.lang, report.currency))
    return h + ["%", report.t("last_month"), report.t("mom")]


def _unallocated_tail(report: Report) -> list[list[str]]:
    """The other groups and the total under the largest unallocated groups: the table adds up."""
    if report.unallocated_other is None:
        return []
    total = sum((u.cost for u in report.top_unallocated), report.unallocated_other)
    lines = sum(u.line_count for u in report.top_unallocated)
    tail = []
    if report.unallocated_other:
        tail.append(["", report.t("other_groups"), "", money(report.unallocated_other), "", DASH])
    return [*tail, [report.t("csv_total"), "", "", money(total), "", DASH if tail else str(lines)]]


def _sections(report: Report) -> list[tuple[str, list[str], list[list[str]], str]]:
    """(title, headers, rows, alignment) for every table the report shows, in order."""
    zh = report.lang == "zh-CN"
    eq_align = "ll" + "r" * (7 if zh else 6)
    out = [
        (
            report.t("equation"),
            _equation_headers(report),
            [_equation_cells(report, r) for r in report.equation],
            eq_align,
        )
    ]
    out.append(
        (
            report.t("by_model"),
            _breakdown_headers(report, "model", True),
            [_breakdown_cells(report, b, True) for b in report.by_model],
            "ll" + "r" * (5 if zh else 4),
        )
    )
    out.append(
        (
            report.t("by_scenario"),
            _breakdown_headers(report, "scenario", False),
            [_breakdown_cells(report, b, False) for b in report.by_scenario],
            "l" + "r" * (5 if zh else 4),
        )
    )
    out.append(
        (
            report.t("top_movers"),
            [
                report.t("model"),
                report.t("symbol"),
                report.t("leaf"),
                report.t("amount"),
                report.t("last_month"),
                report.t("change"),
            ],
            [
                [m.model, m.symbol, m.leaf, money(m.amount), money(m.previous), signed_money(m.change)]
                for m in report.movers
            ],
            "lllrrr",
        )
    )
    out.append(
        (
            report.t("top_unallocated"),
            [
                report.t("source"),
                report.t("service"),
                report.t("why"),
                report.t("amount"),
                report.t("share_of_unallocated"),
                report.t("lines"),
            ],
            [
                [
                    u.source,
                    u.label,
                    u.reason,
                    money(u.cost),
                    pct(u.share_of_unallocated, signed=False),
                    str(u.line_count),
                ]
                for u in report.top_unallocated
            ]
            + _unallocated_tail(report),
            "lllrrr",
        )
    )
    out.append(
        (
            report.t("freshness"),
            [report.t("source"), report.t("provider"), report.t("latest_charge"), report.t("latest_load")],
            [
                [
                    f.source,
                    f.provider,
                    f.latest_charge_date.isoformat() if f.latest_charge_date else DASH,
                    f.latest_loaded_at.isoformat(sep=" ", timespec="minutes") if f.latest_loaded_at else DASH,
                ]
                for f in report.freshness
            ],
            "llll",
        )
    )
    out.append(
        (
            report.t("tie_out"),
            [
                report.t("source"),
                report.t("read"),
                "C_total",
                report.t("unallocated_short"),
                report.t("out_of_scope_short"),
                report.t("difference"),
            ],
            [
                [
                    r.source,
                    money(r.read),
                    money(r.c_total),
                    money(r.unallocated),
                    money(r.out_of_scope),
                    money(r.difference),
                ]
                for r in report.tie_out
            ],  # fmt: skip
            "lrrrrr",
        )
    )
    return out


def people_note(report: Report) -> list[str]:
    """Why some people time is not on its leaf (docs/privacy.md); nothing when none was merged."""
    if not report.has_people_merged:
        return []
    return [report.t("people_merged_note", k=report.min_people_per_row)]


def coverage_lines(report: Report) -> list[str]:
    return [
        f"{report.t('unallocated')}: {amount_with_unit(report, report.unallocated)}",
        f"{report.t('coverage_pct')}: {pct(report.coverage_pct, signed=False)}",
        f"{report.t('out_of_scope')}: {amount_with_unit(report, report.out_of_scope)}",
    ]


def footer(report: Report) -> str:
    run = ""
    if report.run_id:
        started = (
            report.run_started_at.isoformat(sep=" ", timespec="minutes") if report.run_started_at else DASH
        )
        run = report.t("footer_run", run_id=report.run_id, started=started)
    return report.t("footer", run=run)


# ---------------------------------------------------------------- plain text


def text_table(headers: list[str], rows: list[list[str]], align: str) -> str:
    widths = [
        max([display_width(headers[i])] + [display_width(r[i]) for r in rows]) for i in range(len(headers))
    ]
    lines = ["  ".join(pad(h, w, a == "r") for h, w, a in zip(headers, widths, align, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append(
            "  ".join(pad(c, w, a == "r") for c, w, a in zip(r, widths, align, strict=True)).rstrip()
        )
    return "\n".join(lines)


def render_text(report: Report) -> str:
    """The text/plain body."""
    title = f"{report.t('title')} {report.month_label}"
    parts = [
        title,
        "=" * len(title),
        report.t("intro"),
        basis_text(report),
        "",
        f"{report.t('headline')}: {amount_with_unit(report, report.total.amount)}",
        f"  {budget_line(report)}",
        f"  {mom_line(report)}",
        "",
    ]
    sections = _sections(report)
    eq = sections[0]
    parts += [eq[0], text_table(eq[1], eq[2], eq[3]), *people_note(report), ""]
    for title_, headers, rows, align in sections[1:3]:
        parts += [title_, text_table(headers, rows, align), ""]
    t, h, rows, a = sections[3]
    parts += [t, text_table(h, rows, a) if rows else report.t("no_movers"), ""]
    for sec in report.planning:
        parts += [
            sec.title,
            text_table(list(sec.headers), [list(r) for r in sec.rows], sec.align)
            if sec.rows
            else report.t("none"),
        ]
        parts += [*sec.notes, ""]
    parts += [report.t("coverage"), *coverage_lines(report), ""]
    t, h, rows, a = sections[4]
    parts += [t, text_table(h, rows, a) if rows else report.t("none"), ""]
    t, h, rows, a = sections[6]
    if rows:
        parts += [t, text_table(h, rows, a), ""]
    parts += [report.t("quality"), quality_line(report)]
    for f in report.quality.failures:
        parts.append(f"  [{f.severity}] {f.table} {f.check}: {f.observed}")
    parts.append("")
    parts += [
        report.t("run_notes"),
        *(f"  {line}" for line in notes_lines(report) or [report.t("notes.none")]),
        "",
    ]
    t, h, rows, a = sections[5]
    parts += [t, text_table(h, rows, a) if rows else report.t("none"), ""]
    parts += [report.t("attachments"), "", footer(report), ""]
    return "\n".join(parts)


def render_terminal(report: Report) -> str:
    """The CLI's summary: headline, the cost equation (nine leaves, four stages, C_total), buckets."""
    eq = _sections(report)[0]
    return "\n".join(
        [
            f"{report.t('title')} {report.month_label} — {basis_text(report)}",
            f"{report.t('headline')}: {amount_with_unit(report, report.total.amount)}",
            f"  {budget_line(report)}",
            f"  {mom_line(report)}",
            "",
            text_table(eq[1], eq[2], eq[3]),
            *people_note(report),
            "",
            *coverage_lines(report),
            f"{report.t('quality')}: {quality_line(report)}",
            *(f"{report.t('run_notes')}: {line}" for line in notes_lines(report)),
        ]
    )


# ---------------------------------------------------------------- HTML

_TD = f"padding:5px 6px;border-bottom:1px solid {LINE};font-size:12px;line-height:17px;vertical-align:top;"
_TH = (
    f"padding:6px 8px;border-bottom:2px solid #98a2b3;font-size:12px;line-height:16px;color:{MUTED};"
    "font-weight:bold;text-align:left;white-space:nowrap;"
)


def _h2(text: str) -> str:
    return (
        f'<tr><td style="padding:22px 24px 6px 24px;font-family:{FONT};font-size:16px;font-weight:bold;'
        f'color:{INK};">{esc(text)}</td></tr>'
    )


def _p(text: str, style: str = "") -> str:
    return (
        f'<tr><td style="padding:2px 24px;font-family:{FONT};font-size:13px;line-height:19px;'
        f'color:{INK};{style}">{esc(text)}</td></tr>'
    )


def _html_table(
    headers: list[str],
    rows: list[list[str]],
    align: str,
    row_style: list[str] | None = None,
    cell_style: dict[tuple[int, int], str] | None = None,
) -> str:
    cell_style = cell_style or {}
    head = "".join(
        f'<th align="{"right" if a == "r" else "left"}" style="{_TH}{"text-align:right;" if a == "r" else ""}">'
        f"{esc(h)}</th>"
        for h, a in zip(headers, align, strict=True)
    )
    body = []
    for i, r in enumerate(rows):
        rs = row_style[i] if row_style else ""
        tds = "".join(
            f'<td align="{"right" if a == "r" else "left"}" style="{_TD}'
            f'{"text-align:right;white-space:nowrap;" if a == "r" else ""}{rs}{cell_style.get((i, j), "")}">'
            f"{esc(c)}</td>"
            for j, (c, a) in enumerate(zip(r, align, strict=True))
        )
        body.append(f"<tr>{tds}</tr>")
    return (
        f'<tr><td style="padding:4px 24px;"><table role="presentation" width="100%" cellpadding="0" '
        f'cellspacing="0" border="0" style="border-collapse:collapse;width:100%;font-family:{FONT};'
        f'color:{INK};"><tr>{head}</tr>{"".join(body)}</table></td></tr>'
    )


def _img(src: str, alt: str) -> str:
    return (
        f'<tr><td style="padding:4px 24px 10px 24px;"><img src="{esc(src)}" '
        f'width="632" alt="{esc(alt)}" style="display:block;width:100%;'
        f'max-width:632px;height:auto;border:0;"></td></tr>'
    )


def _variance_color(x: Decimal | None) -> str:
    if x is None or x == 0:
        return ""
    return f"color:{RED};" if x > 0 else f"color:{GREEN};"


def render_html(report: Report, image_src: dict[str, str] | None = None) -> str:
    """The text/html body. `image_src` maps chart name to an img src ('cid:...' in mail, a file name on disk)."""
    image_src = image_src or {}
    zh = report.lang == "zh-CN"
    tot = report.total
    sections = _sections(report)
    rows: list[str] = []

    title = f"{report.t('title')} {report.month_label}"
    rows.append(
        f'<tr><td style="padding:20px 24px 4px 24px;font-family:{FONT};font-size:20px;font-weight:bold;'
        f'color:{INK};">{esc(title)}</td></tr>'
    )
    rows.append(_p(f"{report.t('intro')} {basis_text(report)}", f"color:{MUTED};"))

    var_color = _variance_color(tot.variance)
    headline = (
        f'<tr><td style="padding:14px 24px;"><table role="presentation" width="100%" cellpadding="0" '
        f'cellspacing="0" border="0" style="background:#f2f4f7;border-left:4px solid #3b6ea5;">'
        f'<tr><td style="padding:14px 16px;font-family:{FONT};color:{INK};">'
        f'<div style="font-size:13px;color:{MUTED};">{esc(report.t("headline"))}</div>'
        f'<div style="font-size:28px;line-height:36px;font-weight:bold;">{esc(amount_with_unit(report, tot.amount))}</div>'
        f'<div style="font-size:13px;line-height:20px;{var_color}">{esc(budget_line(report))}</div>'
        f'<div style="font-size:13px;line-height:20px;">{esc(mom_line(report))}</div>'
        f"</td></tr></table></td></tr>"
    )
    rows.append(headline)

    # The equation: symbol and human name share the first column, so the numbers keep their room.
    t, h, cells, a = sections[0]
    h = [f"{h[0]} / {h[1]}", *h[2:]]
    a = "l" + a[2:]
    cells = [
        [
            Safe(
                f'<span style="white-space:nowrap;">{esc(c[0])}</span><br>'
                f'<span style="font-weight:normal;color:{MUTED};font-size:11px;">{esc(c[1])}</span>'
            ),
            *c[2:],
        ]
        for c in cells
    ]
    styles, cstyle = [], {}
    var_col = 4 if zh else 3
    for i, r in enumerate(report.equation):
        if r.level == "total":
            styles.append("font-weight:bold;border-top:2px solid #98a2b3;background:#f2f4f7;")
        elif r.level in ("stage", "merged"):
            styles.append("font-weight:bold;background:#f9fafb;")
        else:
            styles.append("")
            cstyle[(i, 0)] = "padding-left:22px;"
        cstyle[(i, var_col)] = _variance_color(r.variance)
        cstyle[(i, var_col + 1)] = _variance_color(r.variance)
    rows += [_h2(t), _html_table(h, cells, a, styles, cstyle)]
    rows += [_p(line, f"color:{MUTED};font-size:12px;") for line in people_note(report)]

    if CHART_STAGES in image_src or CHART_LEAVES in image_src:
        rows.append(_h2(report.t("charts")))
        for name, key in ((CHART_STAGES, "chart_stages"), (CHART_LEAVES, "chart_leaves")):
            if name in image_src:
                rows.append(_p(report.t(key), f"color:{MUTED};"))
                rows.append(_img(image_src[name], report.t(key)))

    for t, h, cells, a in sections[1:3]:
        rows += [_h2(t), _html_table(h, cells, a)]
    t, h, cells, a = sections[3]
    rows.append(_h2(t))
    rows.append(_html_table(h, cells, a) if cells else _p(report.t("no_movers")))

    for sec in report.planning:
        rows.append(_h2(sec.title))
        cells = [list(r) for r in sec.rows]
        rows.append(_html_table(list(sec.headers), cells, sec.align) if cells else _p(report.t("none")))
        rows += [_p(line, f"color:{MUTED};font-size:12px;") for line in sec.notes]
        if sec.chart is not None and sec.chart.name in image_src:
            caption = report.t(f"chart_{sec.chart.name}")
            rows.append(_p(caption, f"color:{MUTED};padding-top:8px;"))
            rows.append(_img(image_src[sec.chart.name], caption))

    rows.append(_h2(report.t("coverage")))
    rows += [_p(line) for line in coverage_lines(report)]
    t, h, cells, a = sections[4]
    rows.append(_p(t, "padding-top:10px;font-weight:bold;"))
    rows.append(_html_table(h, cells, a) if cells else _p(report.t("none")))
    t, h, cells, a = sections[6]
    if cells:
        rows.append(_h2(t))
        rows.append(_html_table(h, cells, a, [""] * (len(cells) - 1) + ["font-weight:bold;"]))

    q = report.quality
    color = {"passed": GREEN, "warnings": AMBER, "failed": RED}.get(q.status, GREY)
    rows.append(_h2(report.t("quality")))
    rows.append(_p(quality_line(report), f"color:{color};font-weight:bold;"))
    if q.failures:
        rows.append(
            _html_table(
                [report.t("severity"), report.t("table"), report.t("check"), report.t("observed")],
                [[f.severity, f.table, f.check, f.observed] for f in q.failures],
                "llll",
                [f"color:{RED};" if f.severity == "critical" else "" for f in q.failures],
            )
        )

    rows.append(_h2(report.t("run_notes")))
    notes = notes_lines(report)
    rows += [_p(line) for line in notes] if notes else [_p(report.t("notes.none"), f"color:{MUTED};")]

    t, h, cells, a = sections[5]
    rows.append(_h2(t))
    rows.append(_html_table(h, cells, a) if cells else _p(report.t("none")))

    rows.append(_p(report.t("attachments"), "padding-top:18px;"))
    rows.append(
        f'<tr><td style="padding:12px 24px 20px 24px;font-family:{FONT};font-size:11px;color:{MUTED};">'
        f"{esc(footer(report))}</td></tr>"
    )

    lang = "zh-CN" if zh else "en"
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title></head>"
        f'<body style="margin:0;padding:0;background:#eef0f3;">'
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="background:#eef0f3;"><tr><td align="center" style="padding:16px 8px;">'
        f'<table role="presentation" width="800" cellpadding="0" cellspacing="0" border="0" '
        f'style="width:800px;max-width:800px;background:#ffffff;border:1px solid {LINE};">'
        + "\n".join(rows)
        + "</table></td></tr></table></body></html>\n"
    )
