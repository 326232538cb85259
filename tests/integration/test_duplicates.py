"""Duplicate candidate records over real databases: linked on apply, merged or told apart.

Every test applies through the application's own command and checks what the
database holds afterwards; refusals must leave every row as it was.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update

from ats.adapters.db.store import AUDIT_TEXT, CANDIDACY, CANDIDATE, EVENT
from ats.api.app import create_api
from ats.cli import candidates as candidate_cli
from ats.clock import ManualClock
from ats.domain.audit import (
    AUTHORISATION_FAILED,
    CANDIDATES_DISTINCT,
    CANDIDATES_MERGED,
    SEALED,
    SealedTexts,
    open_texts,
)
from ats.errors import ConflictError, DuplicateApplication, Forbidden, InvalidInput, NotFound
from ats.service import duplicates as dup
from ats.service.app import App
from ats.service.audit import verify
from ats.service.commands import Apply, FireTrigger
from ats.service.duplicates import (
    LINK,
    SEAT,
    duplicates,
    link_duplicates,
    mark_distinct,
    merge,
    normalised_email,
    normalised_name,
)
from ats.service.queries import history
from ats.service.selection import SessionPlan, assign, create_session
from ats.service.users import create_token, create_user
from tests.integration.test_web import make_user, signed_in

BRUSSELS = ZoneInfo("Europe/Brussels")
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=BRUSSELS)  # "now": sessions can be planned ahead
SATURDAY = date(2026, 3, 7)
NEXT_MONDAY = date(2026, 3, 9)
SECURITY = "DVZ-SEC-W1"  # DVZ; security-escort
PROTECTION = "CGVS-PROT-W1"  # CGVS
DUBLIN = "DVZ-MIG-DUB-W1"  # DVZ; Selor module selor_b
RETURN = "DVZ-RET-W1"  # DVZ; Selor module selor_b
SCREENING_FACTS = {
    SECURITY: {"diploma_level": "secondary"},
    PROTECTION: {"diploma_level": "master"},
    DUBLIN: {"diploma_level": "bachelor", "track": "dublin"},
    RETURN: {"diploma_level": "bachelor", "driving_licence": True},
}
ADMIN = {"actor": "admin:root", "role": "admin"}

_numbers = itertools.count()


@pytest.fixture
def clock() -> ManualClock:
    """Overrides the suite's clock: Selor sessions are planned in the spring of 2026."""
    return ManualClock(MONDAY)


# -- arranging -------------------------------------------------------------------------------


def apply(
    app: App,
    email: str | None = None,
    vacancy: str = SECURITY,
    *,
    name: str = "An Peeters",
    birth_date: date | None = None,
    phone: str | None = None,
) -> int:
    """A candidacy; a new candidate record unless ``email`` is one ATS knows already."""
    return int(
        app.handle(
            Apply(
                vacancy=vacancy,
                name=name,
                email=email or f"person{next(_numbers)}@example.org",
                language="nl",
                birth_date=birth_date,
                phone=phone,
            )
        )
    )


def key_of(app: App, candidacy_id: int) -> str:
    with app.engine.connect() as connection:
        return str(
            connection.execute(
                select(CANDIDATE.c.key)
                .join(CANDIDACY, CANDIDACY.c.candidate_id == CANDIDATE.c.id)
                .where(CANDIDACY.c.id == candidacy_id)
            ).scalar_one()
        )


def record(app: App, key: str) -> dict[str, Any]:
    with app.engine.connect() as connection:
        return dict(
            connection.execute(select(CANDIDATE).where(CANDIDATE.c.key == key)).mappings().one()
        )


def links(app: App) -> list[tuple[str, str, str, str]]:
    """Every link as (candidate key, other key, rule, status)."""
    one, other = CANDIDATE.alias("one"), CANDIDATE.alias("other")
    with app.engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                select(one.c.key, other.c.key, LINK.c.rule, LINK.c.status)
                .join(one, one.c.id == LINK.c.candidate_id)
                .join(other, other.c.id == LINK.c.other_id)
                .order_by(LINK.c.id)
            )
        ]


