"""Unit tests of Map Fields: the columns an administrator names for a file whose headers do not auto-map
(contactid-column / role-column), how the names are compared, the refusals of a wrong mapping, the metadata that
carries the names, and what the summary and the notification say was read."""

import codecs
import io
from collections import Counter
from collections.abc import Callable

import pytest

from portal_import.domain.notification import compose
from portal_import.domain.options import column_metadata, parse_options
from portal_import.domain.reader import ColumnMapping, FileRejected, open_import
from portal_import.domain.results import FAILURE_HEADER, CsvResultWriter

# A Salesforce report export: the two fields under headers of their own, among columns the import ignores.
SALESFORCE_HEADER = ["Account Name", "Contact: Contact ID", "Email", "Portal Role"]
SALESFORCE = ColumnMapping(contact_id="Contact: Contact ID", role="Portal Role")
LINKS = {f"{n}{k}": f"{k.lower()}-{n}" for n in ("successKey", "failureKey", "summaryKey") for k in ("Uri", "Url")}


def salesforce_export(delimiter: str) -> str:
    lines = [
        SALESFORCE_HEADER,
        ["Société Générale, SA", "0037KWyWfty6uEv0001", "a@example.com", "Partenaire Privilégié"],
        ["Acme; Inc", "0039ufjjaJ1sjNN", "b@example.com", "Customer"],
        ["", "", "", ""],
        ["Globex", "003t7RWpmtcuVPw0001", "c@example.com", ""],
    ]
    quoted = [[f'"{cell}"' if delimiter in cell else cell for cell in line] for line in lines]
    return "".join(delimiter.join(line) + "\r\n" for line in quoted)


EXPECTED_ROWS = [
    (2, "0037KWyWfty6uEv0001", "Partenaire Privilégié"),
    (3, "0039ufjjaJ1sjNN", "Customer"),
    (5, "003t7RWpmtcuVPw0001", ""),
]


def rows(data: bytes, mapping: ColumnMapping) -> list[tuple[int, str, str]]:
    return [(r.row_number, r.contact_id, r.role) for r in open_import([data], mapping=mapping).records()]


def refusal(data: bytes, mapping: ColumnMapping) -> FileRejected:
    with pytest.raises(FileRejected) as caught:
        open_import([data], mapping=mapping)
    return caught.value


# --- the mapped columns are read ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "delimiter"),
    [
        (lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "\t"),  # Excel's "Unicode text"
        (lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), "\t"),
        (lambda text: text.encode("cp1252"), ";"),  # Excel's CSV on a French Windows
        (lambda text: codecs.BOM_UTF8 + text.encode(), ","),
        (lambda text: text.encode(), "|"),
    ],
    ids=["utf-16-le-tabs", "utf-16-be-tabs", "cp1252-semicolons", "utf-8-bom-commas", "utf-8-pipes"],
)
def test_a_mapped_export_reads_the_named_columns_in_any_encoding_and_delimiter(
    encoded: Callable[[str], bytes], delimiter: str
) -> None:
    # Given a report export whose headers do not auto-map, in an encoding and with a delimiter Excel writes
    data = encoded(salesforce_export(delimiter))

    # When it is opened with its two columns named
    opened = open_import([data], mapping=SALESFORCE)

    # Then the delimiter is found and every record is read from the named columns, extra columns ignored
    assert opened.delimiter == delimiter
    assert [(r.row_number, r.contact_id, r.role) for r in opened.records()] == EXPECTED_ROWS


@pytest.mark.parametrize(
    "mapping",
    [
        ColumnMapping(contact_id="contact: contact id", role="PORTAL ROLE"),
        ColumnMapping(contact_id="Contact:_Contact-ID", role="portal_role"),
        ColumnMapping(contact_id="  Contact:  ContactID ", role="Portal-Role"),
    ],
)
def test_named_columns_are_compared_as_auto_mapping_compares_names(mapping: ColumnMapping) -> None:
    # Given / When / Then case, spaces, '_' and '-' make no difference
    assert rows(salesforce_export(",").encode(), mapping) == EXPECTED_ROWS


def test_an_accented_header_in_a_windows_1252_file_is_found_by_its_name() -> None:
    # Given a French export whose Role column is 'Rôle du portail', saved as Windows-1252
    data = "ID du contact;Rôle du portail\r\n0037KWyWfty6uEv0001;Client\r\n".encode("cp1252")

    # When / Then
    mapping = ColumnMapping(contact_id="ID du contact", role="rôle du portail")
    assert rows(data, mapping) == [(2, "0037KWyWfty6uEv0001", "Client")]


