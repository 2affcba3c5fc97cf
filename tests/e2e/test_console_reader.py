"""The console's reader (functions/console/static/reader.js), run in Debian's chromium, reads every file of the test
corpus as the stack's reader (portal_import.domain.reader) does: the same encoding, delimiter, header columns,
ContactId and Role columns (auto-mapped, or as Map Fields names them), the same first rows, and the same refusal
sentence for a file the stack refuses at its header. The browser only has the file's first 64 KiB, as the console
slices it; Python reads the whole file.

The corpus: every CSV under tests/fixtures/, a generated file larger than 64 KiB, the files the awkward-file and Map
Fields end-to-end tests build (their own builders), every file the reader's and Map Fields' unit tests hand to the
reader (recorded by running them with tests/fixtures/reader_corpus.py), and each encoding x delimiter x line end
with and without a mapping. Then hypothesis: random headers from the reader's awkward alphabet, the unit tests'
random tables and token soups.
"""

from __future__ import annotations

import base64
import codecs
import csv
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from portal_import.domain.reader import NO_MAPPING, ColumnMapping, FileRejected, Limits, normalize_name, open_import
from portal_import.domain.shown import visible

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
READER_JS = ROOT / "functions" / "console" / "static" / "reader.js"
FIXTURES = ROOT / "tests" / "fixtures"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PREFIX = 64 * 1024  # what the console slices off the file and gives the reader
PREVIEW_ROWS = 5
PROPERTY = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    mapping: ColumnMapping = NO_MAPPING
    max_field_chars: int = Limits().max_field_chars  # the stack's MaxFieldChars


# --- what each side says ---------------------------------------------------------------------------------------


def pieces(data: bytes, size: int = PREFIX) -> Iterator[bytes]:
    return (data[start : start + size] for start in range(0, len(data), size))


def stack_reads(case: Case) -> dict[str, Any]:
    """What the stack's reader says of the whole file: its refusal, or its encoding, delimiter, header, mapped
    columns and first non-blank records (up to a row it refuses). ImportFile shows only the columns' names and the
    records' two fields; the console shows the header, the columns' positions and whole records, so they are read
    from the ImportFile's own parts (_header, _columns, _rows), the ones records() reads from."""
    try:
        opened = open_import(pieces(case.data), Limits(max_field_chars=case.max_field_chars), case.mapping)
    except FileRejected as rejected:
        return {"refusal": str(rejected)}
    rows: list[list[str]] = []
    number = 1
    while len(rows) < PREVIEW_ROWS:
        number += 1
        try:
            cells = opened._rows.next(number)
        except FileRejected:
            break
        if cells is None:
            break
        if any(cell.strip() for cell in cells):
            rows.append(cells)
    return {
        "encoding": opened.encoding,
        "delimiter": opened.delimiter,
        "columns": opened._header,
        "contactIdColumn": opened._columns["ContactId"],
        "roleColumn": opened._columns["Role"],
        "rows": rows,
        "refusal": None,
    }


def console_reads(page: Page, cases: list[Case]) -> list[dict[str, Any]]:
    """What reader.js says of each file's first 64 KiB, all in one evaluation."""
    files = [
        {
            "data": base64.b64encode(case.data[:PREFIX]).decode(),
            "mapping": {"contactId": case.mapping.contact_id, "role": case.mapping.role},
            "options": {"maxFieldChars": case.max_field_chars},
        }
        for case in cases
    ]
    results: list[dict[str, Any]] = page.evaluate(
        """files => files.map(({data, mapping, options}) => {
            const bytes = Uint8Array.from(atob(data), char => char.charCodeAt(0));
            return PortalImportReader.readHeader(bytes, mapping, options);
        })""",
        files,
    )
    return results


def disagreements(page: Page, cases: list[Case]) -> list[str]:
    """Every case whose two readings differ, each as its name and both readings."""
    found = []
    for case, console in zip(cases, console_reads(page, cases), strict=True):
        stack = stack_reads(case)
        if console["cut"] or not _agree(stack, console, cut=len(case.data) >= PREFIX):
            found.append(f"{case.name} ({case.mapping}): stack {stack!r}\n  console {console!r}")
    return found


