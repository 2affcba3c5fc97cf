"""The local runtime's patches of moto (and botocore) fit the installed moto, refuse to install on a target of
another shape, naming the patch and the moto it was written for, and pyproject.toml pins moto to what they were
checked on."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from moto.core.responses import ActionResult
from packaging.requirements import Requirement

from portal_import_local import host, invocations, moto_patches, ses_events
from portal_import_local.moto_patches import Patch, PatchNoLongerFits

ROOT = Path(__file__).resolve().parents[2]

# Each patch, with the install that applies it.
INSTALLS: list[tuple[Patch, Callable[[], None]]] = [
    *((patch, moto_patches.install) for patch in moto_patches.PATCHES),
    (invocations.PATCH, invocations.install),
    (ses_events.PATCH, ses_events.install),
    (host.CALL_COUNTING, host.install_call_counting),
]
IDS = [patch.name for patch, _ in INSTALLS]


def test_every_patch_fits_the_installed_moto_and_installing_twice_changes_nothing() -> None:
    # Given a process where nothing is patched yet (this one's moto is patched by earlier tests)
    script = (
        "from portal_import_local import host, invocations, ses_events, moto_patches as m\n"
        "installs = (m.install, invocations.install, ses_events.install, host.install_call_counting)\n"
        "patches = (*m.PATCHES, invocations.PATCH, ses_events.PATCH, host.CALL_COUNTING)\n"
        "for install in installs + installs: install()\n"
        "assert all(patch.applied() for patch in patches)\n"
    )
    # When every patch is installed, twice / Then every check passes and every replacement is in place
    code = os.pathsep.join(str(ROOT / folder) for folder in ("shared", "cli", "local"))  # as pytest's pythonpath
    subprocess.run([sys.executable, "-c", script], check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": code})


def _of_another_shape(self: Any, something_else: Any) -> None:
    """A target whose parameters are not those any patch expects."""


@pytest.mark.parametrize(("patch", "install"), INSTALLS, ids=IDS)
def test_a_target_of_another_shape_stops_the_install_naming_the_patch(
    patch: Patch, install: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a moto (or botocore) whose target takes other parameters
    monkeypatch.setattr(patch.owner, patch.attribute, _of_another_shape)

    # When the patch is installed / Then it refuses, saying which patch, which target, and what to do
    with pytest.raises(PatchNoLongerFits) as refused:
        install()
    message = str(refused.value)
    assert patch.name in message
    assert patch.target in message
    assert f"written for {patch.package} {patch.written_for}" in message
    assert f"It can go {patch.can_go_when}" in message
    assert "_of_another_shape" in message  # what it found
    # And the target is left as it was found
    assert getattr(patch.owner, patch.attribute) is _of_another_shape


def _own(patch: Patch) -> bool:
    """Whether the target is the owner's own (deleting one a class inherits would uncover moto's original)."""
    return inspect.ismodule(patch.owner) or not any(patch.attribute in vars(base) for base in patch.owner.__mro__[1:])


OWN = [(patch, install) for patch, install in INSTALLS if _own(patch)]


@pytest.mark.parametrize(("patch", "install"), OWN, ids=[patch.name for patch, _ in OWN])
def test_a_missing_target_stops_the_install(
    patch: Patch, install: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a moto (or botocore) without the target
    install()
    monkeypatch.delattr(patch.owner, patch.attribute)

    # When the patch is installed / Then it refuses, saying so
    with pytest.raises(PatchNoLongerFits, match="found no such attribute") as refused:
        install()
    assert patch.name in str(refused.value)
    assert f"written for {patch.package} {patch.written_for}" in str(refused.value)


def _patch_of(attribute: str) -> Patch:
    (patch,) = (patch for patch in moto_patches.PATCHES if patch.attribute == attribute)
    return patch


def transact_write_items(self: Any, transact_items: Any) -> None:
    """A TransactWriteItems that makes no backup of its tables: the patch's reason to be is gone."""


def list_object_versions(self: Any) -> Any:
    """A ListObjectVersions that honours encoding-type itself: the patch would encode the keys twice."""
    return self.serialized(ActionResult({"EncodingType": self.querystring.get("encoding-type", [None])[0]}))


