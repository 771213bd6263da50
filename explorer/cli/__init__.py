"""Command line: a thin layer over importable functions. Each subcommand is its own module with
add_parser(subparsers) and run(args) -> exit code."""
from __future__ import annotations

import argparse
import os
import re
import sys
from typing import NoReturn

from ..model.devices import DeviceError
from ..store.checkpoint import CheckpointError
from . import (attribute, browsers, encode, estimators, evaluate, export_html, import_onnx, info, interpolate, neighbours,
               sample, train, warm)

COMMANDS = [train, info, sample, interpolate, neighbours, attribute, evaluate, estimators, encode, warm, import_onnx,
            export_html, browsers]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m explorer",
                                description="VAE Explorer: train, evaluate and inspect variational autoencoders.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for mod in COMMANDS:
        mod.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        world_size()  # torchrun's setting, read by exit_process and the commands that run in parallel
        return int(args.func(args) or 0)
    except (CheckpointError, DeviceError, FileNotFoundError, ValueError) as e:
        print(f"error: {_in_words(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a disk that fills, a folder that vanishes: the user's to fix, in one line
        print(f"error: {e.filename + ': ' if e.filename else ''}{e.strerror or e}", file=sys.stderr)
        return 1
    except Exception as e:  # nothing a file or an argument can cause ends in a traceback
        if os.environ.get("EXPLORER_DEBUG"):
            raise
        print(f"error: {type(e).__name__}: {_first_line(e)} (set EXPLORER_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


def world_size() -> int:
    """WORLD_SIZE (torchrun sets it), 1 when unset; a ValueError in one line for a value that is no count."""
    raw = os.environ.get("WORLD_SIZE", "").strip() or "1"
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"WORLD_SIZE must be a whole number of processes (torchrun sets it), got {raw!r}")
    return n


# torch's check of a distribution's parameters, whose message goes on to print the whole tensor
_TORCH_INVALID = re.compile(r"Expected parameter (\w+) .*? of distribution (\w+)\(.*found invalid values", re.S)


def _in_words(e: BaseException) -> str:
    """A model whose numbers turned NaN on real images (the load probe passed it) fails torch's parameter check
    with a message of a hundred lines: one line instead, in words."""
    m = _TORCH_INVALID.match(str(e))
    if m is None:
        return str(e)
    return (f"the model gives non-finite or out-of-range numbers for a {m[2]}'s {m[1]} on these images: its "
            "numbers are unusable here")


def _first_line(e: BaseException) -> str:
    """A C++ error's message can carry a whole stack: its first line says what went wrong."""
    lines = str(e).strip().splitlines()
    return lines[0][:300] if lines else ""


def exit_process(code: int) -> NoReturn:
    """sys.exit(code), except under torchrun: there the process ends without Python's teardown.

    Gloo's worker threads may still be freeing a finished collective (it holds Python objects) when the
    interpreter finalizes; that aborts the process now and then (BENCHMARKS.md says how often; a core dump shows
    ProcessGroupGloo::runLoop in ~AsyncBarrierWork taking the GIL), and torchrun then reports a failure
    after a good run. The process group is already destroyed and every file written and closed by now.
    """
    try:
        parallel = world_size() > 1
    except ValueError:  # main has said so in one line
        parallel = False
    if parallel:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