def _agree(stack: dict[str, Any], console: dict[str, Any], cut: bool) -> bool:
    if stack["refusal"] is not None or console["refusal"] is not None:
        return bool(stack["refusal"] == console["refusal"])
    keys = ("encoding", "delimiter", "columns", "contactIdColumn", "roleColumn")
    if any(stack[key] != console[key] for key in keys):
        return False
    if cut:
        # The slice may end within the first rows: the console shows those it has whole, never another.
        return bool(console["rows"] == stack["rows"][: len(console["rows"])])
    return bool(console["rows"] == stack["rows"])


# --- the browser ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    """One blank page of Debian's chromium with reader.js loaded, for the whole module."""
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "no chromium: `make chromium` installs Debian's (make test does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            blank = browser.new_page()
            blank.add_script_tag(content=READER_JS.read_text(encoding="utf-8"))
            yield blank
        finally:
            browser.close()


# --- the corpus ----------------------------------------------------------------------------------------------


def _module(path: Path) -> ModuleType:
    """A test module by its path (they are not a package), for the files its builders make."""
    spec = importlib.util.spec_from_file_location(f"_console_reader_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _mapping_of(args: tuple[str, ...]) -> ColumnMapping:
    options = dict(zip(args[::2], args[1::2], strict=False))
    return ColumnMapping(contact_id=options.get("--contact-id-column"), role=options.get("--role-column"))


def fixture_files(tmp: Path) -> list[Case]:
    sys.path.insert(0, str(FIXTURES))
    from generate import write_case

    cases = [Case(str(path.relative_to(ROOT)), path.read_bytes()) for path in sorted(FIXTURES.rglob("*.csv"))]
    # A generated directory and import larger than the 64 KiB the console reads.
    for path in write_case(tmp / "generated", rows=3000):
        cases.append(Case(f"generated/{path.name}", path.read_bytes()))
    return cases


def awkward_files() -> list[Case]:
    awkward = _module(ROOT / "tests" / "e2e" / "test_awkward_files.py")
    built = [*awkward.ACCEPTED, *(case for case, _ in awkward.REFUSED)]
    return [Case(f"awkward/{case.name}", case.data) for case in built]


def map_fields_files() -> list[Case]:
    map_fields = _module(ROOT / "tests" / "e2e" / "test_map_fields.py")
    cases = [
        Case(f"map-fields/{case.name}", case.data, _mapping_of(case.args)) for case in map_fields.CASES if case.data
    ]
    unmapped = [map_fields.utf16_tabs(), map_fields.cp1252_semicolons(), map_fields.french_utf8()]
    cases += [Case(f"map-fields/unmapped-{n}", data) for n, data in enumerate(unmapped)]
    unit = _module(ROOT / "tests" / "unit" / "test_map_fields.py")
    for delimiter in (",", ";", "\t", "|"):
        text = unit.salesforce_export(delimiter)
        for encoded in (text.encode(), text.encode("cp1252"), codecs.BOM_UTF16_BE + text.encode("utf-16-be")):
            cases.append(Case(f"unit-map-fields/salesforce-{delimiter!r}", encoded, unit.SALESFORCE))
    return cases


def unit_test_files(tmp: Path) -> list[Case]:
    """Every file the reader's and Map Fields' unit tests open, as they open it, recorded while they run."""
    out = tmp / "recorded.json"
    env = {
        **os.environ,
        "READER_CORPUS_OUT": str(out),
        "PYTHONPATH": os.pathsep.join([str(FIXTURES), str(ROOT / "shared")]),
    }
    tests = ["tests/unit/test_reader.py", "tests/unit/test_map_fields.py"]
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "reader_corpus", "-p", "no:xdist", *tests],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    recorded = json.loads(out.read_text(encoding="utf-8"))
    cases: dict[tuple[bytes, ColumnMapping, int], Case] = {}
    for entry in recorded:
        case = Case(
            f"unit/recorded-{len(cases)}{'' if entry['whole'] else '-beginning'}",
            base64.b64decode(entry["data"]),
            ColumnMapping(contact_id=entry["contactId"], role=entry["role"]),
            entry["maxFieldChars"],
        )
        cases.setdefault((case.data, case.mapping, case.max_field_chars), case)
    return list(cases.values())


