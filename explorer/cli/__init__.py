"""Command line: a thin layer over importable functions. Each subcommand is its own module with
add_parser(subparsers) and run(args) -> exit code."""
from __future__ import annotations

import argparse
import sys

from ..checkpoint import CheckpointError
from ..devices import DeviceError
from . import estimators, evaluate, info, interpolate, sample, train

COMMANDS = [train, info, sample, interpolate, evaluate, estimators]


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
        return int(args.func(args) or 0)
    except (CheckpointError, DeviceError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
