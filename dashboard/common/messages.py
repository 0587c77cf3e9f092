"""The plain-language texts pages show when something is missing or went wrong."""

from __future__ import annotations

from saliency_core.errors import one_line_error

NO_DATA_MESSAGE = (
    "**No demo photos found.** This page needs demo cat and dog photos, and the folder "
    "`SALIENCY_DATA` points at holds none it can use.\n\n"
    "- Unset `SALIENCY_DATA` and restart to use the built-in photos (880 Oxford-IIIT Pet cats and "
    "dogs that ship with the app).\n"
    "- Or point `SALIENCY_DATA` at the cats-vs-dogs folder (with its `MANIFEST.csv`) and restart: "
    "`SALIENCY_DATA=/path/to/cats-vs-dogs saliency-lab demo` "
    "(or `saliency-lab demo --data /path/to/cats-vs-dogs`).\n\n"
    "The *Your model & images* page works without them: upload your own images there."
)

ZOO_HELP = (
    "The built-in model zoo is not available (its weights are missing or still being trained). "
    "Train it with `saliency-lab train --all`, or bring your own model on the "
    "*Your model & images* page."
)

ERROR_LIMIT = 300  # characters: a message, not a wall of text


def plain_error(error: BaseException, limit: int = ERROR_LIMIT) -> str:
    """A one-line message for the page (no embedded traceback), at most ``limit`` characters."""
    return one_line_error(error, limit)
