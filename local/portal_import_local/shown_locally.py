"""The results-ready message as `local run` prints it: each pre-signed link, which leads nowhere once the embedded AWS
is gone, replaced by the path of the same file in the run's results folder, and a heading that is true here."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

# The keys of the Import Completed event's `links`, one per result file: `<name>Uri` and `<name>Url`.
_LINKED_FILES = ("successKey", "failureKey", "summaryKey")


def shown_path(path: Path) -> str:
    """`path` as the user would type it: relative to the current directory when inside it, else absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(absolute)


def message_shown_locally(message: str, detail: Mapping[str, Any] | None, result_dir: Path) -> str:
    """`message` with each result file's link line replaced by its path under `result_dir`, and the heading above
    them saying so; `message` unchanged when the event's `detail` is missing or does not name its files.

    The file lines are found by the exact S3 URIs of the event's `links` (a link is the line below its URI: a
    retried aggregation may have signed the event's links anew, while its URIs stay the same)."""
    links = (detail or {}).get("links") or {}
    lines = message.split("\n")
    file_lines: list[int] = []
    for name in _LINKED_FILES:
        uri = links.get(f"{name}Uri")
        found = [i for i, line in enumerate(lines) if uri and line.endswith(f": {uri}")]
        if len(found) != 1 or found[0] < 1:
            return message
        file_lines.append(found[0])
    for at, name in zip(file_lines, _LINKED_FILES, strict=True):
        link_line = lines[at + 1]
        indent = link_line[: len(link_line) - len(link_line.lstrip())]
        file_name = PurePosixPath(links[f"{name}Uri"]).name
        lines[at + 1] = indent + shown_path(result_dir / file_name)
    heading = min(file_lines) - 1
    if not lines[heading].startswith("Result files ("):
        return message
    ttl = (detail or {}).get("linksExpireInSeconds")
    for_how_long = f" that work for up to {_duration(ttl)}" if isinstance(ttl, int) else ""
    lines[heading] = (
        f"Result files (downloaded into {shown_path(result_dir)}/; on AWS the message has links{for_how_long} instead):"
    )
    return "\n".join(lines)


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"
