"""The candidate's own status page: their state in their language, the next deadline, withdrawal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ats.adapters.status_links import LinkInvalid, open_link, secret_key, sign
from ats.domain.candidacy import decide
from ats.errors import NotFound
from ats.service.app import App
from ats.service.commands import FireTrigger

LINK_LIFETIME = timedelta(days=180)
WORDS = {
    "nl": {
        "title": "Stand van uw sollicitatie",
        "deadline": "Volgende termijn",
        "confirm": "Ik trek mijn sollicitatie in",
        "withdraw": "Sollicitatie intrekken",
        "withdrawn": "Uw sollicitatie is ingetrokken.",
    },
    "fr": {
        "title": "État de votre candidature",
        "deadline": "Prochaine échéance",
        "confirm": "Je retire ma candidature",
        "withdraw": "Retirer ma candidature",
        "withdrawn": "Votre candidature a été retirée.",
    },
    "de": {
        "title": "Stand Ihrer Bewerbung",
        "deadline": "Nächste Frist",
        "confirm": "Ich ziehe meine Bewerbung zurück",
        "withdraw": "Bewerbung zurückziehen",
        "withdrawn": "Ihre Bewerbung wurde zurückgezogen.",
    },
    "en": {
        "title": "Status of your application",
        "deadline": "Next deadline",
        "confirm": "I withdraw my application",
        "withdraw": "Withdraw my application",
        "withdrawn": "Your application has been withdrawn.",
    },
}


def _key(app: App) -> bytes:
    return secret_key(app.settings.home / "var")


def status_url(app: App, candidacy_id: int) -> str:
    """The link a mail carries: signed, expiring, for this candidacy only."""
    token = sign(_key(app), candidacy_id, app.clock.now() + LINK_LIFETIME)
    return f"{app.settings.public_url.rstrip('/')}/status/{token}"


def candidacy_for(app: App, token: str) -> int:
    try:
        return open_link(_key(app), token, now=app.clock.now())
    except LinkInvalid:
        raise NotFound(
            "this link is not valid (any more); the latest email has a fresh one"
        ) from None


def page(app: App, candidacy_id: int) -> dict[str, Any]:
    """What the status page shows: nothing but this candidacy, in the candidate's language."""
    from ats.service import queries

    detail = queries.candidacy(app, candidacy_id)
    language = detail["candidate"]["language"]
    vacancy = queries.vacancy(app, detail["vacancy"])
    with app.unit_of_work() as uow:
        found = uow.candidacies.get(candidacy_id)
        if found is None:
            raise NotFound(f"no candidacy {candidacy_id}")
        definition = app.registry.definition(uow, found[0].workflow_version_id)
        due = uow.timers.next_deadline(candidacy_id)
    can_withdraw = decide(
        definition, detail["state"], detail["facts"], "withdraw", "candidate", check_reason=False
    ).allowed
    return {
        "language": language,
        "t": WORDS[language],
        "name": detail["candidate"]["name"],
        "vacancy": vacancy["title"].get(language, vacancy["title"]["en"]),
        "status": detail["public"].get(language, ""),
        "deadline": app.renderer.format_day(due, language) if due else None,
        "can_withdraw": can_withdraw,
    }


def withdraw(app: App, candidacy_id: int) -> None:
    from ats.service import queries

    key = queries.candidacy(app, candidacy_id)["candidate"]["key"]
    app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger="withdraw",
            actor=f"candidate:{key}",
            role="candidate",
            reason="withdrawn by the candidate on the status page",
        )
    )
