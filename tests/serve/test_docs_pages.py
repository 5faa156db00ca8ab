"""GET /docs-pages/{name}: the docs pages the web page links each layer to, and nothing else.

Only the pages of docs/README.md's table (and that index) and the figures they show are served;
traversal attempts (``..``, encoded slashes and backslashes, absolute paths, NUL) are sent raw to a
real uvicorn, where no client library normalises them first.
"""

import http.client
import re
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from strided.serve import docs_pages
from strided.serve.app import create_app
from strided.serve.docs_pages import DocsPages, add_docs_routes
from strided.serve.explain.layers import DOCS

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
LISTED = re.findall(r"^\|\s*\[[^\]]+\]\(([a-z0-9_-]+\.md)\)", (DOCS_DIR / "README.md").read_text(), re.MULTILINE)
# the pages the web page links to: each kind of layer's (explain/layers.py), the extra pages docs_for
# adds, the click view's receptive-field page and the playground's
LINKED = sorted({page for pages in DOCS.values() for page in pages} |
                {"multichannel.md", "stride_backward.md", "padding.md", "receptive_fields.md"})


@pytest.fixture(scope="module")
def client(model_path):
    with TestClient(create_app(model_path)) as test_client:
        yield test_client


def docs_client(**options) -> TestClient:
    """Only the docs routes, on a bare app: no model to load."""
    app = FastAPI()
    add_docs_routes(app, **options)
    return TestClient(app)


def test_a_listed_page_is_rendered_as_html_with_its_heading(client):
    response = client.get("/docs-pages/convolution.md")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Convolution</h1>" in response.text and "<title>Convolution · strided docs</title>" in response.text
    assert '<code class="language-python">' in response.text  # its code blocks, as code
    assert "script-src" not in response.headers["content-security-policy"]  # default-src 'none': no scripts
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_page_of_the_index_and_every_page_the_web_page_links_to_is_served(client):
    assert len(LISTED) >= 20 and set(LINKED) <= set(LISTED) | {"README.md"}
    for name in ["README.md", *LISTED, *LINKED]:
        response = client.get(f"/docs-pages/{name}")
        assert response.status_code == 200, (name, response.text[:200])
        assert "<h1>" in response.text, name
    index = client.get("/docs-pages/README.md").text
    assert '<a href="convolution.md">convolution.md</a>' in index  # relative: it resolves to /docs-pages/


def test_the_figures_a_page_shows_are_served_and_no_other_file_of_the_folder(client):
    page = client.get("/docs-pages/convolution.md").text
    assert 'src="figures/convolution.png"' in page
    figure = client.get("/docs-pages/figures/convolution.png")
    assert figure.status_code == 200 and figure.headers["content-type"] == "image/png"
    assert figure.content == (DOCS_DIR / "figures" / "convolution.png").read_bytes()
    for other in ("make_figures.py", "learner_figures.py", "fpn_outputs.py", "nope.png"):
        assert client.get(f"/docs-pages/figures/{other}").status_code == 404, other


@pytest.mark.parametrize("name", ["nope.md", "CONVOLUTION.MD", "convolution", "pyproject.toml", "..", "...",
                                  "figures", "..\\pyproject.toml", "%2e%2e", "README.md.bak", ".md", " convolution.md"])
def test_a_name_not_in_the_index_is_a_404_json_line(client, name):
    # every byte escaped, so that httpx cannot normalise "..": the route receives exactly `name`
    response = client.get("/docs-pages/" + "".join(f"%{byte:02X}" for byte in name.encode()))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["detail"], str)


TRAVERSALS = ["/docs-pages/../pyproject.toml", "/docs-pages/..%2fpyproject.toml", "/docs-pages/..%2Fpyproject.toml",
              "/docs-pages/%2e%2e%2fpyproject.toml", "/docs-pages/%2e%2e/pyproject.toml",
              "/docs-pages/..%5cpyproject.toml", "/docs-pages/..%2f..%2fstrided%2f__init__.py",
              "/docs-pages/%2Fetc%2Fpasswd", "/docs-pages//etc/passwd", "/docs-pages/%2fetc%2fpasswd",
              "/docs-pages/figures/..%2f..%2fpyproject.toml", "/docs-pages/figures/%2e%2e%2fconvolution.md",
              "/docs-pages/figures/../convolution.md", "/docs-pages/convolution.md%00", "/docs-pages/%00",
              "/docs-pages/figures/make_figures.py", "/docs-pages/%252e%252e%252fpyproject.toml", "/docs-pages/"]


