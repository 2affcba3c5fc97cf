"""`portal-import`'s command line: every command with its options, and which function runs it.

`local` is filled in by the local runtime when it is installed (portal-user-import[local]): the package that
provides it names a function `register(local)` in the entry point group LOCAL_COMMANDS, which adds `local run` and
`local serve` to the `local` parser. Without it, `portal-import local ...` says how to install it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from portal_import.domain.reader import (
    CONTACT_ID,
    FIELD_CONTENTS,
    MAPPING_METADATA,
    MAPPING_OPTIONS,
    ROLE,
    normalize_name,
)
from portal_import_cli import commands
from portal_import_cli.deployment import NAMES, STACK_ENV
from portal_import_cli.errors import reported
from portal_import_cli.rendering import say

Command = Callable[[argparse.Namespace], int]
LOCAL_COMMANDS = "portal_import_cli.local"
_LOCAL_EXTRA = "portal-user-import[local]"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portal-import", description="Bulk-create portal users from a CSV file.")
    subcommands = parser.add_subparsers(dest="command", required=True)
    local = subcommands.add_parser("local", help="run the stack locally on an embedded AWS (no account, no Docker)")
    if not _register_local(local):
        local.description = f"Not in this installation: pip install '{_LOCAL_EXTRA}' adds it."
        local.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        local.set_defaults(run=_local_missing)
    add_commands(subcommands)
    return parser


def _register_local(local: argparse.ArgumentParser) -> bool:
    """Whether an installed package added its commands to `local`; one whose own dependencies are missing (it
    raises ModuleNotFoundError) does not count."""
    for entry in entry_points(group=LOCAL_COMMANDS):
        try:
            register: Callable[[argparse.ArgumentParser], None] = entry.load()
            register(local)
        except ModuleNotFoundError:
            continue
        return True
    return False


def _local_missing(args: argparse.Namespace) -> int:
    say(
        "`local` runs the stack on an embedded AWS, which this installation does not include: "
        f"pip install '{_LOCAL_EXTRA}' adds it."
    )
    return 2


def add_commands(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds submit, status, watch, results, jobs, resend, users, doctor, template and `directory load` to
    `portal-import`."""
    connection = _connection_options()

    submit = subcommands.add_parser(
        "submit",
        parents=[connection],
        help="drop a CSV file into the stack's imports/ and print its job id",
        description="Uploads FILE to imports/ with the options as object metadata, waits for the job to start and "
        "prints its id (progress and notes go to stderr).",
    )
    submit.add_argument(
        "file", metavar="FILE", type=Path, help="the CSV file (ContactId,Role); its name must end in .csv"
    )
    submit.add_argument(
        "--send-activation-email",
        action=argparse.BooleanOptionalAction,
        help="email each new user a set-password link (default: the stack's SendActivationEmailDefault)",
    )
    submit.add_argument(
        "--validate", action="store_true", help="check every row and write the result files, but create no user"
    )
    column_arguments(submit)
    submit.add_argument("--wait", action="store_true", help="follow the job as `watch` does, then print its summary")
    _watch_options(submit)
    _json_option(submit)
    _runs(submit, commands.submit)

    status = _job_command(
        subcommands,
        connection,
        "status",
        help="a job's state and counts",
        job="the job id (as submit and jobs print it)",
    )
    _json_option(status)
    _runs(status, commands.status)

    watch = _job_command(
        subcommands,
        connection,
        "watch",
        help="a live progress line until the job and its emails are done, then its summary",
        description="Redraws one line on a terminal (plain lines otherwise), on stderr: rows processed of total, "
        "created, failed, emails sent, ETA. Ends when the job is COMPLETED or FAILED and every email it queued "
        "is sent; exit status 1 when the file was rejected.",
    )
    _watch_options(watch)
    _json_option(watch)
    _runs(watch, commands.watch)

    results = _job_command(
        subcommands, connection, "results", help="download a job's success.csv, failure.csv and summary.json"
    )
    results.add_argument("--out", type=Path, help="where to put them (default ./import-results/<jobId>/)")
    _json_option(results)
    _runs(results, commands.results)

    jobs = subcommands.add_parser("jobs", parents=[connection], help="recent jobs, newest first, with state and counts")
    jobs.add_argument("--limit", type=_positive, default=20, metavar="N", help="how many (default 20)")
    _json_option(jobs)
    _runs(jobs, commands.jobs)

    again = _job_command(
        subcommands,
        connection,
        "resend",
        help="send new activation links to users a job created (by default those never reached)",
        description="Queues a new activation email, with a new link (older ones stop working), through the "
        "stack's email rate: by default to each user JOB created whose activation email was not delivered (its "
        "batch dead-lettered, or SES refused it); with --pending, to each user JOB created who has not activated "
        "yet; with --contact, to those Contacts' users of JOB whatever happened before. A user who has already "
        "activated is never sent a link. Prints how many were queued and why any user was left out.",
    )
    again.add_argument(
        "--contact",
        action="append",
        default=[],
        metavar="ID",
        help="a Contact (19-character or Salesforce ID) whose user JOB created; repeat for more",
    )
    again.add_argument(
        "--pending",
        action="store_true",
        help="every user JOB created who has not activated yet: links expired or never used, emails not "
        "delivered or never asked for (not with --contact)",
    )
    _json_option(again)
    _runs(again, commands.resend)

    resume = _job_command(
        subcommands,
        connection,
        "resume-emails",
        help="send the activation emails the reputation guard held for a job",
        description="The reputation guard holds a job's remaining activation emails when too many of its emails "
        "bounced or were complained about (the emails-held notification says why). Once the file's addresses are "
        "checked, this ends the hold and queues the held emails at the stack's email rate; the guard keeps "
        "watching, judging only the outcomes after it.",
    )
    _json_option(resume)
    _runs(resume, commands.resume_emails)

    users = _job_command(
        subcommands,
        connection,
        "users",
        help="the users a job created: their activation email and whether they activated",
        description="Lists each user JOB created (row, ContactId, UserId, Role) with where its activation email "
        "stands (sent, not delivered, queued, no valid email, not requested) and its activation (pending, "
        "activated, or expired: its latest link ran out; `resend --pending` sends a new one).",
    )
    _json_option(users)
    _runs(users, commands.users)

    checkup = subcommands.add_parser(
        "doctor",
        parents=[connection],
        help="check that the account and the stack can send activation emails, one line each with what to do",
        description="Checks, one line each, with what to do when one fails: the sender identity is verified for "
        "sending (and DKIM, for a domain); the account has SES production access (not the sandbox); sending is "
        "enabled and the account's enforcement status (with its bounce and complaint rates); the 24-hour quota "
        "left; EmailRatePerSecond within SES's maximum send rate; the configuration set (TLS required, sending "
        "on) and its event destination; a confirmed subscription to the alarm topic; the user pool, and a group "
        "for every active Role. Needs --stack. Exit status 0 when every check holds, 1 otherwise.",
    )
    _json_option(checkup)
    _runs(checkup, commands.doctor)

    template = subcommands.add_parser(
        "template",
        help="write the sample CSV file (ContactId,Role and two example rows)",
        description="The wizard's Download Sample CSV Template: writes it to PATH, or to stdout without one. A file "
        "of your own whose columns have other names (a report export, say) needs no editing: submit it with "
        "--contact-id-column and --role-column naming them.",
    )
    template.add_argument("path", metavar="PATH", nargs="?", type=Path, help="where to write it (default: stdout)")
    template.add_argument("--force", action="store_true", help="replace PATH if it exists")
    _runs(template, commands.template)

    admins = subcommands.add_parser("admins", help="the import console's administrators")
    admins_commands = admins.add_subparsers(dest="admins_command", required=True)
    add = admins_commands.add_parser(
        "add",
        parents=[connection],
        help="invite an administrator to the import console",
        description="Creates EMAIL's account in the stack's administrators' pool (apart from portal users): Cognito "
        "emails a temporary password from the stack's sender, which their first sign-in to the console replaces.",
    )
    add.add_argument("email", metavar="EMAIL", help="their email address, which they sign in with")
    _json_option(add)
    _runs(add, commands.admins_add)
    listed = admins_commands.add_parser("list", parents=[connection], help="the console's administrators")
    _json_option(listed)
    _runs(listed, commands.admins_list)
    remove = admins_commands.add_parser(
        "remove",
        parents=[connection],
        help="take an administrator's console account away",
        description="Signs EMAIL out everywhere and deletes their account in the administrators' pool.",
    )
    remove.add_argument("email", metavar="EMAIL")
    _json_option(remove)
    _runs(remove, commands.admins_remove)

    directory = subcommands.add_parser("directory", help="the stack's directory of Contacts and Roles")
    directory_commands = directory.add_subparsers(dest="directory_command", required=True)
    load = directory_commands.add_parser(
        "load",
        parents=[connection],
        help="seed a new stack's directory from CSV files",
        description="Writes Contacts (with their Salesforce IDs and any existing portal users) and Roles into the "
        "stack's directory table, each Role a group of the user pool and each existing portal user a pool user. "
        "Meant for a new stack: a Contact's existing item is replaced.",
    )
    load.add_argument(
        "--contacts",
        type=Path,
        required=True,
        metavar="F",
        help="ContactId,SalesforceId,Email,FirstName,LastName,PortalUserId",
    )
    load.add_argument("--roles", type=Path, required=True, metavar="F", help="Name,Active")
    load.add_argument(
        "--users-from-pool",
        action="store_true",
        help="an adopted user pool: record the users it has (by custom:contact_id) as the Contacts' portal users, "
        "instead of putting the PortalUserId users of --contacts in the pool",
    )
    _json_option(load)
    _runs(load, commands.directory_load)


