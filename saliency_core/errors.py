"""Error text for people: one line, whatever the exception carried."""

from __future__ import annotations


def escape_controls(text: str) -> str:
    """``text`` with newlines, tabs and other non-printable characters escaped as ``repr`` does
    (``a\\nb.jpg``), so that it stays on one line and cannot steer a terminal; printable text,
    accents included, is unchanged."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def one_line_error(error: BaseException, limit: int | None = None, *, typed: bool = False) -> str:
    """``error`` as one line for a message.

    TorchScript embeds a whole traceback in its errors: keep what was said before it and its last
    line (the cause). ``typed`` prefixes the exception's class (``KeyError: 101`` says more than
    ``101``); an empty message becomes the class name. Control characters left inside a line
    (e.g. a terminal escape in a file name) are escaped. At most ``limit`` characters.
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    cut = next((i for i, line in enumerate(lines) if line.startswith("Traceback")), None)
    if cut is not None:
        lines = [*lines[:cut], *lines[-1:]]
    text = escape_controls(" ".join(lines))
    if not text:
        text = type(error).__name__
    elif typed:
        text = f"{type(error).__name__}: {text}"
    return text if limit is None or len(text) <= limit else text[: limit - 1].rstrip() + "…"
