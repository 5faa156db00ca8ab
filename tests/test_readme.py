"""The README's front door works as written: its Python example and its quick start commands."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import strided as st

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def test_the_python_example_runs(tmp_path, monkeypatch):
    code = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert st.load(tmp_path / "tiny.safetensors").metadata["input_shape"] == [1, 28, 28]


def test_the_set_up_commands_are_the_ones_ci_runs():
    setup = re.search(r"## Set up.*?```bash\n(.*?)```", README, re.S).group(1).strip().splitlines()
    ci = (REPO / ".ci" / "run").read_text()
    assert setup == ['pip install -e ".[test]"', "python -m pytest -q"]
    assert 'pip install --quiet -e ".[test]"' in ci and ci.strip().endswith(setup[1])


def test_the_quick_start_runs_as_written(tmp_path):
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", README, re.S).group(1)
    commands = [shlex.split(line.split("#")[0]) for line in block.strip().splitlines()]
    assert [c[:2] for c in commands] == [["strided", "train"], ["strided", "predict"], ["strided", "evaluate"],
                                         ["strided", "serve"]]
    for command in commands[:3]:  # serve runs until stopped; tests/serve starts it as a real server
        args = [str(REPO / a) if a.startswith("examples/") else a for a in command[1:]]
        result = subprocess.run([sys.executable, "-m", "strided", *args], cwd=tmp_path, capture_output=True,
                                text=True, timeout=900)
        assert result.returncode == 0, result.stderr
        if command[1] == "predict":
            assert result.stdout.split(": ")[1].startswith("7 "), result.stdout
        if command[1] == "evaluate":
            accuracy = float(re.search(r"accuracy (\d\.\d+)", result.stdout).group(1))
            assert accuracy >= 0.95, result.stdout