def test_the_delimiter_is_the_one_that_splits_out_the_named_columns() -> None:
    # Given a header with more commas (inside a column name) than semicolons (between the columns)
    data = b"Contact: Contact ID;Notes, comments, more, again;Portal Role\r\n003a;x, y;Customer\r\n"

    # When it is opened with its columns named
    opened = open_import([data], mapping=SALESFORCE)

    # Then the semicolon, which splits out the named columns, wins over the more frequent comma
    assert opened.delimiter == ";"
    assert [(r.contact_id, r.role) for r in opened.records()] == [("003a", "Customer")]


def test_one_field_named_and_the_other_auto_mapped() -> None:
    # Given / When only the ContactId column is named / Then Role is found by its own name
    data = b"Role,Contact: Contact ID\r\nCustomer,003a\r\n"
    assert rows(data, ColumnMapping(contact_id="Contact: Contact ID")) == [(2, "003a", "Customer")]


def test_a_named_column_wins_over_a_column_named_after_the_field() -> None:
    # Given a file with a stale Role column and the real one under another name
    data = b"ContactId,Role,Portal Role\r\n003a,Old,Customer\r\n"

    # When / Then the Role is read from the column named, and the stale one is an extra column like any other
    assert rows(data, ColumnMapping(role="Portal Role")) == [(2, "003a", "Customer")]


def test_the_columns_read_are_reported_by_their_headers_as_the_file_has_them() -> None:
    # Given a UTF-8 file with a BOM, auto-mapped, and the Salesforce export mapped
    auto = open_import([codecs.BOM_UTF8 + b"contact id,ROLE\r\n003a,Customer\r\n"])
    mapped = open_import([salesforce_export(",").encode()], mapping=ColumnMapping("contact: contact id", "portal role"))

    # Then each field's column is named as its header reads (not as the mapping spelled it), without the BOM
    assert auto.column_names == {"ContactId": "contact id", "Role": "ROLE"}
    assert mapped.column_names == {"ContactId": "Contact: Contact ID", "Role": "Portal Role"}


def test_the_failure_file_of_a_mapped_import_reads_back_without_any_mapping() -> None:
    # Given the failure file written for rows read from a mapped export (ContactId and Role as they were in it)
    failed = open_import([salesforce_export(",").encode()], mapping=SALESFORCE).records()
    written = io.BytesIO()
    writer = CsvResultWriter(written, FAILURE_HEADER)
    for record in failed:
        writer.write((record.row_number, record.contact_id, record.role, "Invalid Role"))

    # When it is dropped back as it is, with no mapping
    reread = rows(written.getvalue(), ColumnMapping())

    # Then its own header auto-maps and every row's ContactId and Role come back as they were
    assert [(contact, role) for _, contact, role in reread] == [(contact, role) for _, contact, role in EXPECTED_ROWS]


# --- a wrong mapping is refused in one sentence ------------------------------------------------------------------


def test_a_named_column_the_file_lacks_is_refused_listing_the_columns_found() -> None:
    # Given / When the mapping names 'Contact ID', which the export does not have
    refused = refusal(salesforce_export(",").encode(), ColumnMapping(contact_id="Contact ID", role="Portal Role"))

    # Then one sentence names the metadata, the option and the columns the file has
    assert str(refused) == (
        "The contactid-column metadata (--contact-id-column) names the column 'Contact ID', which the file does not "
        "have (found columns: Account Name, Contact: Contact ID, Email, Portal Role); name the column that holds the "
        "Contact IDs as its header reads and upload the file again."
    )
    # and the log line leaves out what came from the file
    assert "Account Name" not in refused.loggable and "'<name left out>'" in refused.loggable


