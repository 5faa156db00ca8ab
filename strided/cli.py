"""The ``strided`` command line: parse the arguments, hand them to strided/commands/, report errors.

Each sub-command lives in its own module under strided/commands/ with ``add_arguments(parser)``
and ``run(args) -> exit code``. A mistake a user can make (a missing file, an unknown model or
dataset, an image that cannot be decoded, a file that is not a model) ends as one line on stderr
and a non-zero exit, never a traceback. Set STRIDED_DEBUG=1 to see tracebacks.
"""

import argparse
import importlib
import os
import sys
import warnings

COMMANDS = {
    "train": "train a model and write a run folder (model, checkpoint, metrics, plots)",
    "evaluate": "accuracy, per-class metrics and the confusion matrix of a model on a dataset",
    "predict": "classify image files with a model",
    "summary": "print a model's layers, output shapes and parameter counts",
    "serve": "run the HTTP inference service and its web page",
    "export": "write a model file as ONNX, for onnxruntime and other runtimes",
    "bench": "time strided against PyTorch on the benchmark networks",
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="strided", description="A CNN library on NumPy: train, evaluate, "
                                     "predict and serve convolutional networks.")
    parser.add_argument("--version", action="version", version=f"strided {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name != "bench":  # the benchmark parses its own options (see main)
            importlib.import_module(f"strided.commands.{name}").add_arguments(command_parser)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # the benchmark's own parser owns every option after the word
        from .benchmark.runner import main as bench_main

        return bench_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if not os.environ.get("STRIDED_DEBUG"):
        warnings.showwarning = _one_line_warning(args.command)
    try:
        return importlib.import_module(f"strided.commands.{args.command}").run(args)
    except KeyboardInterrupt:
        print("strided: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`strided evaluate ... | head`): stop quietly, as Unix tools do
        # Python would report the pipe again when it flushes stdout at exit; point stdout at nothing first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the broken pipe
    except (ValueError, OSError, ImportError) as error:
        if os.environ.get("STRIDED_DEBUG"):
            raise
        print(f"strided {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug of ours: still no traceback unless asked for
        if os.environ.get("STRIDED_DEBUG"):
            raise
        print(f"strided {args.command}: internal error: {type(error).__name__}: {_one_line(error)} "
              "(set STRIDED_DEBUG=1 for a traceback)", file=sys.stderr)
        return 3


def _one_line_warning(command: str):
    """Warnings as one line, `strided train: warning: ...`, without Python's file:line and source line."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"strided {command}: warning: {_one_line(message) if isinstance(message, Exception) else message}",
              file=file or sys.stderr)

    return show


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
