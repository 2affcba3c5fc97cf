"""A person's name from the directory, as every reader of it gets it: on one line, with nothing that hides,
reorders or breaks the text around it, and no longer than a real name.

The directory's names reach activation emails, the pool user's `given_name` and `family_name`, and the activation
page. A name holding a line break could write a paragraph of its own into an email ("Hello Ana,\\n\\nYour account
is locked..."), a right-to-left override could turn the text after it around, a zero-width or format character
could make two different names look the same.
"""

from __future__ import annotations

# Salesforce, where Contacts come from, caps FirstName at 40 characters and LastName at 80: no name a CRM holds is
# cut, and no name can fill an email's greeting or the activation page's heading.
MAX_NAME_CHARS = 100


def clean_name(raw: str) -> str:
    """The name with each run of spaces and characters that do not print collapsed into one space, trimmed, and cut
    to MAX_NAME_CHARS characters."""
    if raw.isprintable() and "  " not in raw and raw == raw.strip(" ") and len(raw) <= MAX_NAME_CHARS:
        return raw  # nearly every name
    # What str.isprintable() refuses is what shown.visible() escapes: controls (\t \n \r ESC ...), format characters
    # (Cf: bidi overrides and isolates, zero-width joiners and spaces, the BOM), line and paragraph separators,
    # spaces other than ' ', and code points no font draws (surrogates, private use, unassigned).
    spaced = "".join(char if char.isprintable() else " " for char in raw)
    return " ".join(spaced.split())[:MAX_NAME_CHARS].rstrip(" ")
