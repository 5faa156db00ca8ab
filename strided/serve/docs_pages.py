"""strided's docs pages, served beside the web page: ``GET /docs-pages/{name}`` and their figures.

Every layer on the page links to the pages that explain it (``explain/layers.py`` names them). The
service serves ONLY the pages listed in the table of ``docs/README.md`` (and that index itself),
and only the figures those pages show: a request names a page, the name is looked up in that list,
and no part of a request ever becomes part of a file path (``..``, encoded slashes and absolute
paths are names like any other: not in the list, 404).

Where the docs are: ``docs_dir`` (or ``$STRIDED_DOCS_DIR``), else the ``docs/`` folder of the
source tree strided runs from (a checkout, or an editable install). A wheel ships the package only
(pyproject's package-data holds ``strided/`` files, and docs/ is outside it), so a non-editable
install has no docs here: then ``docs_url`` (or ``$STRIDED_DOCS_URL``), the base URL of a
published docs folder, gets a redirect to the same name under it; with neither, a 404 says how to
get the pages.

Pages are rendered to HTML with markdown-it-py (the ``serve`` extra); without it they are served
as they are written, ``text/plain`` markdown, which reads well too.
"""

import functools
import html
import os
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse

from .openapi import DOCS_FIGURE_RESPONSES, DOCS_PAGE_RESPONSES

DOCS_DIR_ENV, DOCS_URL_ENV = "STRIDED_DOCS_DIR", "STRIDED_DOCS_URL"
INDEX = "README.md"
# a row of the index's table: | [convolution.md](convolution.md) | what it covers |
TABLE_ROW = re.compile(r"^\|\s*\[[^\]]+\]\(([A-Za-z0-9_-]+\.md)\)", re.MULTILINE)
FIGURE = re.compile(r"\]\(figures/([A-Za-z0-9_-]+\.png)\)")
SAFE_PAGE, SAFE_FIGURE = re.compile(r"[A-Za-z0-9_-]+\.md"), re.compile(r"[A-Za-z0-9_-]+\.png")
# The pages are ours, but rendered markdown is still HTML: no scripts, images from here only.
HEADERS = {"Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
           "X-Content-Type-Options": "nosniff"}
STYLE = ("body{max-width:860px;margin:0 auto;padding:16px 24px;font:15px/1.55 system-ui,sans-serif;color:#1d2330}"
         "pre{background:#f3f5fa;padding:8px 10px;border-radius:6px;overflow-x:auto}code{font-size:13px}"
         "table{border-collapse:collapse}td,th{border:1px solid #e3e6ee;padding:3px 8px;text-align:left}"
         "img{max-width:100%}nav{font-size:13px;color:#677084;margin-bottom:8px}")


def source_docs_dir() -> Path | None:
    """The docs/ folder of the source tree this strided was imported from, if it runs from one."""
    root = Path(__file__).resolve().parents[2]
    project = root / "pyproject.toml"
    # site-packages/docs could be another package's: only a tree whose pyproject names strided counts
    if project.is_file() and 'name = "strided"' in project.read_text(encoding="utf-8"):
        docs = root / "docs"
        return docs if (docs / INDEX).is_file() else None
    return None


class DocsPages:
    """The servable pages and figures of one docs folder (read once, when the service starts)."""

    def __init__(self, docs_dir: Path | None):
        self.pages, self.figures = {}, {}
        if docs_dir is None or not (Path(docs_dir) / INDEX).is_file():
            return
        docs_dir = Path(docs_dir).resolve()
        index = (docs_dir / INDEX).read_text(encoding="utf-8")
        for name in [INDEX, *TABLE_ROW.findall(index)]:
            path = docs_dir / name
            if path.is_file():
                self.pages[name] = path
        for path in self.pages.values():
            for figure in FIGURE.findall(path.read_text(encoding="utf-8")):
                if (docs_dir / "figures" / figure).is_file():
                    self.figures[figure] = docs_dir / "figures" / figure

    def __bool__(self) -> bool:
        return bool(self.pages)


@functools.cache
def markdown_parser():
    """CommonMark plus GitHub's tables; raw HTML in a page is shown as text. None without markdown-it-py."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        return None
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render(name: str, text: str):
    """A page as HTML (markdown-it-py), or its markdown as plain text when markdown-it-py is absent."""
    parser = markdown_parser()
    if parser is None:
        return PlainTextResponse(text, headers=HEADERS)
    body = parser.render(text)
    heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
    title = html.escape(heading.group(1) if heading else name)
    return HTMLResponse(f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} · strided docs'
                        f'</title><style>{STYLE}</style></head><body><nav><a href="{INDEX}">strided docs</a> · '
                        f'docs/{html.escape(name)}</nav>{body}</body></html>', headers=HEADERS)


def add_docs_routes(app: FastAPI, docs_dir=None, docs_url: str | None = None) -> DocsPages:
    found = docs_dir or os.environ.get(DOCS_DIR_ENV) or source_docs_dir()
    docs = DocsPages(Path(found) if found else None)
    docs_url = (docs_url or os.environ.get(DOCS_URL_ENV) or "").rstrip("/")

    def missing(what: str, name: str, path: str, safe: re.Pattern):
        # without a local copy there is no list to check against: any plain file name is redirected
        if not docs and docs_url and safe.fullmatch(name):
            return RedirectResponse(f"{docs_url}/{path}", status_code=307)
        hint = ("" if docs else f" (strided's docs are not installed here: a wheel ships the package only; "
                f"set ${DOCS_URL_ENV} to where they are published, or ${DOCS_DIR_ENV} to a docs folder)")
        return JSONResponse({"detail": f"no {what} named {path!r} among strided's docs{hint}"}, status_code=404)

    @app.get("/docs-pages/{name}", response_class=HTMLResponse, responses=DOCS_PAGE_RESPONSES,
             summary="a page of strided's docs (the web page links each layer to its pages)")
    def docs_page(name: str):
        try:
            return render(name, docs.pages[name].read_text(encoding="utf-8"))
        except (KeyError, OSError):  # not listed, or removed since the service started
            return missing("page", name, name, SAFE_PAGE)

    @app.get("/docs-pages/figures/{name}", response_class=FileResponse, responses=DOCS_FIGURE_RESPONSES,
             summary="a figure shown by one of strided's docs pages (PNG)")
    def docs_figure(name: str):
        if name not in docs.figures or not docs.figures[name].is_file():
            return missing("figure", name, f"figures/{name}", SAFE_FIGURE)
        return FileResponse(docs.figures[name], media_type="image/png", headers=HEADERS)

    return docs
