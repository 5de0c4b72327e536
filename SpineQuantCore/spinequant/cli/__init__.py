"""The ``spinequant`` command. Each sub-command lives in its own module with ``add_parser`` and ``run``."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

from .. import __version__
from ..errors import SpineQuantError

# Sub-command modules inside this package, in the order `--help` lists them.
COMMAND_MODULES = ("demo", "fat", "stats", "vbq", "segment", "batch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spinequant",
        description="Quantitative lumbar-spine MRI: paraspinal muscle fat and the VBQ score.",
    )
    parser.add_argument("--version", action="version", version=f"spinequant {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        sub = module.add_parser(subparsers)
        sub.set_defaults(handler=module.run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except SpineQuantError as exc:
        print(f"spinequant {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"spinequant {args.command}: interrupted; files already written are complete", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