def events(app: App, kind: str) -> list[dict[str, Any]]:
    with app.engine.connect() as connection:
        return [
            dict(row)
            for row in connection.execute(
                select(EVENT).where(EVENT.c.kind == kind).order_by(EVENT.c.seq)
            ).mappings()
        ]


def snapshot(app: App) -> dict[str, Any]:
    """Every row a merge could touch, to compare before and after a refusal."""

    def rows(table: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in connection.execute(select(table).order_by(table.c.id))]

    with app.engine.connect() as connection:
        return {
            "candidates": rows(CANDIDATE),
            "candidacies": rows(CANDIDACY),
            "links": rows(LINK),
            "seats": rows(SEAT),
            "audit texts": rows(AUDIT_TEXT),
            "merge events": connection.execute(
                select(func.count()).select_from(EVENT).where(EVENT.c.kind == CANDIDATES_MERGED)
            ).scalar_one(),
        }


def erase_by_hand(app: App, key: str) -> None:
    """What an erasure leaves of a record (the privacy module does it for real)."""
    with app.engine.begin() as connection:
        connection.execute(
            update(CANDIDATE)
            .where(CANDIDATE.c.key == key)
            .values(
                name="",
                email=f"erased-{key}@erased.invalid",
                birth_date=None,
                erased_at=MONDAY.astimezone(UTC),
            )
        )


def screen(app: App, candidacy_id: int, vacancy: str, *, reason: str | None = None) -> None:
    app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger="screen",
            actor="recruiter:els",
            role="recruiter",
            reason=reason,
            facts=SCREENING_FACTS[vacancy],
        )
    )


def seated(app: App, candidacy_id: int, vacancy: str, day: date, hour: int = 9) -> None:
    """Screen the candidacy and book it a seat in a session of its own on ``day``."""
    screen(app, candidacy_id, vacancy)
    code = create_session(
        app,
        SessionPlan(
            starts_at=datetime.combine(day, time(hour), tzinfo=BRUSSELS).astimezone(UTC),
            place="Selor, Brussel",
            kind="computer_test",
            seats=5,
            vacancies=(vacancy,),
        ),
        actor="selor:marie",
    )
    assign(app, code, actor="selor:marie", candidacies=[candidacy_id])


# -- normalising -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("An.Peeters@Example.org", "an.peeters@example.org"),
        ("an.peeters+jobs@example.org", "an.peeters@example.org"),
        ("  AN.PEETERS+a+b@EXAMPLE.ORG ", "an.peeters@example.org"),
        ("an.peeters@gmail.com", "anpeeters@gmail.com"),
        ("A.n.Peeters+x@googlemail.com", "anpeeters@gmail.com"),
    ],
)
def test_an_address_normalises_to_the_mailbox_it_reaches(one: str, other: str) -> None:
    """Case, a +tag, and Gmail's dots (and googlemail.com) do not tell mailboxes apart."""
    assert normalised_email(one) == normalised_email(other) == other


def test_dots_count_outside_gmail_and_a_leading_plus_is_kept() -> None:
    """Only Gmail ignores dots; a local part that is all tag has nothing to drop it from."""
    assert normalised_email("an.peeters@example.org") != normalised_email("anpeeters@example.org")
    assert normalised_email("+tag@example.org") == "+tag@example.org"


ASCII_LOCAL = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_"),
    min_size=1,
    max_size=30,
)
DOMAINS = st.sampled_from(["example.org", "Example.ORG", "gmail.com", "GoogleMail.com", "fgov.be"])
EMAILS = st.builds(lambda local, domain: f"{local}@{domain}", ASCII_LOCAL, DOMAINS)


@given(st.one_of(EMAILS, st.text(max_size=40)))
def test_normalising_twice_changes_nothing_more(email: str) -> None:
    """normalised_email is idempotent, on addresses and on any text at all."""
    once = normalised_email(email)
    assert normalised_email(once) == once


