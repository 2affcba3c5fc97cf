"""The group pass (docs/contracts.md §6): the users an import created with an email address join their Roles'
groups here, behind the import, at UserUpdate's pace (25 calls a second, fixed, shared with the activations), so
that the import itself goes at UserCreation's. A person who activates first joins at activation; adding a member
again changes nothing, so a request delivered twice, or after the person activated, does no harm."""

from __future__ import annotations

from dataclasses import dataclass

from portal_import.domain.messages import GroupRequest
from portal_import.observability import logger, metrics
from portal_import.ports import UserPool


@dataclass(frozen=True)
class GroupDeps:
    user_pool: UserPool


def place_in_groups(request: GroupRequest, deps: GroupDeps, *, deadline: float | None = None) -> int:
    """Puts each member of the request in its Role's group; how many are (a user deleted from the pool since is
    passed over). Raises OutOfPace when UserUpdate's limiter has no slot before `deadline`: the request is delivered
    again, and the members already placed cost one call more each."""
    placed = deps.user_pool.add_to_groups(
        [(member.user_id, member.role) for member in request.members], deadline=deadline
    )
    if placed < len(request.members):
        logger.warning("Users no longer in the pool were not placed", extra={"users": len(request.members) - placed})
    logger.info("Users placed in their groups", extra={"job_id": request.job_id, "users": placed})
    metrics.add_metric(name="UsersGrouped", unit="Count", value=placed)
    return placed
