"""The specification ships with the project, and every reference to it points there."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "spec.md"
CONTRACT = ROOT.parent / "shared" / "SPEC.md"


def _sections():
    return {
        int(m.group(1))
        for m in re.finditer(r"^## (\d+)\. ", SPEC.read_text(), flags=re.M)
    }


def _tracked_text_files():
    try:
        listed = subprocess.run(
            ["git", "ls-files", "*.py", "*.rst", "*.md", "*.toml", "Makefile"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    own = {"docs/spec.md", "tests/test_spec.py"}
    return [ROOT / name for name in listed if name not in own]


def test_spec_has_its_eleven_sections():
    assert _sections() == set(range(1, 12))


@pytest.mark.skipif(not CONTRACT.exists(), reason="the shared contract is not here")
def test_spec_is_the_contract_word_for_word():
    assert SPEC.read_bytes() == CONTRACT.read_bytes()


def test_no_reference_points_outside_the_repository():
    outside = [
        str(path.relative_to(ROOT))
        for path in _tracked_text_files()
        if path.exists() and "SPEC.md" in path.read_text()
    ]
    assert outside == []


def test_every_cited_section_exists():
    cited = set()
    for path in _tracked_text_files():
        if not path.exists():
            continue
        for ref in re.findall(r"(?:SPEC|spec\.md)`?>?`? §(\d+)", path.read_text()):
            cited.add(int(ref))
        for first, last in re.findall(
            r"(?:SPEC|spec\.md)`?>?`? §(\d+)\s*-\s*§(\d+)", path.read_text()
        ):
            cited.update(range(int(first), int(last) + 1))
    assert cited, "no reference to the specification found"
    assert cited <= _sections()


def test_spec_is_in_the_site():
    index = (ROOT / "docs" / "index.rst").read_text()
    conf = (ROOT / "docs" / "conf.py").read_text()
    assert re.search(r"^\s+spec$", index, flags=re.M)
    assert "myst_parser" in conf