@given(EMAILS)
def test_normalising_ignores_case(email: str) -> None:
    """Upper, lower or mixed case: the same normalised address."""
    expected = normalised_email(email)
    assert normalised_email(email.upper()) == expected
    assert normalised_email(email.lower()) == expected
    assert normalised_email(email.swapcase()) == expected


@given(ASCII_LOCAL.filter(lambda s: not s.startswith("+")), ASCII_LOCAL, DOMAINS)
def test_a_tag_never_makes_another_mailbox(local: str, tag: str, domain: str) -> None:
    """``local+tag@domain`` reaches ``local@domain``'s mailbox."""
    assert normalised_email(f"{local}+{tag}@{domain}") == normalised_email(f"{local}@{domain}")


def test_names_compare_without_case_accents_or_extra_spaces() -> None:
    assert normalised_name("  Élodie   DUPONT ") == normalised_name("elodie dupont")
    assert normalised_name("Çelik Ayşe") == normalised_name("celik ayse")
    assert normalised_name("Elodie Dupont") != normalised_name("Elodie Dupond")


# -- linking on apply ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("an.peeters@example.org", "An.Peeters+jobs@example.org"),
        ("an.peeters@gmail.com", "anpeeters+ats@googlemail.com"),
        ("A.N.Peeters@GMail.com", "anpeeters@googlemail.com"),
        ("an_pee%ters@example.org", "AN_PEE%TERS+x@example.org"),  # LIKE's wildcards, literally
    ],
)
def test_a_variant_of_a_known_address_links_the_new_record_to_the_old(
    app: App, first: str, second: str
) -> None:
    """Same normalised address, different stored one: two records, linked, and shown."""
    old = apply(app, first)
    new = apply(app, second, PROTECTION, name="Someone Else")
    old_key, new_key = key_of(app, old), key_of(app, new)
    assert old_key != new_key, "a different stored address is a record of its own"
    assert links(app) == [(new_key, old_key, "email", "open")]
    [found] = duplicates(app, candidacy=new)
    assert (found["candidate"], found["other"], found["rule"]) == (new_key, old_key, "email")
    assert [c["id"] for c in found["candidacies"]] == [old]
    assert found["candidacies"][0]["service"] == "DVZ"
    [seen_back] = duplicates(app, candidate=old_key)
    assert seen_back["other"] == new_key, "a link is seen from both records"


def test_the_same_address_again_is_the_same_record_and_links_nothing(app: App) -> None:
    first = apply(app, "an.peeters@example.org")
    second = apply(app, "an.peeters@example.org", PROTECTION)
    assert key_of(app, first) == key_of(app, second)
    assert links(app) == []
    assert duplicates(app, candidacy=second) == []


def test_the_same_name_and_birth_date_link_whatever_the_case_accents_and_spaces(
    app: App,
) -> None:
    old = apply(app, "elodie@example.org", name="Élodie Dupont", birth_date=date(1990, 5, 1))
    new = apply(app, "e.dupont@work.example", name="  elodie   DUPONT", birth_date=date(1990, 5, 1))
    assert links(app) == [(key_of(app, new), key_of(app, old), "name_birth_date", "open")]
    assert duplicates(app, candidacy=new)[0]["rule_text"] == "same name and birth date"


@pytest.mark.parametrize("second_birth_date", [date(1990, 5, 2), None])
def test_the_same_name_without_the_same_birth_date_links_nothing(
    app: App, second_birth_date: date | None
) -> None:
    """Names are common: only a birth date given on both sides, and equal, makes a link."""
    apply(app, "elodie@example.org", name="Élodie Dupont", birth_date=date(1990, 5, 1))
    apply(app, "e.dupont@work.example", name="Elodie Dupont", birth_date=second_birth_date)
    assert links(app) == []


def test_erased_and_merged_records_are_never_linked_to(app: App) -> None:
    erased = apply(app, "an.peeters@example.org", birth_date=date(1990, 5, 1))
    erase_by_hand(app, key_of(app, erased))
    apply(app, "an.peeters+new@example.org", PROTECTION, birth_date=date(1990, 5, 1))
    assert links(app) == []


