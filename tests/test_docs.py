"""The learning material runs: every ```python block of each docs/*.md page executes (the blocks of a
page in order, in one namespace, as a reader would paste them), and every relative link resolves."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.glob("*.md"))
CODE_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def python_blocks(page: Path) -> list[str]:
    return CODE_BLOCK.findall(page.read_text(encoding="utf-8"))


def test_there_is_learning_material():
    assert {"README.md", "convolution.md", "backprop.md", "padding.md", "pooling.md", "architectures.md",
            "batchnorm.md", "interview.md", "data.md", "training.md", "serving.md"} <= {page.name for page in PAGES}


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=lambda p: p.name)
def test_page_code_runs(page, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # a snippet that writes a file writes it here
    namespace = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(python_blocks(page), start=1):
        code = compile(block, f"{page.name} (python block {number})", "exec")
        exec(code, namespace)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_links_resolve(page):
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (page.parent / target).resolve().exists(), f"{page.name}: broken link {target}"


def test_the_index_links_every_page():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in PAGES if p.name != "README.md" and f"({p.name}" not in index]
    assert not missing, f"docs/README.md does not link {missing}"


BUILDS_ON = "build on each other"


def names_from_earlier_blocks(page: Path) -> set:
    """Names a block uses without defining them, that an earlier block of the page defines."""
    import ast
    import builtins

    defined, borrowed = set(), set()
    for block in python_blocks(page):
        tree = ast.parse(block)
        bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                bound.add(node.name)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        borrowed |= (used - bound - set(dir(builtins))) & defined
        defined |= bound
    return borrowed


@pytest.mark.parametrize("page", [p for p in PAGES if len(python_blocks(p)) > 1], ids=lambda p: p.name)
def test_pages_whose_blocks_build_on_each_other_say_so(page):
    """A reader who runs one block alone must be told when it needs the blocks before it (the test above
    runs them in order, in one namespace, as such a reader should)."""
    borrowed = names_from_earlier_blocks(page)
    if borrowed:
        assert BUILDS_ON in page.read_text(encoding="utf-8"), (
            f"{page.name}: blocks use {sorted(borrowed)} from earlier blocks; say that they {BUILDS_ON}")
