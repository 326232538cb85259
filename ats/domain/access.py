"""Who may see and do what: staff roles, their service scopes, and the workflow role they act as.

Checks happen on the server, per object. A recruiter sees only candidacies of the
services they work for; anything else is "not found", so scope leaks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ats.errors import Forbidden

STAFF_ROLES = (
    "recruiter",  # moves candidacies of their services
    "selection_officer",  # Selor sessions and results
    "panel",  # interview and written-case panels
    "hiring_manager",  # makes offers
    "approver",  # approves offers others asked for (four eyes)
    "medical_officer",  # medical checks
    "taskforce",  # reads everything, reports
    "auditor",  # reads the audit log, exports
    "admin",  # users, tokens, everything
)
# The role a staff role fires workflow triggers as.
WORKFLOW_ROLE = {
    "recruiter": "recruiter",
    "selection_officer": "selor",
    "panel": "panel",
    "hiring_manager": "hiring_manager",
    "approver": "approver",
    "medical_officer": "medical_officer",
}
SEE_EVERYTHING = frozenset({"taskforce", "auditor", "admin"})
# Staff who serve every service unless their account names some.
UNSCOPED_ACTORS = frozenset(
    {"selection_officer", "panel", "hiring_manager", "approver", "medical_officer"}
)


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    roles: frozenset[str]
    services: frozenset[str]
    via: str = "token"  # token | session

    @property
    def actor(self) -> str:
        return f"user:{self.username}"

    def can_see(self, service: str) -> bool:
        """Reading: the all-seeing roles, or a service the user works for, or unscoped staff."""
        return (
            bool(self.roles & SEE_EVERYTHING)
            or service in self.services
            or (not self.services and bool(self.roles & UNSCOPED_ACTORS))
        )

    def can_act_on(self, service: str, workflow_role: str) -> bool:
        """Moving candidacies: recruiters only within their services; others within theirs,
        or everywhere when they were given none (Selor, panels and doctors serve every service).
        Seeing everything never grants acting."""
        if workflow_role == "recruiter":
            return service in self.services
        return not self.services or service in self.services

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    def acting_as(self, requested: str | None) -> str:
        """The workflow role for a transition: the one asked for, if the user holds it."""
        held = {WORKFLOW_ROLE[r] for r in self.roles if r in WORKFLOW_ROLE}
        if requested is None:
            if len(held) == 1:
                return next(iter(held))
            raise Forbidden(
                "say which role you act as (role): you hold "
                + (", ".join(sorted(held)) or "no role that moves candidacies")
            )
        if requested not in held:
            raise Forbidden(
                f"you do not hold role {requested!r}; you act as: {', '.join(sorted(held)) or 'nothing'}"
            )
        return requested