def test_a_pair_is_linked_once_and_a_distinct_verdict_stands(app: App) -> None:
    old = apply(app, "an.peeters@example.org")
    new = apply(app, "an.peeters+x@example.org", PROTECTION)
    apply(app, "an.peeters+x@example.org", DUBLIN)  # the new record applies again
    apply(app, "an.peeters@example.org", RETURN)  # and so does the old one
    assert len(links(app)) == 1
    old_key, new_key = key_of(app, old), key_of(app, new)
    assert mark_distinct(app, candidate=new_key, other=old_key, reason="twins", **ADMIN)
    apply(app, "an.peeters+x@example.org", "FEDASIL-SOC-W2")
    assert links(app) == [(new_key, old_key, "email", "distinct")]
    assert duplicates(app, candidacy=new) == []
    assert not mark_distinct(app, candidate=old_key, other=new_key, reason="again", **ADMIN)
    [event] = events(app, CANDIDATES_DISTINCT)
    assert event["details"]["reason"].startswith(SEALED)


def test_a_failing_duplicate_search_never_fails_the_application(app: App) -> None:
    """The search runs in a savepoint: when it breaks, the application still goes through."""
    apply(app, "an.peeters@example.org")
    with app.engine.begin() as connection:
        connection.execute(text("DROP TABLE candidate_links"))
    candidacy_id = apply(app, "an.peeters+x@example.org", PROTECTION)
    with app.engine.connect() as connection:
        state = connection.execute(
            select(CANDIDACY.c.state).where(CANDIDACY.c.id == candidacy_id)
        ).scalar_one()
    assert state == "applied"
    assert verify(app).ok


def test_link_duplicates_returns_the_links_it_made(app: App) -> None:
    old = apply(app, "an.peeters@example.org")
    new = apply(app, "an.peeters+x@example.org", PROTECTION)
    new_id = record(app, key_of(app, new))["id"]
    with app.unit_of_work() as uow:
        uow.connection.execute(LINK.delete())  # as if the application had found none
        made = link_duplicates(uow, app, new_id)
        again = link_duplicates(uow, app, new_id)
        uow.commit()
    assert [(m.other_key, m.rule) for m in made] == [(key_of(app, old), "email")]
    assert again == []


@pytest.mark.parametrize("birth_date", [date(1899, 12, 31), MONDAY.date() + timedelta(days=1)])
def test_an_implausible_birth_date_is_refused_and_nothing_is_written(
    app: App, birth_date: date
) -> None:
    before = snapshot(app)
    with pytest.raises(InvalidInput, match=r"birth date .*: give a date from 1900-01-01 to today"):
        apply(app, "an.peeters@example.org", birth_date=birth_date)
    assert snapshot(app) == before


def test_a_new_record_keeps_its_birth_date(app: App) -> None:
    candidacy_id = apply(app, "an.peeters@example.org", birth_date=date(1990, 5, 1))
    assert record(app, key_of(app, candidacy_id))["birth_date"] == date(1990, 5, 1)


# -- merging ---------------------------------------------------------------------------------


