"""The documentation's Python runs as written: each ```python block of the README's Python section
and of docs/python.md, in a fresh folder."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def blocks_of(text):
    blocks, inside, lines = [], False, []
    for line in text.splitlines():
        if line.startswith("```python"):
            inside, lines = True, []
        elif line.startswith("```") and inside:
            inside = False
            blocks.append("\n".join(lines))
        elif inside:
            lines.append(line)
    return blocks


def python_blocks():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Python\n") :]
    section = section[: section.index("\n## ", 1)]
    return blocks_of(section) + blocks_of((ROOT / "docs" / "python.md").read_text())


def test_the_readme_has_python_examples():
    assert len(python_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    exec(compile(python_blocks()[index], f"python block {index} of README.md and docs/python.md", "exec"), {})  # noqa: S102
