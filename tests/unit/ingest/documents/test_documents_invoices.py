"""Invoice readers (XLSX, PDF, JSON, CSV) on the fixtures in tests/fixtures/documents, against
expected_totals.json (written by make_fixtures.py from its own records), and every bad input of
issue 12 that concerns invoices: lines that do not sum to the printed total, password-protected
and image-only PDFs, merged header cells, a GBK file without a declared encoding."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

import openpyxl
import pytest

from pipeline.errors import InputError
from pipeline.ingest.documents import LINE_COLUMNS, invoice_profile, load_profiles, read_invoice
from pipeline.ingest.documents.xlsx import merged_ranges
from tests.conftest import REPO

FIX = REPO / "tests" / "fixtures" / "documents"
EXPECTED = json.loads((FIX / "expected_totals.json").read_text(encoding="utf-8"))
PROFILES = load_profiles(REPO / "config")


def _read(rel: str, profile: str | None = None, vendor: str | None = None):
    path = FIX / rel
    prof = PROFILES[profile] if profile else invoice_profile(path, rel, PROFILES)
    return read_invoice(path, rel, prof, vendor or rel.split("/")[1])


@pytest.mark.parametrize("rel", sorted(EXPECTED["invoices"]))
def test_invoice_read_to_the_cent(rel):
    exp = EXPECTED["invoices"][rel]
    doc = _read(rel, exp["profile"], exp["vendor"])
    h = doc.header
    assert h["reconciled"] == "ok"
    assert (h["invoice_number"], h["invoice_date"], h["currency"], h["document_type"]) == (
        exp["invoice_number"],
        exp["invoice_date"],
        exp["currency"],
        exp["document_type"],
    )
    assert [h["service_period_start"], h["service_period_end"]] == exp["service_period"]
    assert Decimal(h["lines_total"]) == Decimal(exp["lines_total"])
    assert Decimal(h["booked_total"]) == Decimal(exp["booked_total"])
    assert abs(Decimal(h["printed_total"])) == Decimal(exp["printed_total"])
    items = [r for _, r in doc.rows if r["line_number"] != "tax"]
    assert [abs(Decimal(r["amount"])) for r in items] == [abs(Decimal(a)) for a in exp["line_amounts"]]
    # what is booked sums to what the invoice says it costs, to the cent
    sign = -1 if exp["document_type"] == "credit_note" else 1
    assert sum(
        sign * abs(Decimal(r["amount"])) if sign < 0 else Decimal(r["amount"]) for _, r in doc.rows
    ) == Decimal(exp["booked_total"])
    for where, row in doc.rows:
        assert tuple(row) == LINE_COLUMNS
        assert row["vendor"] == exp["vendor"] and row["invoice_number"] == exp["invoice_number"]
        assert row["currency"] == exp["currency"] and row["document_type"] == exp["document_type"]
        assert row["service_period_start"] and row["service_period_end"] >= row["service_period_start"]
        assert isinstance(where.source_row, int) and str(where)
    assert doc.rejects == []


def test_tax_is_booked_as_its_own_line_or_left_out_per_profile():
    usd = _read("invoices/annotate-pro/AP-2026-0031.xlsx", "invoice_xlsx", "annotate-pro")
    tax = [r for _, r in usd.rows if r["line_number"] == "tax"]
    assert len(tax) == 1 and tax[0]["amount"] == "131.7"
    eu = _read(
        "invoices/datenwerk/RE-2026-0113.csv", "eu_vendor_csv", "datenwerk"
    )  # tax: exclude (reclaimable VAT)
    assert not [r for _, r in eu.rows if r["line_number"] == "tax"]
    assert eu.header["printed_tax"] == "683.91" and eu.header["booked_total"] == "3599.5"
    # decimal comma, thousands dot and a trailing-minus credit line, read exactly
    assert [r["amount"] for _, r in eu.rows] == ["1375", "2345", "-120.5"]
    assert eu.rows[0][1]["service_period_start"] == "2026-01-01"


def test_pdf_service_period_spanning_two_months_is_kept_for_prorating():
    doc = _read("invoices/annotate-pro/AP-2026-0042.pdf", "invoice_pdf", "annotate-pro")
    assert {(r["service_period_start"], r["service_period_end"]) for _, r in doc.rows} == {
        ("2026-01-20", "2026-02-19")
    }
    assert [r["model_or_project"] for _, r in doc.rows][:4] == [
        "PRJ-SEARCH-RR",
        "PRJ-SEARCH-RR",
        "PRJ-RECO-LLM",
        "PRJ-ADS-CTR",
    ]
    assert doc.rows[2][1]["description"] == "Attribute extraction review, apparel catalogue"
    assert doc.rows[0][0].label == "page 1 table row 2"


def test_credit_note_books_negative():
    doc = _read("invoices/annotate-pro/CN-2026-0007.pdf", "invoice_pdf", "annotate-pro")
    assert doc.header["document_type"] == "credit_note"
    assert Decimal(doc.header["lines_total"]) == Decimal("-150")


def test_cny_workbook_with_chinese_labels_and_heji_row():
    doc = _read("invoices/crowdlabel/CL-2026-017.xlsx", "invoice_xlsx", "crowdlabel")
    assert doc.header["printed_total"] == "14800" and doc.header["currency"] == "CNY"
    assert doc.header["title"] == "苏州众标数据科技有限公司 — 数据标注服务结算单"
    assert doc.rows[0][1]["description"] == "商品图片目标框标注"
    assert doc.rows[0][0].label == "sheet '发票' row 7"


def test_lines_not_summing_to_printed_total_refuse_the_invoice_naming_the_difference():
    with pytest.raises(InputError) as exc:
        _read("invoices/bad/lines-dont-sum.pdf", "invoice_pdf", "annotate-pro")
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(
        "invoices/bad/lines-dont-sum.pdf: lines sum to USD 1,835.00 but the printed total is 1,935.00"
    )
    assert "difference -100.00" in msg and "refused" in msg


def test_xlsx_total_edited_by_hand_is_refused(tmp_path):
    src = FIX / "invoices/annotate-pro/AP-2026-0031.xlsx"
    wb = openpyxl.load_workbook(src)
    ws = wb.active
    for row in ws.iter_rows():
        if row[3].value == "Total due":
            row[4].value = 2326.71
    dst = tmp_path / "AP-2026-0031.xlsx"
    wb.save(dst)
    with pytest.raises(
        InputError,
        match=r"lines sum to USD 2,195.00 \+ tax 131.70 but the printed total is 2,326.71 \(difference -0.01\)",
    ):
        read_invoice(dst, "invoices/annotate-pro/AP-2026-0031.xlsx", PROFILES["invoice_xlsx"], "annotate-pro")


def test_unreadable_line_amount_refuses_the_invoice_naming_sheet_row_and_field(tmp_path):
    wb = openpyxl.load_workbook(FIX / "invoices/annotate-pro/AP-2026-0031.xlsx")
    wb.active["E9"] = "n/a"
    dst = tmp_path / "x.xlsx"
    wb.save(dst)
    with pytest.raises(InputError) as exc:
        read_invoice(dst, "x.xlsx", PROFILES["invoice_xlsx"], "annotate-pro")
    msg = str(exc.value)
    assert "sheet 'Invoice' row 9: amount: 'n/a' is not a number" in msg


def test_merged_header_cells_refused_naming_sheet_and_range():
    with pytest.raises(InputError) as exc:
        _read("invoices/bad/merged-header.xlsx", "invoice_xlsx", "annotate-pro")
    assert str(exc.value) == (
        "invoices/bad/merged-header.xlsx: sheet 'Invoice' cells C7:D7 are merged in the table's header row (row 7); "
        "unmerge them so each column has its own header and value"
    )


def test_merged_title_and_footer_cells_are_fine():
    ranges = merged_ranges(FIX / "invoices/annotate-pro/AP-2026-0031.xlsx")["Invoice"]
    assert "A1:F1" in ranges and len(ranges) == 2  # the title, and "Total due" spanning A:C
    assert (
        _read("invoices/annotate-pro/AP-2026-0031.xlsx", "invoice_xlsx", "annotate-pro").header["reconciled"]
        == "ok"
    )


def test_image_only_pdf_refused():
    with pytest.raises(InputError) as exc:
        _read("invoices/bad/scanned.pdf", "invoice_pdf", "annotate-pro")
    assert str(exc.value) == (
        "invoices/bad/scanned.pdf: page 1 has no text layer (an image only); scanned PDFs are not read (no OCR)"
    )


def test_password_protected_pdf_refused():
    with pytest.raises(InputError) as exc:
        _read("invoices/bad/protected.pdf", "invoice_pdf", "annotate-pro")
    assert str(exc.value) == (
        "invoices/bad/protected.pdf: the PDF is password-protected; ask the vendor for an unprotected copy"
    )


def test_gbk_file_without_declared_encoding_is_one_line_error_never_mojibake():
    rel = "invoices/bad/gbk-undeclared.csv"
    for prof in (PROFILES["invoice_csv"], None):
        with pytest.raises(InputError) as exc:
            p = prof or invoice_profile(FIX / rel, rel, PROFILES)
            read_invoice(FIX / rel, rel, p, "crowdlabel")
        msg = str(exc.value)
        assert "\n" not in msg
        assert msg.startswith(f"{rel}: line 1 is not valid UTF-8")
        assert "file.encoding: gb18030" in msg


def test_gbk_file_under_a_profile_declaring_it_reads_chinese_text():
    doc = _read("invoices/crowdlabel/CL-2026-018.csv", "cn_labeling_gbk_csv", "crowdlabel")
    assert [r["description"] for _, r in doc.rows] == [
        "商品图片目标框标注",
        "广告素材审核标签",
        "搜索相关性人工评测",
    ]
    assert doc.rows[0][1]["invoice_date"] == "2026-03-03" and doc.rows[0][1]["quantity"] == "18000"


def test_json_array_of_lines_without_printed_total():
    rel = "invoices/datamart-feeds/DM-2026-090-lines.json"
    exp = EXPECTED["invoice_lines_without_total"][rel]
    doc = _read(rel, "invoice_json", "datamart-feeds")
    assert doc.header["reconciled"] == "no printed total"
    assert len(doc.rows) == exp["lines"]
    assert sum(Decimal(r["amount"]) for _, r in doc.rows) == Decimal(exp["lines_total"])
    assert doc.rows[1][1]["service_period_end"] == "2026-03-31"
    assert doc.rows[0][0].label == "[0]"


def test_json_object_whose_lines_do_not_sum_is_refused(tmp_path):
    src = FIX / "invoices/datamart-feeds/DM-2026-088.json"
    data = json.loads(src.read_text(encoding="utf-8"))
    data["lines"][1]["lineTotal"] = 1237.06
    dst = tmp_path / "DM.json"
    dst.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match=r"printed subtotal is 3,087.05 \(difference 0.01\)"):
        read_invoice(dst, "DM.json", PROFILES["invoice_json"], "datamart-feeds")


def test_costledger_csv_recognised_and_read_as_today(tmp_path):
    rel = "invoices/annotate-pro/INV-1001.csv"
    path = REPO / "tests/fixtures/ledger/landing" / rel
    prof = invoice_profile(path, rel, PROFILES)
    assert prof.id == "invoice_csv"
    doc = read_invoice(path, rel, prof, "annotate-pro")
    assert doc.rows and doc.header["reconciled"] == "no printed total"
    assert all(tuple(r) == LINE_COLUMNS for _, r in doc.rows)


def test_vendor_profile_is_preferred_over_recognition():
    rel = "invoices/crowdlabel/CL-2026-018.csv"
    assert (
        invoice_profile(FIX / rel, rel, PROFILES, vendor_profile="cn_labeling_gbk_csv").id
        == "cn_labeling_gbk_csv"
    )


def test_wrong_file_type_for_profile(tmp_path):
    dst = tmp_path / "x.pdf"
    shutil.copy(FIX / "invoices/vectorops/VO-2026-003.pdf", dst)
    with pytest.raises(
        InputError, match="profile 'invoice_xlsx' reads invoice .xlsx files, not invoice .pdf"
    ):
        read_invoice(dst, "x.pdf", PROFILES["invoice_xlsx"], "vectorops")