def test_a_merge_moves_everything_to_the_kept_record_and_the_log_still_verifies(
    app: App,
) -> None:
    kept_candidacy = apply(app, "an.peeters@example.org", birth_date=date(1990, 5, 1))
    moved = apply(app, "an.peeters+jobs@example.org", PROTECTION, phone="+32 2 123 45 67")
    screen_reason = "An phoned: diploma checked"
    app.handle(
        FireTrigger(
            candidacy_id=moved,
            trigger="screen",
            actor="recruiter:els",
            role="recruiter",
            reason=screen_reason,
            facts={"diploma_level": "master"},
        )
    )
    keep, gone = key_of(app, kept_candidacy), key_of(app, moved)
    result = merge(app, keep=keep, merge=gone, reason="one person, two addresses", **ADMIN)

    assert (result.kept, result.merged, result.candidacies) == (keep, gone, [moved])
    assert key_of(app, moved) == keep
    kept, shell = record(app, keep), record(app, gone)
    assert kept["phone"] == "+32 2 123 45 67", "the kept record takes what it lacked"
    assert kept["email"] == "an.peeters@example.org"
    assert kept["birth_date"] == date(1990, 5, 1)
    assert shell["merged_into"] == kept["id"]
    assert (shell["name"], shell["phone"], shell["birth_date"]) == ("", None, None)
    assert shell["email"] == f"merged-{gone}@merged.invalid"
    assert links(app) == [(gone, keep, "email", "merged")]
    assert duplicates(app, candidate=keep) == []
    with app.engine.connect() as connection:
        owners = set(connection.execute(select(AUDIT_TEXT.c.candidate_id)).scalars())
    assert owners == {kept["id"]}, "the texts are erasable with the kept record"
    report = verify(app)
    assert report.ok, report.damage
    assert history(app, moved)[-1]["reason"] == screen_reason, "its texts still open"


def test_the_merge_is_an_audit_event_with_a_sealed_reason(app: App) -> None:
    first = apply(app, "an.peeters@example.org")
    second = apply(app, "an.peeters+jobs@example.org", PROTECTION)
    keep, gone = key_of(app, first), key_of(app, second)
    reason = "An Peeters confirmed by phone"
    merge(app, keep=keep, merge=gone, reason=reason, actor="recruiter:els", role="recruiter")
    [event] = events(app, CANDIDATES_MERGED)
    assert (event["actor"], event["role"], event["subject"]) == (
        "recruiter:els",
        "recruiter",
        f"candidate:{keep}",
    )
    details = event["details"]
    assert (details["kept"], details["merged"], details["candidacies"]) == (keep, gone, [second])
    assert details["reason"].startswith(SEALED), "the reason may name the person: sealed"
    with app.engine.connect() as connection:
        kept = (
            connection.execute(select(AUDIT_TEXT).where(AUDIT_TEXT.c.event_id == event["id"]))
            .mappings()
            .one()
        )
    assert kept["candidate_id"] == record(app, keep)["id"]
    assert kept["reason"] == reason
    assert verify(app).ok


def test_merging_into_a_record_repoints_what_was_merged_into_the_other_before(app: App) -> None:
    """Audit verify looks one level up only: a second merge carries the first one along."""
    a = apply(app, "an.peeters@example.org")
    b = apply(app, "an.peeters+b@example.org", PROTECTION)
    c = apply(app, "an.peeters+c@example.org", DUBLIN)
    screen(app, b, PROTECTION)
    screen(app, c, DUBLIN)
    ka, kb, kc = key_of(app, a), key_of(app, b), key_of(app, c)
    merge(app, keep=kb, merge=kc, reason="same person", **ADMIN)
    merge(app, keep=ka, merge=kb, reason="same person", **ADMIN)
    assert record(app, kc)["merged_into"] == record(app, kb)["merged_into"] == record(app, ka)["id"]
    assert {key_of(app, i) for i in (a, b, c)} == {ka}
    assert {row[3] for row in links(app)} == {"merged"}
    report = verify(app)
    assert report.ok, report.damage


def test_a_merge_moves_selor_seats_on_other_days(app: App) -> None:
    first = apply(app, "an.peeters@example.org", DUBLIN)
    second = apply(app, "an.peeters+x@example.org", RETURN)
    seated(app, first, DUBLIN, SATURDAY)
    seated(app, second, RETURN, NEXT_MONDAY)
    keep, gone = key_of(app, first), key_of(app, second)
    assert merge(app, keep=keep, merge=gone, reason="same person", **ADMIN).seats == 1
    with app.engine.connect() as connection:
        owners = set(connection.execute(select(SEAT.c.candidate_id)).scalars())
    assert owners == {record(app, keep)["id"]}
    assert verify(app).ok