ENCODINGS = {
    "utf-8": lambda text: text.encode(),
    "utf-8-sig": lambda text: codecs.BOM_UTF8 + text.encode(),
    "utf-16-le": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf-16-be": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    "cp1252": lambda text: text.encode("cp1252"),
}
DELIMITERS = (",", ";", "\t", "|")
NEWLINES = ("\r\n", "\n", "\r")
# Headers with the mappings each is read with: auto-mapped, a report's own names (mapped, and not), a named column
# that is missing, one column named for both fields, a column named after the field beside a named one.
HEADERS: list[tuple[list[str], list[ColumnMapping]]] = [
    (["ContactId", "Role", "Notes"], [NO_MAPPING, ColumnMapping(role="notes")]),
    ([" contact_id ", "Rôle", "ROLE", "Société; Notes, ou pas"], [NO_MAPPING]),
    (
        ["Account Name", "Contact: Contact ID", "Email", "Portal Role"],
        [
            NO_MAPPING,
            ColumnMapping(contact_id="Contact: Contact ID", role="Portal Role"),
            ColumnMapping(contact_id="contact:contactid", role="PORTAL_ROLE"),
            ColumnMapping(contact_id="Contact ID", role="Portal Role"),
            ColumnMapping(contact_id="Email", role="email"),
        ],
    ),
    (
        ["Rôle du portail", "ID du contact", "Propriétaire"],
        [ColumnMapping(contact_id="id du contact", role="RÔLE DU PORTAIL")],
    ),
    (["ContactId", "Portal Role", "Role"], [ColumnMapping(role="Portal Role"), ColumnMapping(contact_id="Role")]),
]
ROWS = [
    ["0037KWyWfty6uEv0001", "Partenaire Privilégié", 'déjà vu; oui, "non"'],
    ["", "", ""],
    ["0039ufjjaJ1sjNN", "Customer", "two\r\nlines"],
]