@pytest.mark.parametrize(
    ("patch", "target", "found"),
    [
        (_patch_of("transact_write_items"), transact_write_items, "code without it"),
        (_patch_of("list_object_versions"), list_object_versions, "code that reads it"),
    ],
    ids=["TransactWriteItems without a backup", "ListObjectVersions that encodes"],
)
def test_a_target_whose_code_changed_under_the_same_signature_stops_the_install(
    patch: Patch, target: Any, found: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a target with the parameters the patch expects, but without what else it relies on
    monkeypatch.setattr(patch.owner, patch.attribute, target)

    # When the patches are installed / Then that one refuses, saying what changed
    with pytest.raises(PatchNoLongerFits) as refused:
        moto_patches.install()
    assert patch.name in str(refused.value)
    assert found in str(refused.value)


def send_bulk_templated_email(self: Any) -> Any:
    """A SendBulkTemplatedEmail that reads the configuration set itself: moto would publish events of its own."""
    return self._get_param("ConfigurationSetName")


def send_bulk_templated_email_answering_one_id(self: Any) -> Any:
    """One that no longer answers a MessageId per destination: the patch could not pair ids with destinations."""
    return ActionResult({"MessageId": "one"})


@pytest.mark.parametrize(
    ("target", "found"),
    [(send_bulk_templated_email, "code that reads it"), (send_bulk_templated_email_answering_one_id, "code without")],
    ids=["reads ConfigurationSetName", "one MessageId"],
)
def test_a_bulk_send_of_another_shape_stops_the_ses_events_patch(
    target: Any, found: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a moto whose bulk send takes the same parameters but does what the patch does not expect
    patch = ses_events.PATCH
    monkeypatch.setattr(patch.owner, patch.attribute, target)

    # When the patch is installed / Then it refuses, saying what changed, and leaves moto's handler as found
    with pytest.raises(PatchNoLongerFits) as refused:
        ses_events.install()
    assert patch.name in str(refused.value)
    assert found in str(refused.value)
    assert getattr(patch.owner, patch.attribute) is target


def _get_account(self: Any) -> str:
    """moto's own GetAccount, once it has one: the patch that answers it would hide it."""
    return "{}"


def _to_dict_v2(self: Any) -> dict[str, Any]:
    """A GetConfigurationSet answer that no longer holds the field the patch replaces."""
    return {"SendingOptions": self.sending_options}


@pytest.mark.parametrize(
    ("patch", "change", "found"),
    [
        (_patch_of("call_action"), ("get_account", _get_account), "SESV2Response.get_account"),
        (_patch_of("to_dict_v2"), ("to_dict_v2", _to_dict_v2), "code without it"),
    ],
    ids=["SESv2 with its own GetAccount", "GetConfigurationSet answered otherwise"],
)
def test_a_moto_whose_sesv2_changed_stops_the_install(
    patch: Patch, change: tuple[str, Any], found: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a moto whose SESv2 implements what a patch answers, or answers otherwise what a patch amends
    attribute, replacement = change
    if attribute != patch.attribute:  # what the patch relies on changed: its target is moto's own again
        monkeypatch.setattr(moto_patches.SESV2Response, attribute, replacement, raising=False)
        monkeypatch.setattr(patch.owner, patch.attribute, moto_patches._original_sesv2_call_action)
    else:
        monkeypatch.setattr(patch.owner, attribute, replacement)

    # When the patches are installed / Then that one refuses, saying what it found and when it can go
    with pytest.raises(PatchNoLongerFits) as refused:
        moto_patches.install()
    assert patch.name in str(refused.value)
    assert found in str(refused.value)
    assert f"It can go {patch.can_go_when}" in str(refused.value)


def _pinned_moto() -> Requirement:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (moto,) = (Requirement(r) for r in pyproject["project"]["optional-dependencies"]["local"] if r.startswith("moto"))
    return moto


def test_moto_is_pinned_to_a_range_holding_the_installed_moto_and_the_one_the_patches_were_written_for() -> None:
    # A moto bumped past the range without re-checking the patches fails here, before any patch runs on it.
    pinned = _pinned_moto().specifier
    assert any(spec.operator in ("<", "<=", "==", "~=") for spec in pinned), f"moto{pinned} has no upper bound"
    assert pinned.contains(version("moto")), f"the installed moto {version('moto')} is outside moto{pinned}"
    assert pinned.contains(moto_patches.MOTO_WRITTEN_FOR)