def test_two_seats_on_one_day_refuse_the_merge_and_change_nothing(app: App) -> None:
    first = apply(app, "an.peeters@example.org", DUBLIN)
    second = apply(app, "an.peeters+x@example.org", RETURN)
    seated(app, first, DUBLIN, SATURDAY, hour=9)
    seated(app, second, RETURN, SATURDAY, hour=14)
    before = snapshot(app)
    with pytest.raises(ConflictError, match="both hold a Selor seat on 2026-03-07"):
        merge(app, keep=key_of(app, first), merge=key_of(app, second), reason="x", **ADMIN)
    assert snapshot(app) == before


def test_both_applied_to_one_vacancy_refuses_the_merge_and_changes_nothing(app: App) -> None:
    first = apply(app, "an.peeters@example.org")
    second = apply(app, "an.peeters+x@example.org")  # the same vacancy
    before = snapshot(app)
    with pytest.raises(DuplicateApplication, match=f"both applied to vacancy {SECURITY}"):
        merge(app, keep=key_of(app, first), merge=key_of(app, second), reason="x", **ADMIN)
    assert snapshot(app) == before


def test_merging_an_erased_or_merged_record_or_one_into_itself_is_refused(app: App) -> None:
    first = apply(app, "an.peeters@example.org")
    second = apply(app, "an.peeters+x@example.org", PROTECTION)
    third = apply(app, "an.peeters+y@example.org", DUBLIN)
    fourth = apply(app, "an.peeters+z@example.org", RETURN)
    keep, other, erased, shell = (key_of(app, c) for c in (first, second, third, fourth))
    erase_by_hand(app, erased)
    merge(app, keep=other, merge=shell, reason="same person", **ADMIN)
    before = snapshot(app)
    refusals: list[tuple[type[Exception], str, dict[str, Any]]] = [
        (InvalidInput, "cannot be merged into itself", {"keep": keep, "merge": keep}),
        (InvalidInput, "was erased on", {"keep": keep, "merge": erased}),
        (InvalidInput, "was erased on", {"keep": erased, "merge": keep}),
        (InvalidInput, f"merged into {other} already", {"keep": keep, "merge": shell}),
        (InvalidInput, f"merged into {other} already", {"keep": shell, "merge": keep}),
        (NotFound, "no candidate 'ffffffffffffffff'", {"keep": keep, "merge": "f" * 16}),
    ]
    for error, message, keys in refusals:
        with pytest.raises(error, match=message):
            merge(app, **keys, reason="same person", **ADMIN)
    for reason in ("", "   ", "x" * 2001):
        with pytest.raises(InvalidInput, match="reason: say why"):
            merge(app, keep=keep, merge=other, reason=reason, **ADMIN)
    assert snapshot(app) == before


def test_a_role_other_than_recruiter_or_admin_is_refused_and_audited(app: App) -> None:
    first = apply(app, "an.peeters@example.org")
    second = apply(app, "an.peeters+x@example.org", PROTECTION)
    before = snapshot(app)
    with pytest.raises(Forbidden, match="needs recruiter or admin"):
        merge(
            app,
            keep=key_of(app, first),
            merge=key_of(app, second),
            reason="same person",
            actor="panel:jan",
            role="panel",
        )
    assert snapshot(app) == before
    [refusal] = events(app, AUTHORISATION_FAILED)
    assert refusal["actor"] == "panel:jan"
    assert candidate_cli.MERGE_ROLES == dup.MERGE_ROLES, "the CLI offers exactly these roles"


def test_marking_records_distinct_needs_a_link_and_cannot_undo_a_merge(app: App) -> None:
    first = apply(app, "an.peeters@example.org")
    second = apply(app, "an.peeters+x@example.org", PROTECTION)
    stranger = apply(app, "jan@example.org", DUBLIN, name="Jan Janssens")
    keep, gone = key_of(app, first), key_of(app, second)
    with pytest.raises(NotFound, match="are not linked as possible duplicates"):
        mark_distinct(app, candidate=keep, other=key_of(app, stranger), reason="x", **ADMIN)
    merge(app, keep=keep, merge=gone, reason="same person", **ADMIN)
    with pytest.raises(InvalidInput, match="were merged; that cannot be undone"):
        mark_distinct(app, candidate=keep, other=gone, reason="x", **ADMIN)


