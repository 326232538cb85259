"""The roles the product knows; workflows name who may fire each trigger from these."""

from __future__ import annotations

FIRING_ROLES = frozenset(
    {
        "recruiter",  # moves candidacies of their service through the stages
        "selor",  # Selor staff recording selection-test results
        "medical_officer",  # records medical fitness where a function needs it
        "panel",  # interview and written-case panel members
        "hiring_manager",  # makes offers
        "approver",  # approves or refuses an offer someone else asked for (four eyes)
        "candidate",  # the person themself, e.g. withdrawing or accepting
        "system",  # timers fired by the worker
    }
)
READING_ROLES = frozenset({"taskforce", "auditor"})
ROLES = FIRING_ROLES | READING_ROLES