def _written(cells: list[str], delimiter: str, newline: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerow(cells)
    return buffer.getvalue()


def encoding_delimiter_files() -> list[Case]:
    cases = []
    for encoding, encode in ENCODINGS.items():
        for delimiter in DELIMITERS:
            for newline in NEWLINES:
                for header, mappings in HEADERS:
                    rows = [row[: len(header)] for row in ROWS]
                    text = "".join(_written(cells, delimiter, newline) for cells in [header, *rows])
                    for mapping in mappings:
                        cases.append(Case(f"{encoding}/{delimiter!r}/{newline!r}/{header[0]}", encode(text), mapping))
    return cases


def edge_files() -> list[Case]:
    """Files at the reader's edges: the 64 KiB cut, quotes in the header, stray bytes, BOMs, what is blank."""
    long_rows = b"".join(b"%019d,Customer,%s\n" % (n, b"x" * 2000) for n in range(40))
    return [
        Case("cut/rows-across-64k", b"ContactId,Role,Notes\n" + long_rows),
        Case("cut/64k-exactly", (b"ContactId,Role\n" + b"0037KWyWfty6uEv0001,Customer\n" * 3000)[:PREFIX]),
        Case("cut/utf-8-char-at-64k", b"ContactId,Role\n" + "é".encode() * 40000),
        Case(
            "cut/utf-16-at-64k", codecs.BOM_UTF16_LE + ("ContactId\tRole\r\n" + "a\tb\r\n" * 20000).encode("utf-16-le")
        ),
        *(
            Case(f"cut/{ending!r}-at-64k", b"ContactId,Role\n" + b"a" * (PREFIX - 17) + ending + b"\x80\x80,b\n")
            for ending in (b"\xe0\x80", b"\xe0\xa0", b"\xed\xa0", b"\xed\x9f", b"\xf4\x90", b"\xf0\x90", b"\xc0\x80")
        ),
        Case("cut/stray-byte-after-64k", b"ContactId,Role\n" + b"x,y\n" * 20000 + b"\xe9,z\n"),
        Case("header/quoted-line-break", b'"Contact\nId";Role;"a,b,c,d"\n1;2\n'),
        Case("header/quote-mid-name", b'Contact"Id,Role\nx,y\n'),
        Case("header/doubled-quotes", b'"Contact""Id",Role,"""Role"""\n1,2,3\n'),
        Case("header/quote-never-closed", b'ContactId,"Role\n1,2\n'),
        Case("header/value-over-the-limit", b"ContactId,Role," + b"n" * 32_001 + b"\n1,2,3\n"),
        Case("header/value-at-the-limit", b"ContactId,Role," + b"n" * 32_000 + b"\n1,2,3\n"),
        Case("header/value-over-a-set-limit", b"ContactId,Role,Notes about it\n1,2,3\n", max_field_chars=12),
        Case(
            "header/value-over-a-large-limit", b"ContactId,Role," + b"n" * 2_001 + b"\n1,2,3\n", max_field_chars=2_000
        ),
        Case("rows/value-over-a-set-limit", b"ContactId,Role\n1,2\n3,four five six\n7,8\n", max_field_chars=9),
        Case("header/empty-first-row", b"\r\nContactId,Role\r\n"),
        Case("header/blank-first-row", b" ,\xef\xbb\xbf\t\nContactId,Role\n"),
        Case("header/no-line-end", b"ContactId;Role"),
        Case("header/twelve-columns", b",".join(b"Column %d" % n for n in range(12)) + b"\n"),
        Case("header/long-name", b"ContactId," + b"A rather long column name, more than forty characters" + b"\n"),
        Case("header/invisible", "Contact\u200bId,Ro\x1ble\u202e,Role\u00a0\n".encode()),
        Case("header/kelvin-and-long-s", "ContactId,Role,\u212aelvin,\u017fome\n".encode()),
        Case(
            "header/casefold-sharp-s", "CONTACTID,ROLE,STRASSE,Straße\n".encode(), ColumnMapping(contact_id="strasse")
        ),
        Case("bytes/cp1252-all-high", b"ContactId,Role\n1," + bytes(range(0x80, 0x100)) + b"\n"),
        Case("bytes/cp1252-header", "Contact Id;Rôle;Rôle\r".encode("cp1252") + b"\x81\x8d\x8f\x90\x9d;x\r"),
        Case("bytes/utf-8-bom-then-latin1", codecs.BOM_UTF8 + b"ContactId,R\xf4le,Role\n1,\xe9,2\n"),
        Case("bytes/utf-16-odd-length", codecs.BOM_UTF16_LE + "ContactId,Role\n1,2\n".encode("utf-16-le") + b"\x41"),
        Case(
            "bytes/utf-16-lone-surrogate",
            codecs.BOM_UTF16_BE + "ContactId,Role\n".encode("utf-16-be") + b"\xd8\x00\x00a,b\n",
        ),
        Case("bytes/noncharacters", "ContactId,Role\n\ufffe,\uffff\n".encode()),
        Case("bytes/dos-eof-alone", b"ContactId,Role\n1,2\n\x1a"),
        Case("bytes/dos-eof-after-row", b"ContactId,Role\n1,2\x1a"),
        Case("bytes/nul-in-row", b"ContactId,Role\n1,\x00\n"),
        Case("blank/latin1-spaces", b"\xa0\x85 \r\n"),
        Case("blank/utf-16-spaces", codecs.BOM_UTF16_LE + "\u3000\ufeff \r\n".encode("utf-16-le")),
        Case("blank/ascii-white", b" \t\x0b\x0c\r\n"),
        Case("binary/one-control", b"\x1a"),
        Case("binary/utf-32-without-bom", "ContactId,Role\n".encode("utf-32-le")),
        Case("binary/utf-16-be-without-bom", "ContactId,Role\n".encode("utf-16-be")),
        Case("binary/few-controls", b"ContactId,Role\n" + b"\x01" + b"a" * 30 + b"\n"),
        Case("rows/blank-and-ragged", b'ContactId,Role\n\n,\n \t, \n1\n1,2,3,4\n"a\nb",c\n5,6\n7,8\n'),
        Case("rows/quote-never-closed", b'ContactId,Role\n1,2\n3,"4\n5,6\n'),
        Case("rows/value-over-the-limit", b"ContactId,Role\n1,2\n3," + b"v" * 32_001 + b"\n5,6\n"),
    ]


@pytest.fixture(scope="module")
def corpus(page: Page, tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    tmp = tmp_path_factory.mktemp("console-reader")
    cases = [
        *fixture_files(tmp),
        *awkward_files(),
        *map_fields_files(),
        *unit_test_files(tmp),
        *encoding_delimiter_files(),
        *edge_files(),
    ]
    # Each file read without a mapping once more with one that names its first two columns the other way round
    # (Map Fields), whether or not its header auto-maps.
    unmapped = [case for case in cases if case.mapping == NO_MAPPING]
    for case, read in zip(unmapped, console_reads(page, unmapped), strict=True):
        if len(read["columns"]) >= 2:
            mapping = ColumnMapping(contact_id=read["columns"][1], role=read["columns"][0])
            cases.append(Case(f"{case.name} mapped", case.data, mapping, case.max_field_chars))
    return cases


REFUSAL_STARTS = (
    "The file is empty",
    "The file is UTF-32 text",
    "The file looks like UTF-16 text without a byte order mark",
    "The file is not a CSV text file",
    "The first row of the file is empty",
    "The first row of the file must be a header naming the ContactId and Role columns",
    "The file has no Role column",
    "The file has no ContactId column",
    "The file has two ContactId columns",
    "The file has two Role columns",
    "Row 1 opens a quote",
    "Row 1 has a value longer than 32,000 characters",
)


# --- the tests -----------------------------------------------------------------------------------------------


def test_the_console_reads_every_file_of_the_corpus_as_the_stack_does(page: Page, corpus: list[Case]) -> None:
    # Given the corpus, each file as it is and with a mapping
    assert len(corpus) > 1000

    # When both read each file, Then they say the same of every one
    assert disagreements(page, corpus) == []


def test_the_corpus_holds_every_kind_of_file(corpus: list[Case]) -> None:
    # The comparison means something only if the files reach every decision of the reader.
    said = [stack_reads(case) for case in corpus]
    assert {read.get("encoding") for read in said} >= {"utf-8", "utf-8-sig", "utf-16", "cp1252"}
    assert {read.get("delimiter") for read in said} >= set(DELIMITERS)
    refusals = [read["refusal"] for read in said if read["refusal"]]
    for start in REFUSAL_STARTS:
        assert any(refusal.startswith(start) for refusal in refusals), start
    assert any("metadata (--contact-id-column) names the column" in refusal for refusal in refusals)
    assert any("must be two columns" in refusal for refusal in refusals)
    assert sum(len(case.data) >= PREFIX for case in corpus) >= 8


def test_a_header_longer_than_the_slice_is_said_to_be_cut_not_refused(page: Page) -> None:
    # Given a header whose one name runs past the first 64 KiB
    data = b"ContactId,Role," + b"n" * PREFIX + b"\n1,2,3\n"

    # When the console reads the slice
    (read,) = console_reads(page, [Case("long-header", data)])

    # Then it says the header is cut, and nothing else
    assert (read["cut"], read["refusal"], read["columns"]) == (True, None, [])


def test_a_refused_header_still_suggests_the_columns_that_fit(page: Page) -> None:
    # Given a header with a ContactId column and none for Role, and one that maps a column for both fields
    cases = [
        Case("no-role", b"Notes,Contact ID,Email\n1,2,3\n"),
        Case("one-for-both", b"ContactId,Portal Role\n1,2\n", ColumnMapping(role="ContactId")),
    ]

    # When the console reads them
    no_role, one_for_both = console_reads(page, cases)

    # Then the selects are preselected where one column fits
    assert (no_role["contactIdColumn"], no_role["roleColumn"]) == (1, None)
    assert no_role["refusal"] == stack_reads(cases[0])["refusal"]
    assert (one_for_both["contactIdColumn"], one_for_both["roleColumn"]) == (0, None)


# Every character of the planes with letters, marks and format characters (0, 1, 14), every 17th of the
# ideographs' planes (2, 3: no case, so only where assigned ones end matters), every 257th of the others (unassigned
# or private use, which both sides must escape alike), and each plane's last: (first, last, step).
CODE_POINT_STEPS = {0: 1, 1: 1, 14: 1, 2: 17, 3: 17}
CODE_POINT_RANGES = [
    (plane * 0x10000, plane * 0x10000 + 0xFFFF, CODE_POINT_STEPS.get(plane, 257)) for plane in range(17)
]


def _code_points() -> list[int]:
    points = []
    for first, last, step in CODE_POINT_RANGES:
        points += [cp for cp in [*range(first, last, step), last] if not 0xD800 <= cp <= 0xDFFF]
    return points


def _changed(code_points: list[int], normalized: list[str], shown: list[str]) -> dict[str, list[Any]]:
    """The characters a header name changes in when normalized, and those shown as escapes (as ranges)."""
    escaped: list[list[int]] = []
    for cp, text in zip(code_points, shown, strict=True):
        if text == chr(cp):
            continue
        if escaped and escaped[-1][1] == cp - 1:
            escaped[-1][1] = cp
        else:
            escaped.append([cp, cp])
    folded = [[cp, text] for cp, text in zip(code_points, normalized, strict=True) if text != chr(cp)]
    return {"folded": folded, "escaped": escaped}


def test_names_compare_and_show_as_python_has_them_for_every_character(page: Page) -> None:
    # Given the characters (all those of the planes in use), When both normalize each as a header name and show it
    # as a refusal quotes it
    code_points = _code_points()
    console = page.evaluate(
        """ranges => {
            const codePoints = [];
            for (const [first, last, step] of ranges) {
                for (let cp = first; cp < last; cp += step) if (cp < 0xd800 || cp > 0xdfff) codePoints.push(cp);
                codePoints.push(last);
            }
            const folded = [];
            const escaped = [];
            for (const cp of codePoints) {
                const char = String.fromCodePoint(cp);
                const normalized = PortalImportReader.normalizeName(char);
                if (normalized !== char) folded.push([cp, normalized]);
                if (PortalImportReader.visible(char) === char) continue;
                const last = escaped[escaped.length - 1];
                if (last && last[1] === cp - 1) last[1] = cp;
                else escaped.push([cp, cp]);
            }
            return {folded, escaped};
        }""",
        CODE_POINT_RANGES,
    )
    chars = [chr(cp) for cp in code_points]
    stack = [[normalize_name(char) for char in chars], [visible(char) for char in chars]]

    # Then they agree on every one: Python's casefold, isspace and isprintable, not the browser's
    assert console == _changed(code_points, *stack)
    escapes = ["\x00", "\u200b", "\U000e0001", "\n", "a\u202eb", "\x85", "Role\u00a0\u3000x"]
    assert page.evaluate("texts => texts.map(PortalImportReader.visible)", escapes) == [visible(t) for t in escapes]


# --- properties ------------------------------------------------------------------------------------------------

# The pieces header names are made of where the reader decides something: quotes, delimiters, line ends, BOMs,
# white space Python and browsers disagree on, case folding, the fields' names and their spellings.
NAME_PIECES = (
    "ContactId", "contact id", "CONTACT_ID", "Contact-Id", "contactid", "Role", "role", "ROLE", " rOlE ", "Rôle",
    "Notes", "Email", "Portal Role", "Contact: Contact ID", "\u212a", "\u017f", "ß", "SS", "İ", "ﬃ", "Σ", "ς",
    '"', '""', ",", ";", "\t", "|", "\r", "\n", "\r\n", " ", "\u00a0", "\u0085", "\u2028", "\u3000", "\x1c",
    "\ufeff", "_", "-", "é", "€", "😀", "\u200b", "\x00", "\x1b",
)  # fmt: skip
RANDOM_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "cp1252")

name_text = st.lists(st.sampled_from(NAME_PIECES), max_size=5).map("".join)


@st.composite
def random_headers(draw: st.DrawFn) -> Case:
    names = draw(st.lists(name_text, min_size=1, max_size=5))
    delimiter = draw(st.sampled_from(DELIMITERS))
    newline = draw(st.sampled_from(NEWLINES))
    # As typed, quotes and all, or as csv.writer writes it.
    text = delimiter.join(names) + newline if draw(st.booleans()) else _written(names, delimiter, newline)
    text += draw(st.lists(name_text, max_size=3).map(lambda cells: delimiter.join(cells) + newline))
    mapped = st.one_of(st.none(), st.sampled_from(names), name_text)
    mapping = ColumnMapping(contact_id=draw(mapped), role=draw(mapped))
    encoding = draw(st.sampled_from(RANDOM_ENCODINGS))
    try:
        data = ENCODINGS[encoding](text)
    except UnicodeEncodeError:
        data = ENCODINGS["utf-8"](text)
    return Case(f"random {text!r}", data, mapping)


@PROPERTY
@given(cases=st.lists(random_headers(), min_size=1, max_size=25))
def test_random_headers_read_the_same(page: Page, cases: list[Case]) -> None:
    assert disagreements(page, cases) == []


CODECS = {
    "utf-8": (b"", "utf-8"),
    "utf-8-sig": (codecs.BOM_UTF8, "utf-8"),
    "utf-16-le": (codecs.BOM_UTF16_LE, "utf-16-le"),
    "utf-16-be": (codecs.BOM_UTF16_BE, "utf-16-be"),
    "cp1252": (b"", "cp1252"),
}
FILLER_CHARS = 30_000  # a value under the field limit: a few such rows take the file past 64 KiB


@st.composite
def cut_files(draw: st.DrawFn) -> Case:
    """A header that maps, rows of filler, then rows of awkward pieces, the 64 KiB slice ending anywhere in them."""
    contact = draw(st.sampled_from(("ContactId", "contact id", "CONTACT_ID", " Contact-ID ")))
    names = draw(st.permutations([contact, draw(st.sampled_from(("Role", " ROLE ", "rOlE"))), "Notes"]))
    delimiter = draw(st.sampled_from(DELIMITERS))
    newline = draw(st.sampled_from(NEWLINES))
    as_typed = draw(st.booleans())

    def line(cells: list[str]) -> str:
        return delimiter.join(cells) + newline if as_typed else _written(cells, delimiter, newline)

    rows = draw(st.lists(st.lists(name_text, min_size=1, max_size=4), min_size=1, max_size=6))
    bom, codec = CODECS[draw(st.sampled_from(RANDOM_ENCODINGS))]
    try:
        tail = "".join(map(line, rows)).encode(codec)
    except UnicodeEncodeError:
        bom, codec = b"", "utf-8"
        tail = "".join(map(line, rows)).encode(codec)
    head = bom + line(names).encode(codec)
    # The slice ends `offset` bytes into the awkward rows.
    offset = draw(st.integers(min_value=0, max_value=len(tail)))
    unit = len("x".encode(codec))
    filler_chars = (PREFIX - len(head) - offset) // unit
    filler = []
    while filler_chars > len(newline):
        width = min(FILLER_CHARS, filler_chars - len(newline))
        filler.append("x" * width + newline)
        filler_chars -= width + len(newline)
    data = head + "".join(filler).encode(codec) + tail
    return Case(f"cut at {offset} into {tail!r}", data)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases=st.lists(cut_files(), min_size=1, max_size=4))
