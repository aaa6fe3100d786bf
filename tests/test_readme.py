"""README: its Python examples run as written, and its headline table is the one
built from the benchmark files (so that it cannot drift from its run)."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert abs(namespace["alpha"] - 0.45) < 1e-12
    assert namespace["terms"].total.shape == ()
    assert len(namespace["criterion"].memory) == 512


def test_readme_headline_table_is_generated():
    sys.path.insert(0, str(ROOT / "docs"))
    from _generate import headline_markdown

    assert headline_markdown() in README.read_text()


def test_readme_stays_short():
    assert len(README.read_text()) <= 11_000