@pytest.mark.parametrize(
    ("data", "mapping", "sentence"),
    [
        (
            b"ContactId,Role\r\n003a,Customer\r\n",
            ColumnMapping(role="Portal Role"),
            "The role-column metadata (--role-column) names the column 'Portal Role', which the file does not have "
            "(found columns: ContactId, Role); name the column that holds the Role names as its header reads and "
            "upload the file again.",
        ),
        (
            salesforce_export(",").encode(),
            ColumnMapping(contact_id="Portal Role", role="portal role"),
            "The contactid-column and role-column metadata (--contact-id-column, --role-column) both name column 4 "
            "('Portal Role'), but ContactId and Role must be two columns (found columns: Account Name, Contact: "
            "Contact ID, Email, Portal Role); name the column of each and upload the file again.",
        ),
        (
            b"Id,Role\r\n003a,Customer\r\n",
            ColumnMapping(contact_id="role"),
            "The contactid-column metadata (--contact-id-column) names column 2 ('Role'), which is the file's Role "
            "column, but ContactId and Role must be two columns (found columns: Id, Role); name the column that "
            "holds the Contact IDs and upload the file again.",
        ),
        (
            b"Portal Role,portal_role,ContactId\r\nA,B,003a\r\n",
            ColumnMapping(role="Portal Role"),
            "The file has two Role columns (column 1 'Portal Role' and column 2 'portal_role'); keep one of them and "
            "upload the file again.",
        ),
        (
            salesforce_export(",").encode(),
            ColumnMapping(contact_id="Contact: Contact ID"),
            "The file has no Role column (found columns: Account Name, Contact: Contact ID, Email, Portal Role); "
            "rename the column that holds the Role names to Role and upload the file again, or upload it as it is "
            "with that column named: `--metadata role-column=NAME` (aws s3 cp) or "
            "`portal-import submit FILE --role-column NAME`.",
        ),
        (
            salesforce_export(",").encode(),
            ColumnMapping(),
            "The first row of the file must be a header naming the ContactId and Role columns (found columns: "
            "Account Name, Contact: Contact ID, Email, Portal Role); add a header row such as ContactId,Role and "
            "upload the file again, or, if the file's columns have names of their own, upload it as it is with them "
            "named: `--metadata contactid-column=NAME,role-column=NAME` (aws s3 cp) or "
            "`portal-import submit FILE --contact-id-column NAME --role-column NAME`.",
        ),
    ],
    ids=[
        "named-role-column-missing",
        "both-named-as-one-column",
        "named-as-the-other-fields-column",
        "two-columns-answer-to-the-name",
        "other-field-neither-named-nor-auto-mapped",
        "export-without-mapping-says-how-to-map-it",
    ],
)
def test_a_header_the_mapping_does_not_fit_is_refused_with_one_sentence(
    data: bytes, mapping: ColumnMapping, sentence: str
) -> None:
    # Given / When / Then
    assert str(refusal(data, mapping)) == sentence


# --- the metadata that carries the names -------------------------------------------------------------------------


def test_the_metadata_names_the_columns_in_any_key_case() -> None:
    # Given / When
    options = parse_options(
        {"ContactId-Column": " Contact: Contact ID ", "role-column": "Portal Role"}, send_default=False
    )

    # Then
    assert options.columns == SALESFORCE


def test_blank_column_metadata_leaves_the_fields_auto_mapped() -> None:
    # Given / When / Then
    assert parse_options({"contactid-column": " ", "role-column": ""}, send_default=False).columns == ColumnMapping()


def test_a_column_name_that_is_nothing_but_separators_is_refused() -> None:
    # Given / When
    with pytest.raises(FileRejected) as caught:
        parse_options({"role-column": "_ -"}, send_default=False)

    # Then
    assert str(caught.value) == (
        "The role-column metadata is '_ -', which names no column (case, spaces, '_' and '-' are ignored in column "
        "names); upload the file again with role-column set to the header of the file's Role column."
    )


@pytest.mark.parametrize("name", ["Contact: Contact ID", "Rôle du portail", "役割"])
def test_names_set_by_submit_come_back_as_they_were_given(name: str) -> None:
    # Given the metadata submit and local run set (S3 takes ASCII only)
    metadata = column_metadata(name, None)
    assert all(value.isascii() for value in metadata.values())

    # When the splitter reads it / Then
    assert parse_options(metadata, send_default=False).columns == ColumnMapping(contact_id=name)


def test_a_name_beyond_ascii_as_s3_returns_it_is_decoded() -> None:
    # Given the form S3 returns a non-ASCII metadata value in (set from the console, say): RFC 2047 encoded words
    metadata = {"role-column": "=?UTF-8?Q?R=C3=B4le_du_portail?="}

    # When / Then
    assert parse_options(metadata, send_default=False).columns == ColumnMapping(role="Rôle du portail")


# --- what the results say was read -------------------------------------------------------------------------------


def test_the_notification_says_which_columns_were_read() -> None:
    # Given the summary of a mapped import
    summary = {
        "jobId": "20261125T101500Z-abc",
        "sourceKey": "imports/report.csv",
        "status": "COMPLETED",
        "mode": "import",
        "columns": {"ContactId": "Contact: Contact ID", "Role": "Portal Role"},
        "totalRows": 3,
        "succeeded": 3,
        "failed": 0,
        "sendActivationEmail": False,
        "emailsQueued": 0,
    }

    # When / Then
    _, message = compose(summary, Counter(), LINKS, 3600)
    assert "Columns: ContactId from 'Contact: Contact ID', Role from 'Portal Role'\nRows: 3\n" in message
