"""`saliency-lab` command line: one module per subcommand, each exposing `register(subparsers)`.

Building the parser imports every subcommand module, so each one imports the library modules it
runs on inside its ``run``: ``--help`` and ``demo`` (whose process stays alive beside Streamlit)
then do not load the methods, metrics, audit, OpenCV and pandas.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from saliency_core.cli import audit, data, demo, explain, info, occlusion, train, zoo
from saliency_core.errors import escape_controls, one_line_error

# In the order --help lists them.
SUBCOMMANDS = (demo, occlusion, explain, audit, train, zoo, data, info)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="saliency-lab",
        description="Find unintended biases (shortcuts) in image classifiers with saliency maps.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def _shown(name: object) -> str:
    text = os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else str(name)  # type: ignore[arg-type]
    return escape_controls(text)


def _os_error_message(err: OSError) -> str:
    """``x.png: Is a directory`` rather than ``[Errno 21] Is a directory: 'x.png'`` (file names
    with newlines or control characters escaped: one line, always)."""
    if err.strerror and err.filename is not None:
        where = _shown(err.filename)
        if err.filename2 is not None:
            where += f" -> {_shown(err.filename2)}"
        return f"{where}: {err.strerror}"
    return one_line_error(err)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ValueError as err:
        # Bad input is a message, never a traceback.
        print(f"saliency-lab {args.command}: error: {one_line_error(err)}", file=sys.stderr)
        return 2
    except OSError as err:
        # A path that is a folder, an --out that is a file, a missing or unreadable file, a full disk.
        print(f"saliency-lab {args.command}: error: {_os_error_message(err)}", file=sys.stderr)
        return 2
    except MemoryError:
        # Sizes are bounded (frame.MAX_FRAME, the 40 MP pixel cap), but a method's copies can add up.
        print(f"saliency-lab {args.command}: error: out of memory; try a smaller --size or --batch-size",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