def test_traversal_attempts_sent_raw_to_a_real_server_are_404(hardened_server):
    host, port = hardened_server.url.removeprefix("http://").split(":")
    for path in TRAVERSALS:
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.putrequest("GET", path, skip_accept_encoding=True)  # the bytes as written, unnormalised
            connection.endheaders()
            response = connection.getresponse()
            body = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        assert response.status == 404, (path, response.status, body[:200])
        assert "[project]" not in body and "root:" not in body and "import" not in body, path


def test_without_markdown_it_the_page_is_its_markdown_as_plain_text(client, monkeypatch):
    monkeypatch.setitem(sys.modules, "markdown_it", None)  # import markdown_it now raises ImportError
    docs_pages.markdown_parser.cache_clear()
    try:
        response = client.get("/docs-pages/padding.md")
    finally:
        monkeypatch.undo()
        docs_pages.markdown_parser.cache_clear()
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == (DOCS_DIR / "padding.md").read_text(encoding="utf-8")


def test_the_routes_are_in_the_openapi_description(client):
    paths = client.get("/openapi.json").json()["paths"]
    for route in ("/docs-pages/{name}", "/docs-pages/figures/{name}"):
        assert set(paths[route]["get"]["responses"]) >= {"200", "404", "307"}, route
    assert set(paths["/docs-pages/{name}"]["get"]["responses"]["200"]["content"]) == {"text/html", "text/plain"}
    assert set(paths["/docs-pages/figures/{name}"]["get"]["responses"]["200"]["content"]) == {"image/png"}


def test_only_the_index_table_counts_and_listed_files_must_exist(tmp_path):
    (tmp_path / "README.md").write_text("# Index\n\n| Page | What |\n| --- | --- |\n| [a.md](a.md) | a |\n"
                                        "| [gone.md](gone.md) | listed, missing |\n| [up](../up.md) | outside |\n"
                                        "Also [b.md](b.md), outside the table.\n")
    for name in ("a.md", "b.md"):
        (tmp_path / name).write_text(f"# {name}\n\n![x](figures/x.png) ![y](figures/y.png)\n")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "x.png").write_bytes(b"\x89PNG")
    found = DocsPages(tmp_path)
    assert sorted(found.pages) == ["README.md", "a.md"] and sorted(found.figures) == ["x.png"]
    http = docs_client(docs_dir=tmp_path)
    assert http.get("/docs-pages/a.md").status_code == 200
    assert [http.get(f"/docs-pages/{n}").status_code for n in ("b.md", "gone.md", "up.md")] == [404] * 3
    (tmp_path / "a.md").unlink()  # removed while the service runs: a 404, not a 500
    (tmp_path / "figures" / "x.png").unlink()
    assert [http.get(p).status_code for p in ("/docs-pages/a.md", "/docs-pages/figures/x.png")] == [404, 404]


def test_installed_without_docs_redirects_to_the_configured_url_or_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.delenv(docs_pages.DOCS_DIR_ENV, raising=False)
    monkeypatch.delenv(docs_pages.DOCS_URL_ENV, raising=False)
    monkeypatch.setattr(docs_pages, "source_docs_dir", lambda: None)  # as a wheel install: no source tree
    bare = docs_client()
    response = bare.get("/docs-pages/convolution.md")
    assert response.status_code == 404 and docs_pages.DOCS_URL_ENV in response.json()["detail"]

    monkeypatch.setenv(docs_pages.DOCS_URL_ENV, "https://example.org/strided/docs/")
    redirecting = docs_client()
    for path, target in (("convolution.md", "convolution.md"), ("figures/padding.png", "figures/padding.png")):
        response = redirecting.get(f"/docs-pages/{path}", follow_redirects=False)
        assert response.status_code == 307 and response.headers["location"] == f"https://example.org/strided/docs/{target}"
    for name in ("..", "x.py", "a b.md", "convolution.md.png"):  # only plain page names travel to the other site
        assert redirecting.get(f"/docs-pages/{name}", follow_redirects=False).status_code == 404, name

    monkeypatch.setenv(docs_pages.DOCS_DIR_ENV, str(DOCS_DIR))  # an explicit folder wins over the URL
    assert docs_client().get("/docs-pages/convolution.md").status_code == 200


def test_the_source_tree_docs_are_found_and_another_packages_docs_folder_is_not(tmp_path, monkeypatch):
    assert docs_pages.source_docs_dir() == DOCS_DIR  # the tests run from the checkout
    fake = tmp_path / "site-packages"
    (fake / "strided" / "serve").mkdir(parents=True)
    (fake / "docs").mkdir()
    (fake / "docs" / "README.md").write_text("| [x.md](x.md) | someone else's |\n")
    monkeypatch.setattr(docs_pages, "__file__", str(fake / "strided" / "serve" / "docs_pages.py"))
    assert docs_pages.source_docs_dir() is None  # no pyproject naming strided beside it
