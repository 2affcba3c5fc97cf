"""The files the runtime carries as package data, found the same way in a checkout and in an installed package: the
SAM application it runs (template.yaml with the functions' code beside it, where its CodeUri point; in a checkout
`application/` links to the repository's own) and the sample directory `local run` and `local serve` load."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
# Resolved: in a checkout, the repository's own template.yaml (and functions/ beside it), as `sam` reads them.
TEMPLATE = (_PACKAGE_DIR / "application" / "template.yaml").resolve()
SAMPLE_DIR = _PACKAGE_DIR / "sample"
