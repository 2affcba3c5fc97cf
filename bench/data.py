"""Deterministic benchmark data: a directory (contacts.csv, roles.csv) and an import file (import.csv) in which
every row creates a user.

Each row names its own Contact, all of whom have a valid email and no portal user yet. Most rows use the
19-character Contact ID; about one in ten uses the Contact's 15-character Salesforce ID and one in ten its
18-character form, so the Salesforce alias look-up is exercised too. A million rows take a few seconds.

    .venv/bin/python bench/data.py 20000 /tmp/bench-data
"""

from __future__ import annotations

import argparse
import random
import string
from dataclasses import dataclass
from pathlib import Path

from portal_import.domain.ids import SALESFORCE_CHECKSUM_ALPHABET, to_salesforce_18

SEED = 20240601
ROLES = {"Partner User": True, "Customer": True, "Distributor Admin": True, "Legacy Partner": False}
ACTIVE_ROLES = [name for name, active in ROLES.items() if active]
SALESFORCE_15_SHARE = 0.1
SALESFORCE_18_SHARE = 0.1

_ALPHANUMERIC = string.ascii_letters + string.digits
# Random bytes become alphanumeric characters through one translate() call (a slight bias is harmless here).
_TO_ALPHANUMERIC = bytes((_ALPHANUMERIC[byte % len(_ALPHANUMERIC)]).encode()[0] for byte in range(256))
_UPPERCASE_BITS = str.maketrans({char: "1" if char in string.ascii_uppercase else "0" for char in _ALPHANUMERIC})
MAX_ROWS = 16**6  # six hex digits of serial number in every ID
# portal_import.domain.ids computes the checksum character by character; for a million IDs this faster form is used,
# checked against it every _CHECK_EVERY rows.
_CHECK_EVERY = 997


@dataclass(frozen=True)
class DataFiles:
    contacts: Path
    roles: Path
    import_csv: Path
    rows: int


def _salesforce_18(id15: str) -> str:
    bits = int(id15.translate(_UPPERCASE_BITS)[::-1], 2)  # bit i set: character i is upper case
    alphabet = SALESFORCE_CHECKSUM_ALPHABET
    return id15 + alphabet[bits & 31] + alphabet[(bits >> 5) & 31] + alphabet[bits >> 10]


def generate(rows: int, directory: Path, seed: int = SEED) -> DataFiles:
    """Writes the three files for `rows` rows into `directory` (the same seed and size give the same bytes)."""
    if rows > MAX_ROWS:
        raise ValueError(f"at most {MAX_ROWS:,} rows")
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    directory.mkdir(parents=True, exist_ok=True)
    contact_lines = ["ContactId,SalesforceId,Email,FirstName,LastName,PortalUserId"]
    import_lines = ["ContactId,Role"]
    noise = rng.randbytes(16 * rows).translate(_TO_ALPHANUMERIC).decode()
    for index in range(rows):
        # The index makes every ID unique; the random part makes IDs look (and hash) like real ones.
        serial = f"{index:06x}"
        contact_id = "003" + noise[16 * index : 16 * index + 10] + serial
        salesforce_15 = "003" + noise[16 * index + 10 : 16 * index + 16] + serial
        salesforce_18 = _salesforce_18(salesforce_15)
        if index % _CHECK_EVERY == 0 and salesforce_18 != to_salesforce_18(salesforce_15):
            raise AssertionError(f"checksum of {salesforce_15} differs from portal_import.domain.ids")
        contact_lines.append(f"{contact_id},{salesforce_18},user{index}@example.com,First{index},Last{index},")
        form = rng.random()
        if form < SALESFORCE_15_SHARE:
            named_as = salesforce_15
        elif form < SALESFORCE_15_SHARE + SALESFORCE_18_SHARE:
            named_as = salesforce_18
        else:
            named_as = contact_id
        import_lines.append(f"{named_as},{ACTIVE_ROLES[int(rng.random() * len(ACTIVE_ROLES))]}")
    files = DataFiles(
        contacts=directory / "contacts.csv",
        roles=directory / "roles.csv",
        import_csv=directory / "import.csv",
        rows=rows,
    )
    files.contacts.write_text("\n".join(contact_lines) + "\n", encoding="utf-8")
    files.roles.write_text(
        "Name,Active\n" + "".join(f"{name},{str(active).lower()}\n" for name, active in ROLES.items()),
        encoding="utf-8",
    )
    files.import_csv.write_text("\n".join(import_lines) + "\n", encoding="utf-8")
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=int)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    files = generate(args.rows, args.directory, args.seed)
    print(f"{files.rows} rows: {files.import_csv}, {files.contacts}, {files.roles}")


if __name__ == "__main__":
    main()
