"""The production image (Dockerfile) installs the runtime pins and the package, and no test tool:
no requirements-dev.lock (pytest, ruff, moto, fpdf2 ...), no `dev` extra, no tests, tools or demo."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _names(lock: Path) -> set[str]:
    names = set()
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(re.split(r"[=<>\[ ;]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def test_the_image_installs_no_test_tools():
    steps = _instructions()
    assert not [a for _, a in steps if "requirements-dev" in a], (
        "the image must not read requirements-dev.lock"
    )
    pip = [a for w, a in steps if w == "RUN" and "pip install" in a]
    assert pip, "the Dockerfile installs nothing?"
    assert any("-r requirements.lock" in a for a in pip)
    assert any(re.search(r"(^|\s)-e \.(\s|$)", a) for a in pip), "the package, editable, without extras"
    assert not [a for a in pip if re.search(r"\.\[|\[dev\]", a)], "no `dev` extra"
    dev = _names(REPO / "requirements-dev.lock")
    for a in pip:
        words = {w.lower() for w in a.split() if not w.startswith("-")}
        assert not words & dev, f"installs test tools: {sorted(words & dev)}"
    copied = " ".join(a for w, a in steps if w in ("COPY", "ADD"))
    for folder in ("tests", "tools", "examples"):
        assert not re.search(rf"(^|\s){folder}(/|\s)", copied), f"the image copies {folder}/"


def test_the_runtime_pins_hold_no_test_tool():
    runtime, dev = _names(REPO / "requirements.lock"), _names(REPO / "requirements-dev.lock")
    assert {"pytest", "ruff", "moto", "fpdf2", "aiosmtpd"} <= dev
    assert runtime & dev == set(), "a package pinned for tests is also a runtime pin"
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = {re.split(r"[=<>\[ ;]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    extras = {
        re.split(r"[=<>\[ ;]", d, maxsplit=1)[0].lower() for d in project["optional-dependencies"]["dev"]
    }
    assert deps & extras == set()
    assert deps <= runtime, f"direct dependencies not pinned in requirements.lock: {sorted(deps - runtime)}"
