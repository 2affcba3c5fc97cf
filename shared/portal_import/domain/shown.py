"""How a value from an import file is quoted in the sentences a person reads: error texts and refusals.

A cell can hold what no one can see: a right-to-left override, a zero-width space, a NUL, an escape, a line break.
Quoted raw, a failure file would say `Invalid Role: 'Customer'` for a Role that is not 'Customer'. Every character
that does not print is written as its escape instead (`\\u202e`, `\\x00`, `\\n`), so the sentence shows what is
wrong, and stays on one line.
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: str) -> str:
    """The text with every character that does not print (controls, format characters, line and paragraph
    separators, spaces other than ' ') written as its escape, as Python writes it."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def quoted(value: str, limit: int) -> str:
    """The value in single quotes as a sentence shows it: visible, and cut after `limit` characters."""
    if len(value) <= limit:
        return f"'{visible(value)}'"
    return f"'{visible(value[:limit])}...'"


def line_breaks(value: str) -> int:
    """How many line breaks the value holds, a CRLF counting as one."""
    return value.count("\n") + value.count("\r") - value.count("\r\n")