def test_files_cut_at_64_kib_say_nothing_wrong(page: Page, cases: list[Case]) -> None:
    assert all(len(case.data) >= PREFIX for case in cases)
    assert disagreements(page, cases) == []


# A lead byte where UTF-8 decides something (two, three, four bytes; its second byte's narrower range; never a
# lead), then continuation bytes at the edges of those ranges.
LEADS = (0xC0, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0x80)
FOLLOWERS = (0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC3)
high_bytes = st.tuples(st.sampled_from(LEADS), st.lists(st.sampled_from(FOLLOWERS), max_size=2)).map(
    lambda drawn: bytes([drawn[0], *drawn[1]])
)


@PROPERTY
@given(cuts=st.lists(st.tuples(high_bytes, st.lists(st.sampled_from(FOLLOWERS), max_size=3).map(bytes)), max_size=4))
@example(cuts=[(b"\xed\xa0", b"\x80"), (b"\xe0\x80", b""), (b"\xf0\x90\x80", b"\x80")])
def test_a_character_the_slice_cuts_is_judged_as_the_stack_judges_it(
    page: Page, cuts: list[tuple[bytes, bytes]]
) -> None:
    # Bytes beyond ASCII on both sides of the 64 KiB mark: UTF-8 that may yet be completed, or Windows-1252.
    head = b"ContactId,Role\n"
    cases = [
        Case(f"{before!r} | {after!r}", head + b"a" * (PREFIX - len(head) - len(before)) + before + after + b",b\n")
        for before, after in cuts
    ]
    assert disagreements(page, cases) == []


def _unit_properties() -> ModuleType:
    return _module(ROOT / "tests" / "unit" / "test_reader_properties.py")


_PROPERTIES = _unit_properties()


@PROPERTY
@given(tables=st.lists(_PROPERTIES.tables(), min_size=1, max_size=10))
def test_the_unit_tests_random_tables_read_the_same(page: Page, tables: list[Any]) -> None:
    cases = [Case(f"table {table!r}", table.encoded()) for table in tables]
    assert disagreements(page, cases) == []


@PROPERTY
@given(
    files=st.lists(
        st.one_of(
            _PROPERTIES.token_bytes,
            st.tuples(_PROPERTIES.headers, _PROPERTIES.token_bytes).map(b"".join),
            st.binary(max_size=300),
        ),
        min_size=1,
        max_size=25,
    ),
    # The unit tests' field limits (the stack's MaxFieldChars): a header value over the limit refuses the file.
    limit=st.sampled_from([4, 40, 32_000]),
)
def test_token_soups_and_any_bytes_read_the_same(page: Page, files: list[bytes], limit: int) -> None:
    cases = [Case(f"bytes {data!r}", data, max_field_chars=limit) for data in files]
    assert disagreements(page, cases) == []
