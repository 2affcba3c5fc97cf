"""Compares what two checkouts' CLIs say, for a change that must keep every output (a house change).

Each checkout's own .venv runs the same commands: every --help; `local run` on the bundled sample plain, in
validate mode, with seeded faults and with a poison Contact; on a binary, an empty and a Map Fields file; and the
admin commands' error sentences without a stack. The outputs and result files are then compared with what varies
from run to run (job ids, times, user ids, tokens, URL signatures) masked.

    python tests/compare_cli.py BEFORE_CHECKOUT AFTER_CHECKOUT

e.g. `git worktree add --detach ../before main~5 && make -C ../before install`, then `python tests/compare_cli.py
../before .` from this checkout. Prints each difference; exits 1 if there is any.
"""

from __future__ import annotations

import difflib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

COMMANDS = [[], ["local"], ["local", "run"], ["local", "serve"], ["submit"], ["status"], ["watch"], ["results"]]
COMMANDS += [["jobs"], ["resend"], ["users"], ["template"], ["directory"], ["directory", "load"]]
RESULT_FILES = ["success.csv", "failure.csv", "summary.json", "notification.json", "notices.json", "pool-users.json"]
# No profile, no credentials, no region: the admin commands' own sentences for it.
ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "AWS_CONFIG_FILE": "/dev/null"}
ENV["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
MASKS = [
    (r"\d{8}T\d{6}Z-[0-9a-f]{12}", "JOB"),
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)?", "TIME"),
    (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID"),
    (r"\b005[A-Za-z0-9]{12}0001\b", "USER"),
    (r"token=[A-Za-z0-9_.\-]+", "token=TOKEN"),
    (r"\?[^\s\"']*X-Amz-[^\s\"']*", "?SIGNED"),
    (r"\d+(\.\d+)? ?(s|seconds|ms)\b", "N s"),
    (r"\d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d UTC", "DATE"),
    (r"127\.0\.0\.1:\d+", "HOST"),
]


class Outputs:
    """What one checkout's CLI says, by name, masked."""

    def __init__(self, checkout: Path, work: Path) -> None:
        self.cli = str(checkout.resolve() / ".venv/bin/portal-import")
        self.sample = str(checkout.resolve() / "local/portal_import_local/sample/import.csv")
        self.checkout, self.work = checkout.resolve(), work
        self.said: dict[str, list[str]] = {}

    def mask(self, text: str) -> str:
        for pattern, replacement in [*MASKS, (str(self.work), "WORK"), (str(self.checkout), "CHECKOUT")]:
            text = re.sub(pattern, replacement, text)
        return text

    def run(self, name: str, *args: str) -> None:
        done = subprocess.run([self.cli, *args], capture_output=True, text=True, env=ENV, cwd=self.work, timeout=900)
        said = f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        self.said[name] = self.mask(said).splitlines()

    def local_run(self, name: str, *args: str) -> None:
        results = self.work / name
        self.run(name, "local", "run", *args, "--out", str(results))
        for file in RESULT_FILES:
            if (results / file).exists():
                self.said[f"{name}/{file}"] = _in_order(file, self.mask((results / file).read_text(errors="replace")))
        if (results / "outbox").exists():
            self.said[f"{name}/outbox"] = [f"{len(list((results / 'outbox').iterdir()))} emails"]

    def collect(self) -> dict[str, list[str]]:
        for command in COMMANDS:
            self.run("help " + " ".join(command), *command, "--help")
        self.local_run("plain", self.sample, "--send-activation-email")
        self.local_run("validate", self.sample, "--mode", "validate")
        faults = ["--seed", "11", "--fault-api-error", "0.1", "--fault-redeliver", "0.3", "--fault-ses-throttle", "0.3"]
        self.local_run("faults", self.sample, "--send-activation-email", *faults)
        self.local_run("poison", self.sample, "--seed", "3", "--fault-poison-contact", "0030000000000000001")
        for name, content in [("binary", b"\x00\x01binary\xff"), ("empty", b""), ("mapped", _MAPPED)]:
            (self.work / f"{name}.csv").write_bytes(content)
        self.local_run("binary", str(self.work / "binary.csv"))
        self.local_run("empty", str(self.work / "empty.csv"))
        columns = ["--contact-id-column", "Contact", "--role-column", "Job"]
        self.local_run("mapped", str(self.work / "mapped.csv"), *columns)
        self.run("results without a region", "results", "20261207T000000Z-000000000000")
        self.run("status without credentials", "status", "20261207T000000Z-000000000000", "--region", "eu-west-1")
        return self.said


_MAPPED = b"Contact,Job\n0030000000000000001,Customer\n"


def _in_order(file: str, text: str) -> list[str]:
    """A result file's lines in an order that does not depend on the run: rows sorted, pool users sorted."""
    if file == "pool-users.json":
        users = sorted(json.loads(text), key=lambda user: json.dumps(user, sort_keys=True))
        return json.dumps(users, indent=1, sort_keys=True).splitlines()
    lines = text.splitlines()
    return lines[:1] + sorted(lines[1:]) if file.endswith(".csv") else lines


def main(before: Path, after: Path) -> int:
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        old = Outputs(before, Path(first)).collect()
        new = Outputs(after, Path(second)).collect()
    differing = 0
    for name in sorted(old.keys() | new.keys()):
        if old.get(name) != new.get(name):
            differing += 1
            print(f"=== {name}")
            print("\n".join(difflib.unified_diff(old.get(name, []), new.get(name, []), lineterm="", n=1)))
    print(f"{len(old.keys() | new.keys()) - differing} of {len(old.keys() | new.keys())} outputs the same")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