def _job_command(
    subcommands: argparse._SubParsersAction[argparse.ArgumentParser],
    connection: argparse.ArgumentParser,
    name: str,
    *,
    help: str,
    description: str | None = None,
    job: str = "the job id",
) -> argparse.ArgumentParser:
    """A command about one job of a stack: the connection options, and JOB."""
    command = subcommands.add_parser(name, parents=[connection], help=help, description=description)
    command.add_argument("job", metavar="JOB", help=job)
    return command


def _runs(command: argparse.ArgumentParser, function: Command) -> None:
    """What runs the command: `function`, its failures reported as sentences and exit statuses."""
    command.set_defaults(run=reported(function))


def column_arguments(command: argparse.ArgumentParser) -> None:
    """Map Fields: --contact-id-column and --role-column name the file's columns whose headers do not auto-map."""
    for field in (CONTACT_ID, ROLE):
        command.add_argument(
            MAPPING_OPTIONS[field],
            type=_column_name,
            metavar="NAME",
            help=f"the header of the file's column that holds {FIELD_CONTENTS[field]}, when it is not named {field} "
            f"(sets the {MAPPING_METADATA[field]} metadata; case, spaces, '_' and '-' are ignored)",
        )


def _column_name(text: str) -> str:
    if not normalize_name(text):
        raise argparse.ArgumentTypeError(f"'{text}' names no column: give the column's header as the file has it")
    return text


def _connection_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    where = options.add_argument_group(
        "where the stack is",
        "Names come from the stack's CloudFormation outputs with --stack, or are given one by one. "
        "Credentials, profiles and regions are found as the AWS CLI finds them.",
    )
    where.add_argument("--stack", metavar="NAME", help=f"the stack's name (or set {STACK_ENV})")
    for which, (output, option, env) in NAMES.items():
        where.add_argument(option, dest=which, metavar="NAME", help=f"instead of the stack's {output} (or set {env})")
    where.add_argument("--profile", help="a named profile of your AWS configuration")
    where.add_argument("--region", help="the stack's region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)")
    where.add_argument(
        "--endpoint-url", metavar="URL", help="another endpoint, e.g. `local serve`'s http://127.0.0.1:4566"
    )
    return options


def _watch_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--interval", type=_positive_seconds, default=1.0, metavar="S", help="seconds between reads (default 1)"
    )
    command.add_argument(
        "--timeout", type=_positive_seconds, metavar="S", help="stop following after S seconds (exit status 1)"
    )


def _json_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--json", action="store_true", help="print one JSON document and nothing else on stdout")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive whole number")
    return int(text)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive number of seconds")
    return value