def test_an_opened_merge_reason_reads_back_for_the_kept_records_access_request(app: App) -> None:
    """The sealed reason opens with the text kept beside it, as the readers show it."""
    first = apply(app, "an.peeters@example.org")
    second = apply(app, "an.peeters+x@example.org", PROTECTION)
    merge(app, keep=key_of(app, first), merge=key_of(app, second), reason="same An", **ADMIN)
    [event] = events(app, CANDIDATES_MERGED)
    with app.engine.connect() as connection:
        row = (
            connection.execute(select(AUDIT_TEXT).where(AUDIT_TEXT.c.event_id == event["id"]))
            .mappings()
            .one()
        )
    texts = SealedTexts(salt=row["salt"], reason=row["reason"], facts=row["facts"])
    assert open_texts(event["details"]["reason"], {}, texts)[0] == "same An"


# -- the pages and the API -------------------------------------------------------------------


def test_the_candidacy_page_warns_of_a_possible_duplicate_and_links_its_candidacies(
    app: App, browser: Any
) -> None:
    old = apply(app, "an.peeters@example.org")
    hidden = apply(app, "an.peeters@example.org", PROTECTION)  # CGVS: not els's service
    new = apply(app, "an.peeters+x@example.org", DUBLIN)
    make_user(app, "els", "recruiter", services=("DVZ",))
    client = browser()
    signed_in(client, "els")
    page = client.get(f"/candidacies/{new}")
    assert page.status_code == 200
    assert 'id="duplicates"' in page.text
    assert "Possible duplicate" in page.text
    assert key_of(app, old) in page.text
    assert f'href="/candidacies/{old}"' in page.text
    assert f'href="/candidacies/{hidden}"' not in page.text, "scope leaks no candidacy"
    assert "(and candidacies outside your services)" in page.text
    alone = apply(app, "someone.else@example.org", name="Someone Else")
    assert 'id="duplicates"' not in client.get(f"/candidacies/{alone}").text


def test_the_page_speaks_the_users_language(app: App, browser: Any) -> None:
    apply(app, "an.peeters@example.org")
    new = apply(app, "an.peeters+x@example.org", DUBLIN)
    create_user(
        app,
        username="lies",
        display_name="Lies",
        roles=("recruiter",),
        services=("DVZ",),
        language="nl",
        password="correct horse battery staple",  # noqa: S106 - a test account
    )
    client = browser()
    signed_in(client, "lies")
    page = client.get(f"/candidacies/{new}").text
    assert "Mogelijk dubbel dossier" in page
    assert "zelfde e-mailadres" in page


@pytest.fixture
def api(app: App) -> Iterator[TestClient]:
    with TestClient(create_api(app)) as client:
        yield client


def test_the_api_lists_possible_duplicates_within_the_callers_services(
    app: App, api: TestClient
) -> None:
    old = apply(app, "an.peeters@example.org")
    hidden = apply(app, "an.peeters@example.org", PROTECTION)
    new = apply(app, "an.peeters+x@example.org", DUBLIN)
    create_user(app, username="els", display_name="Els", roles=("recruiter",), services=("DVZ",))
    headers = {"Authorization": f"Bearer {create_token(app, 'els', 'tests')[0]}"}
    response = api.get(f"/api/v1/candidacies/{new}/duplicates", headers=headers)
    assert response.status_code == 200
    [found] = response.json()
    assert (found["other"], found["rule"]) == (key_of(app, old), "email")
    assert [c["id"] for c in found["candidacies"]] == [old]
    assert hidden not in [c["id"] for c in found["candidacies"]]
    assert api.get(f"/api/v1/candidacies/{hidden}/duplicates", headers=headers).status_code == 404
