"""strided.serve.loadtest without httpx: one line that says what to install, not a bare ModuleNotFoundError."""

import importlib
import sys

import pytest


def test_a_missing_httpx_is_one_line_with_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "httpx", None)  # None in sys.modules: `import httpx` raises ImportError
    monkeypatch.delitem(sys.modules, "strided.serve.loadtest", raising=False)
    with pytest.raises(ImportError) as raised:
        importlib.import_module("strided.serve.loadtest")
    message = str(raised.value)
    assert message == "strided.serve.loadtest needs httpx (its HTTP client): pip install 'strided[serve]'"
    assert raised.value.__suppress_context__  # no "During handling of the above exception" chain
