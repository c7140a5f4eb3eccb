"""`costledger docs` writes and checks the data dictionary, as `python -m pipeline.transform.dictionary`."""

from __future__ import annotations

import subprocess
import sys

from pipeline.app.cli import main
from pipeline.transform import dictionary


def test_docs_writes_the_dictionary_the_contracts_generate(tmp_path, capsys):
    out = tmp_path / "data-dictionary.md"
    assert main(["docs", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == dictionary.render()
    assert str(out) in capsys.readouterr().out
    assert main(["docs", "--check", "--out", str(out)]) == 0


def test_docs_check_fails_on_a_stale_file_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "data-dictionary.md"
    out.write_text(dictionary.render().replace("C_total", "C_sum", 1), encoding="utf-8")
    before = out.read_text(encoding="utf-8")
    assert main(["docs", "--check", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "stale" in err and str(out) in err and len(err.strip().splitlines()) == 1
    assert out.read_text(encoding="utf-8") == before
    assert main(["docs", "--check", "--out", str(tmp_path / "missing.md")]) == 1


def test_docs_check_passes_on_the_checked_in_dictionary_as_a_process():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pipeline.app.cli import main; sys.exit(main())",
            "docs",
            "--check",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


def test_docs_refuses_a_missing_folder_in_one_line(tmp_path, capsys):
    assert main(["docs", "--out", str(tmp_path / "nope" / "dd.md")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]
