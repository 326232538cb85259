"""The public careers site over a real database (SQLite, and PostgreSQL when configured).

Pages, structured data, sitemap and feed are compared with what the drive file
(config/hiring-drive.yaml) and the workflows say, not with copied lists, so the
tests keep holding while the drive's content is written. Applications are sent
as a browser sends them (GET the form, read its token, POST multipart with a real
PDF or Word file) and checked in the database, in the uploads folder, in the
audit chain and in the outbox; every refusal is checked to create nothing.

Time moves by the injected ManualClock only. The site is built on its own
settings so CVs go under pytest's ``tmp_path``, never into the repository.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import re
import stat
import xml.etree.ElementTree as ET  # our own responses, not untrusted input
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from ats.adapters.db.models import (
    AuditEntryRow,
    CandidacyRow,
    CandidateRow,
    DocumentRow,
    OutboxMessageRow,
    VacancyRow,
)
from ats.adapters.drive_file import read_hiring_drive
from ats.api.app import create_api
from ats.bootstrap import bootstrap
from ats.clock import ManualClock
from ats.domain.drive import HiringDrive, Vacancy, is_open
from ats.domain.workflow import LANGUAGES
from ats.service import careers, privacy
from ats.service.app import App
from ats.service.audit import verify
from ats.service.commands import FireTrigger
from ats.service.outbox import compose
from ats.service.setup import initialise
from ats.settings import Settings
from ats.web.careers import REFUSALS
from ats.web.translations import translator
from tests.integration.test_web import make_user, signed_in
from tests.unit.test_careers import EXE, docx_bytes, pdf_bytes, zip_bytes

# 2021-07-20, 09:00 in Brussels: wave 1 closed the day before, wave 2 is open, wave 3 not yet out.
DAY = datetime(2021, 7, 20, 7, 0, tzinfo=UTC)
OPEN = "FEDASIL-SOC-W2"
CLOSED = "DVZ-SEC-W1"
LATER = "RVV-LAW-W3"
CV_MAX_KB = 64
TABLES = ("candidates", "candidacies", "documents", "audit_entries", "outbox_messages")
CSRF = re.compile(r'<input type="hidden" name="csrf" value="([^"]+)">')
CHECKED = re.compile(r'<input type="hidden" name="email_checked" value="([^"]+)">')
LISTED = re.compile(r'<h2><a href="/jobs/(\w\w)/([^"]+)">(.*?)</a></h2>')
JSON_LD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.DOTALL)
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
XHTML = "{http://www.w3.org/1999/xhtml}"
# schema.org/JobPosting employmentType: the values Google's job search understands.
GOOGLE_EMPLOYMENT_TYPES = {
    "FULL_TIME",
    "PART_TIME",
    "CONTRACTOR",
    "TEMPORARY",
    "INTERN",
    "VOLUNTEER",
    "PER_DIEM",
    "OTHER",
}


# -- the site under test -----------------------------------------------------------------------


@dataclasses.dataclass
class Site:
    app: App
    clock: ManualClock
    api: Any
    uploads: Path
    drive: HiringDrive
    opened: list[TestClient] = dataclasses.field(default_factory=list)

    @property
    def base(self) -> str:
        return self.app.settings.public_url.rstrip("/")

    @property
    def today(self) -> date:
        return careers.today(self.app)

    def browser(self) -> TestClient:
        """A fresh browser with its own cookie jar; redirects are not followed."""
        client = TestClient(self.api, follow_redirects=False)
        self.opened.append(client)
        return client

    def vacancy(self, code: str) -> Vacancy:
        return next(v for v in self.drive.vacancies if v.code == code)

    def published(self) -> list[Vacancy]:
        return [v for v in self.drive.vacancies if v.opens_on and v.opens_on <= self.today]

    def counts(self) -> dict[str, int]:
        """Rows of everything an application creates, and the files under uploads_dir."""
        with self.app.engine.connect() as connection:
            found = {
                table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 - fixed names
                for table in TABLES
            }
        files = [p for p in self.uploads.rglob("*") if p.is_file()] if self.uploads.exists() else []
        return {**found, "files": len(files)}


@pytest.fixture
def site(settings: Settings, clock: ManualClock, tmp_path: Path) -> Iterator[Site]:
    """The app with uploads under tmp_path and a small CV limit, on 2021-07-20."""
    own = dataclasses.replace(settings, uploads_dir=str(tmp_path / "uploads"), cv_max_kb=CV_MAX_KB)
    clock.set(DAY)
    application = bootstrap(own, clock=clock)
    initialise(application)
    built = Site(
        app=application,
        clock=clock,
        api=create_api(application),
        uploads=own.uploads_folder,
        drive=read_hiring_drive(own.hiring_drive_file),
    )
    # The vacancies these tests lean on must be where the drive file is expected to put them.
    assert is_open(built.vacancy(OPEN).opens_on, built.vacancy(OPEN).closes_on, built.today)
    assert not is_open(built.vacancy(CLOSED).opens_on, built.vacancy(CLOSED).closes_on, built.today)
    later = built.vacancy(LATER).opens_on
    assert later
    assert later > built.today
    try:
        yield built
    finally:
        for client in built.opened:
            client.close()
        application.close()


def tr(language: str, english: str) -> str:
    """A careers page's text in ``language`` (English text is the key)."""
    return translator(language, "careers.toml")(english)


def page_text(response: Any) -> str:
    return html.unescape(response.text)


def listed(response: Any) -> list[str]:
    return [code for _lang, code, _title in LISTED.findall(response.text)]


def items(block: str) -> list[str]:
    return [html.unescape(i).strip() for i in re.findall(r"<li[^>]*>(.*?)</li>", block, re.S)]


def xml_of(content: bytes) -> ET.Element:
    return ET.fromstring(content)  # noqa: S314 - the site's own sitemap and feed


def json_ld(response: Any) -> dict[str, Any]:
    scripts = JSON_LD.findall(response.text)
    assert len(scripts) == 1, "one JobPosting per vacancy page"
    data: dict[str, Any] = json.loads(scripts[0])
    return data


def answers(site: Site, code: str) -> dict[str, str]:
    """A valid answer to every fact the vacancy's form asks."""
    values = {}
    for spec in careers.vacancy(site.app, code, "en")["asks"]:
        if spec.type == "choice":
            value = spec.choices[-1]
        elif spec.type == "boolean":
            value = "true"
        elif spec.type == "integer":
            value = str(spec.minimum if spec.minimum is not None else 1)
        elif spec.type == "date":
            value = "2020-06-30"
        else:
            value = "yes"
        values[f"fact.{spec.name}"] = value
    assert values, f"{code}: the tests expect a form that asks facts"
    return values


def open_form(site: Site, code: str = OPEN, language: str = "en") -> tuple[TestClient, str]:
    """A browser that has loaded the application form, and the form's CSRF token."""
    client = site.browser()
    form = client.get(f"/jobs/{language}/{code}/apply")
    assert form.status_code == 200, form.text
    found = CSRF.search(form.text)
    assert found, "the form has no csrf field"
    return client, found.group(1)


def application(
    site: Site,
    csrf: str,
    code: str = OPEN,
    *,
    email: str = "amelie.dubois@example.be",
    **changes: str,
) -> dict[str, str]:
    fields = {
        "csrf": csrf,
        "name": "Amélie Dubois",
        "email": email,
        "language": "fr",
        "phone": "+32 470 12 34 56",
        "website": "",
        **answers(site, code),
        **changes,
    }
    return {k: v for k, v in fields.items() if v is not None}


PDF_FILE = ("cv.pdf", pdf_bytes(), "application/pdf")


def send(
    client: TestClient,
    fields: dict[str, str],
    *,
    code: str = OPEN,
    language: str = "en",
    cv: tuple[str, bytes, str] = PDF_FILE,
    headers: dict[str, str] | None = None,
) -> Any:
    return client.post(
        f"/jobs/{language}/{code}/apply", data=fields, files={"cv": cv}, headers=headers
    )


def field_error(response: Any, name: str) -> str | None:
    found = re.search(
        rf'<p class="field-error" id="{re.escape(name.replace(".", "-"))}-error">(.*?)</p>',
        response.text,
        re.S,
    )
    return html.unescape(found.group(1)) if found else None


# -- pages -------------------------------------------------------------------------------------


ACCEPT_LANGUAGE = [
    ("fr-BE,fr;q=0.9,en;q=0.8", "fr"),
    ("de-DE", "de"),
    ("en-GB,en;q=0.9", "en"),
    ("nl-BE", "nl"),
    ("es-ES,it;q=0.8,fr;q=0.5", "fr"),  # the first one of ours, in the browser's order
    ("en;q=0.4,de;q=0.9", "de"),  # by weight, not position
    ("xx-YY", "nl"),
    ("", "nl"),
]


def test_jobs_redirects_to_the_browsers_language(site: Site) -> None:
    client = site.browser()
    for accept, language in ACCEPT_LANGUAGE:
        response = client.get("/jobs", headers={"Accept-Language": accept})
        assert response.status_code == 303, accept
        assert response.headers["location"] == f"/jobs/{language}", accept


def test_the_list_shows_the_published_vacancies_in_each_language(site: Site) -> None:
    client = site.browser()
    published = site.published()
    waves = {w.code: w.number for w in site.drive.waves}
    for language in LANGUAGES:
        response = client.get(f"/jobs/{language}")
        assert response.status_code == 200
        assert f'<html lang="{language}">' in response.text
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src" not in policy, "no scripts on public pages"
        assert response.headers["x-frame-options"] == "DENY"
        found = LISTED.findall(response.text)
        assert {code for _l, code, _t in found} == {v.code for v in published}
        numbers = [waves[site.vacancy(code).wave] for _l, code, _t in found]
        assert numbers == sorted(numbers, reverse=True), "newest wave first"
        for lang, code, title in found:
            assert lang == language
            assert html.unescape(title) == site.vacancy(code).title[language]


def test_each_filter_narrows_the_list_as_the_drive_says(site: Site) -> None:
    client = site.browser()
    published = site.published()
    functions = {f.code for f in site.drive.job_functions}

    def shown(**chosen: str) -> set[str]:
        response = client.get("/jobs/en", params=chosen)
        assert response.status_code == 200
        return set(listed(response))

    for service in site.drive.services:
        assert shown(service=service.code) == {
            v.code for v in published if v.service == service.code
        }
    for function in functions:
        assert shown(function=function) == {v.code for v in published if v.job_function == function}
    for wave in site.drive.waves:
        assert shown(wave=wave.code) == {v.code for v in published if v.wave == wave.code}
    for locality in {v.place["locality"] for v in published if v.place}:
        assert shown(place=locality) == {
            v.code for v in published if v.place and v.place["locality"] == locality
        }
    opened = {v.code for v in published if is_open(v.opens_on, v.closes_on, site.today)}
    assert opened, "the day has open vacancies"
    assert opened != {v.code for v in published}, "and closed ones"
    assert shown(status="open") == opened
    assert shown(status="closed") == {v.code for v in published} - opened
    # filters combine; an unknown value shows nothing, and says so
    service = site.vacancy(OPEN).service
    assert shown(service=service, status="open") == {
        v.code for v in published if v.service == service and v.code in opened
    }
    assert shown(service="NOPE") == set()
    assert shown(place="Antwerpen") == set()
    assert tr("en", "No vacancy matches these filters.") in page_text(
        client.get("/jobs/en", params={"service": "NOPE"})
    )


def test_an_unknown_status_filter_is_ignored(site: Site) -> None:
    """Only open and closed filter on status; anything else (an old or edited link) shows all."""
    client = site.browser()
    assert listed(client.get("/jobs/en", params={"status": "bogus"})) == listed(
        client.get("/jobs/en")
    )


def test_a_vacancy_not_yet_opened_is_nowhere(site: Site) -> None:
    client = site.browser()
    for language in LANGUAGES:
        assert LATER not in listed(client.get(f"/jobs/{language}"))
        assert client.get(f"/jobs/{language}/{LATER}").status_code == 404
        assert client.get(f"/jobs/{language}/{LATER}/apply").status_code == 404
    assert LATER not in client.get("/sitemap.xml").text
    # and appears on its opening day
    opens_on = site.vacancy(LATER).opens_on
    assert opens_on
    site.clock.set(datetime.combine(opens_on, time(8), tzinfo=site.app.settings.zone))
    assert LATER in listed(client.get("/jobs/en"))
    assert client.get(f"/jobs/en/{LATER}").status_code == 200


def test_an_unknown_language_or_vacancy_is_404(site: Site) -> None:
    client = site.browser()
    for path in ("/jobs/es", f"/jobs/es/{OPEN}", f"/jobs/es/{OPEN}/apply", "/jobs/en/NO-SUCH"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert tr("en", REFUSALS["NotFound"]) in page_text(response)


def test_the_vacancy_page_shows_steps_requirements_and_closing_date(site: Site) -> None:
    for language in LANGUAGES:
        check_vacancy_page(site, language)


def check_vacancy_page(site: Site, language: str) -> None:
    v = site.vacancy(OPEN)
    function = next(f for f in site.drive.job_functions if f.code == v.job_function)
    response = site.browser().get(f"/jobs/{language}/{OPEN}")
    assert response.status_code == 200
    body = response.text
    heading = re.search(r"<h1>(.*?)</h1>", body, re.S)
    assert heading
    assert html.unescape(heading.group(1)) == v.title[language]

    steps = re.search(r'<ol class="steps">(.*?)</ol>', body, re.S)
    assert steps
    expected = careers.steps(careers.workflow(site.app, function.workflow), language)
    assert items(steps.group(1)) == expected
    assert len(expected) >= 3

    assert function.requirements
    shown = items(body)
    wanted = list(function.requirements[language])
    start = shown.index(wanted[0])
    assert shown[start : start + len(wanted)] == wanted, "the requirements, in order"

    assert v.closes_on
    assert format_date(v.closes_on, "long", locale=f"{language}_BE") in page_text(response)
    assert f'href="/jobs/{language}/{OPEN}/apply"' in body


def test_a_closed_vacancy_takes_no_applications(site: Site) -> None:
    client = site.browser()
    page = client.get(f"/jobs/en/{CLOSED}")
    assert page.status_code == 200
    assert "/apply" not in page.text
    closed = tr("en", "This vacancy is closed: it no longer takes applications.")
    assert closed in page_text(page)
    form = client.get(f"/jobs/en/{CLOSED}/apply")
    assert form.status_code == 200
    assert closed in page_text(form)
    assert 'name="csrf"' not in form.text
    assert '<form class="apply"' not in form.text
    assert "ats_apply" not in form.headers.get("set-cookie", "")


# -- JSON-LD -----------------------------------------------------------------------------------


def test_every_vacancy_page_carries_a_valid_job_posting(site: Site) -> None:
    """Google's required JobPosting properties, and the recommended ones the drive can give.

    baseSalary is recommended, not required: the drive file has no salaries, so it is absent,
    which Google accepts.
    """
    client = site.browser()
    zone = site.app.settings.zone
    services = {s.code: s for s in site.drive.services}
    functions = {f.code: f for f in site.drive.job_functions}
    checked: set[str] = set()
    later = site.vacancy(LATER).opens_on
    assert later
    # 2021-07-20: waves 1 and 2 out; 2021-09-01: wave 3 too, open-ended (no validThrough).
    for day in (DAY, datetime.combine(later, time(9), tzinfo=zone)):
        site.clock.set(day)
        for v in site.published():
            for language in LANGUAGES:
                response = client.get(f"/jobs/{language}/{v.code}")
                assert response.status_code == 200
                posting = json_ld(response)
                where = f"{v.code} ({language})"
                assert posting["@context"] in ("https://schema.org/", "https://schema.org")
                assert posting["@type"] == "JobPosting"
                assert posting["title"] == v.title[language], where
                assert posting["description"].strip(), where
                assert posting["identifier"]["value"] == v.code
                assert posting["identifier"]["name"]
                assert posting["url"] == f"{site.base}/jobs/{language}/{v.code}"
                posted = date.fromisoformat(posting["datePosted"])
                assert posted == v.opens_on, where
                organisation = posting["hiringOrganization"]
                assert organisation["@type"] == "Organization"
                assert organisation["name"] == services[v.service].name[language]
                address = posting["jobLocation"]["address"]
                assert posting["jobLocation"]["@type"] == "Place"
                assert address["@type"] == "PostalAddress"
                assert v.place
                for key, drive_key in (
                    ("streetAddress", "street"),
                    ("postalCode", "postal_code"),
                    ("addressLocality", "locality"),
                ):
                    assert address[key], where
                    assert address[key] == v.place[drive_key], where
                assert re.fullmatch(r"[A-Z]{2}", address["addressCountry"])
                assert posting["employmentType"] in GOOGLE_EMPLOYMENT_TYPES
                assert posting["directApply"] is True
                if v.closes_on is None:
                    assert "validThrough" not in posting, where
                else:
                    through = datetime.fromisoformat(posting["validThrough"])
                    assert through.tzinfo is not None, "a time zone, or Google assumes UTC"
                    assert through.date() == v.closes_on
                    assert through > datetime.combine(posted, time(0), tzinfo=zone)
                function = functions[v.job_function]
                for requirement in (function.requirements or {}).get(language, []):
                    assert html.escape(requirement, quote=False) in posting["description"]
                checked.add(v.code)
    assert checked == {v.code for v in site.drive.vacancies}


def test_valid_through_is_the_end_of_the_closing_day_in_brussels(site: Site) -> None:
    """The site closes a vacancy at midnight local time; the posting must say the same instant."""
    v = site.vacancy(OPEN)
    posting = json_ld(site.browser().get(f"/jobs/en/{OPEN}"))
    assert v.closes_on
    end = datetime.combine(v.closes_on, time(23, 59, 59), tzinfo=site.app.settings.zone)
    through = datetime.fromisoformat(posting["validThrough"])
    assert through == end
    assert through.utcoffset() == end.utcoffset() == timedelta(hours=2)  # summer time


def test_a_title_cannot_close_the_script_element(site: Site) -> None:
    evil = "Social </script><script>alert(1)</script> & <!-- assistant"
    vacancies = VacancyRow.__table__
    with site.app.engine.begin() as connection:
        title = connection.execute(
            select(vacancies.c.title).where(vacancies.c.code == OPEN)
        ).scalar_one()
        connection.execute(
            update(vacancies).where(vacancies.c.code == OPEN).values(title={**title, "en": evil})
        )
    client = site.browser()
    response = client.get(f"/jobs/en/{OPEN}")
    assert response.status_code == 200
    assert response.text.lower().count("</script") == 1, "only the JSON-LD element's own end"
    assert "<script>alert" not in response.text
    assert json_ld(response)["title"] == evil
    assert f"<h1>{html.escape(evil, quote=False)}</h1>" in response.text
    listing = client.get("/jobs/en")
    assert "<script>" not in listing.text
    feed = xml_of(client.get("/jobs/en/feed.atom").content)
    assert evil in [e.findtext(f"{ATOM}title") for e in feed.iter(f"{ATOM}entry")]


# -- sitemap, feed, robots ---------------------------------------------------------------------


def test_the_sitemap_lists_every_vacancy_in_every_language_with_alternates(site: Site) -> None:
    response = site.browser().get("/sitemap.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = xml_of(response.content)
    assert root.tag == f"{SITEMAP}urlset"
    paths = ["", *(f"/{v.code}" for v in site.published())]
    expected = {f"{site.base}/jobs/{lang}{path}" for path in paths for lang in LANGUAGES}
    urls = root.findall(f"{SITEMAP}url")
    locs = [u.findtext(f"{SITEMAP}loc") for u in urls]
    assert len(locs) == len(set(locs))
    assert set(locs) == expected
    for url in urls:
        loc = url.findtext(f"{SITEMAP}loc") or ""
        path = loc.removeprefix(site.base).split("/", 3)[3:]
        rest = f"/{path[0]}" if path else ""
        alternates = {
            link.get("hreflang"): link.get("href") for link in url.findall(f"{XHTML}link")
        }
        assert all(link.get("rel") == "alternate" for link in url.findall(f"{XHTML}link"))
        assert alternates == {lang: f"{site.base}/jobs/{lang}{rest}" for lang in LANGUAGES}, loc


def test_the_feed_has_every_vacancy_newest_first(site: Site) -> None:
    for language in LANGUAGES:
        check_feed(site, language)


def check_feed(site: Site, language: str) -> None:
    response = site.browser().get(f"/jobs/{language}/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = xml_of(response.content)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id")
    updated = datetime.fromisoformat(feed.findtext(f"{ATOM}updated") or "")
    entries = feed.findall(f"{ATOM}entry")
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(ids) == len(set(ids)), "entry ids are unique"
    assert {i.rsplit("/", 1)[1] for i in ids if i} == {v.code for v in site.published()}
    published = [datetime.fromisoformat(e.findtext(f"{ATOM}published") or "") for e in entries]
    assert published == sorted(published, reverse=True), "newest first"
    for entry, when in zip(entries, published, strict=True):
        code = (entry.findtext(f"{ATOM}id") or "").rsplit("/", 1)[1]
        assert entry.findtext(f"{ATOM}title") == site.vacancy(code).title[language]
        link = entry.find(f"{ATOM}link")
        assert link is not None
        assert link.get("href") == f"{site.base}/jobs/{language}/{code}"
        assert when.date() == site.vacancy(code).opens_on
        assert datetime.fromisoformat(entry.findtext(f"{ATOM}updated") or "") <= updated


def test_robots_allows_the_careers_site_and_names_the_sitemap(site: Site) -> None:
    response = site.browser().get("/robots.txt")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert "User-agent: *" in lines
    assert "Allow: /jobs" in lines
    assert f"Sitemap: {site.base}/sitemap.xml" in lines


# -- applying ----------------------------------------------------------------------------------


def test_the_form_carries_a_token_bound_to_a_cookie(site: Site) -> None:
    client = site.browser()
    form = client.get(f"/jobs/en/{OPEN}/apply")
    assert form.status_code == 200
    token = CSRF.search(form.text)
    assert token
    assert client.cookies.get("ats_apply") == token.group(1)
    assert form.headers["cache-control"] == "no-store"
    cookie = form.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    # every fact the workflow asks has its field
    for name in answers(site, OPEN):
        assert f'name="{name}"' in form.text
    assert 'name="cv" type="file"' in form.text
    assert 'name="website"' in form.text  # the honeypot


@pytest.mark.parametrize(
    ("kind", "cv", "page", "language"),
    [
        (
            "pdf",
            ("C:\\Users\\amelie\\CV Amélie.pdf", pdf_bytes("Amelie Dubois"), "application/pdf"),
            "fr",
            "fr",
        ),
        (  # read in English, mails in German; the browser says nothing useful of the type
            "docx",
            ("CV Müller.docx", docx_bytes("Jonas Müller"), "application/octet-stream"),
            "en",
            "de",
        ),
    ],
)
def test_an_application_opens_a_candidacy_with_its_cv(
    site: Site, kind: str, cv: tuple[str, bytes, str], page: str, language: str
) -> None:
    before = site.counts()
    client, csrf = open_form(site, OPEN, page)
    fields = application(site, csrf, email="applicant@example.be", language=language)
    response = send(client, fields, language=page, cv=cv)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/jobs/{page}/{OPEN}/thanks"
    thanks = client.get(response.headers["location"])
    assert thanks.status_code == 200
    shown = re.search(r'<ol class="steps">(.*?)</ol>', thanks.text, re.S)
    assert shown
    v = careers.vacancy(site.app, OPEN, page)
    assert items(shown.group(1))[0].startswith(v["steps"][0]), "the first step is done"
    assert items(shown.group(1))[1:] == v["steps"][1:]
    answer_by = careers.answer_by(site.app, v)
    assert answer_by > (v["closes_on"] or site.today)
    assert format_date(answer_by, "long", locale=f"{page}_BE") in page_text(thanks)
    definition = careers.workflow(site.app, careers.vacancy(site.app, OPEN, "en")["workflow"])

    after = site.counts()
    assert {k: after[k] - before[k] for k in after} == {
        "candidates": 1,
        "candidacies": 1,
        "documents": 1,
        "audit_entries": 1,
        "outbox_messages": 1,
        "files": 1,
    }
    data = cv[1]
    with site.app.engine.connect() as connection:
        person, candidacy, document, entry, mail = (
            connection.execute(select(row.__table__)).mappings().one()
            for row in (CandidateRow, CandidacyRow, DocumentRow, AuditEntryRow, OutboxMessageRow)
        )
    assert (person["name"], person["email"], person["language"]) == (
        "Amélie Dubois",
        "applicant@example.be",
        language,
    )
    assert person["phone"] == "+32 470 12 34 56"
    assert candidacy["vacancy"] == OPEN
    assert candidacy["state"] == definition.initial_state
    assert candidacy["facts"] == {
        k.removeprefix("fact."): v for k, v in answers(site, OPEN).items()
    }

    assert document["candidacy_id"] == candidacy["id"]
    assert document["kind"] == "cv"
    assert document["sha256"] == hashlib.sha256(data).hexdigest()
    assert document["size"] == len(data)
    assert document["media_type"] == (careers.PDF if kind == "pdf" else careers.DOCX)
    assert document["filename"] == ("CV Amélie.pdf" if kind == "pdf" else "CV Müller.docx")
    stored = site.uploads / document["stored_name"]
    assert re.fullmatch(r"[0-9a-f]{32}", document["stored_name"]), "a random name"
    assert [p.name for p in site.uploads.iterdir()] == [document["stored_name"]]
    assert stored.read_bytes() == data
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    assert entry["trigger"] == "apply"
    assert (entry["seq"], entry["src"], entry["dst"]) == (1, None, definition.initial_state)
    assert entry["candidacy_id"] == candidacy["id"]
    report = verify(site.app)
    assert report.ok, report.to_dict()
    assert report.entries == 1

    assert mail["candidacy_id"] == candidacy["id"]
    assert mail["template"] == definition.notify_on_apply
    assert mail["status"] == "pending"
    with site.app.unit_of_work() as uow:
        composed = compose(site.app, uow, mail)
    first_line = (
        (site.app.settings.notifications_dir / language / f"{mail['template']}.txt")
        .read_text(encoding="utf-8")
        .splitlines()[0]
    )
    assert composed.subject.startswith(first_line.split("{{")[0].strip())
    assert composed.to_address == "applicant@example.be"


def test_every_open_vacancy_takes_an_application(site: Site) -> None:
    """Each workflow's application facts (choices, yes/no questions) make a form that works."""
    day = min(w.closes_on for w in site.drive.waves if w.closes_on)  # wave 1's last day
    site.clock.set(datetime.combine(day, time(16), tzinfo=site.app.settings.zone))
    taking = [v for v in site.published() if is_open(v.opens_on, v.closes_on, site.today)]
    workflows = {careers.vacancy(site.app, v.code, "en")["workflow"] for v in taking}
    assert len(workflows) >= 3, "the day has vacancies of several workflows open"
    for v in taking:
        client, csrf = open_form(site, v.code, "nl")
        asks = careers.vacancy(site.app, v.code, "nl")["asks"]
        page = client.get(f"/jobs/nl/{v.code}/apply")
        for spec in asks:
            assert f'name="fact.{spec.name}"' in page.text, (v.code, spec.name)
            assert spec.label["nl"] in page_text(page), (v.code, spec.name)
        fields = application(site, csrf, v.code, email="laureaat@example.be", language="nl")
        response = send(client, fields, code=v.code, language="nl")
        assert response.status_code == 303, (v.code, response.text)
        with site.app.engine.connect() as connection:
            facts = connection.execute(
                select(CandidacyRow.__table__.c.facts).where(
                    CandidacyRow.__table__.c.vacancy == v.code
                )
            ).scalar_one()
        assert facts == {s.name: s.parse(fields[f"fact.{s.name}"]) for s in asks}, v.code
    assert site.counts()["candidacies"] == len(taking)
    assert site.counts()["candidates"] == 1
    assert verify(site.app).ok


def test_over_https_the_token_cookie_is_a_host_cookie_and_the_form_works(site: Site) -> None:
    """As deployed: public_url is https, the cookie is __Host- and Secure, links are absolute."""
    settings = dataclasses.replace(site.app.settings, public_url="https://jobs.example.be/")
    deployed = bootstrap(settings, clock=site.clock)
    try:
        client = TestClient(
            create_api(deployed), base_url="https://testserver", follow_redirects=False
        )
        form = client.get(f"/jobs/en/{OPEN}/apply")
        assert form.status_code == 200
        cookie = form.headers["set-cookie"]
        assert cookie.startswith("__Host-ats_apply=")
        assert "secure" in cookie.lower()
        assert "domain=" not in cookie.lower()
        assert "path=/" in cookie.lower()
        token = CSRF.search(form.text)
        assert token
        response = send(client, application(site, token.group(1)))
        assert response.status_code == 303, response.text
        posting = json_ld(client.get(f"/jobs/en/{OPEN}"))
        assert posting["url"] == f"https://jobs.example.be/jobs/en/{OPEN}"
        assert "Sitemap: https://jobs.example.be/sitemap.xml" in client.get("/robots.txt").text
        client.close()
    finally:
        deployed.close()
    assert site.counts()["candidacies"] == 1


def test_a_likely_typo_in_the_address_is_hinted_then_accepted_as_typed(site: Site) -> None:
    client, csrf = open_form(site)
    before = site.counts()
    typed = "amelie@gmial.com"
    hinted = send(client, application(site, csrf, email=typed))
    assert hinted.status_code == 422
    message = tr("en", careers.MESSAGES["email_hint"]).format(hint="amelie@gmail.com")
    assert field_error(hinted, "email") == message
    assert site.counts() == before
    checked = CHECKED.search(hinted.text)
    assert checked
    assert checked.group(1) == typed
    assert f'value="{typed}"' in hinted.text, "the form keeps what was typed"
    token = CSRF.search(hinted.text)
    assert token
    assert token.group(1) == csrf

    kept = send(
        client, application(site, token.group(1), email=typed, email_checked=checked.group(1))
    )
    assert kept.status_code == 303, kept.text
    with site.app.engine.connect() as connection:
        assert connection.execute(text("SELECT email FROM candidates")).scalar_one() == typed

    # the same with the domain in capitals: kept as confirmed, not hinted again and again
    client, csrf = open_form(site)
    shouted = "Jan@GMIAL.COM"
    hinted = send(client, application(site, csrf, email=shouted))
    assert hinted.status_code == 422
    assert field_error(hinted, "email") == tr("en", careers.MESSAGES["email_hint"]).format(
        hint="Jan@gmail.com"
    )
    checked = CHECKED.search(hinted.text)
    assert checked
    kept = send(client, application(site, csrf, email=shouted, email_checked=checked.group(1)))
    assert kept.status_code == 303, field_error(kept, "email")


def test_a_corrected_address_is_checked_again(site: Site) -> None:
    """email_checked keeps only the address it was given for: another typo is hinted again."""
    client, csrf = open_form(site)
    before = site.counts()
    response = send(
        client,
        application(site, csrf, email="amelie@hotmial.com", email_checked="amelie@gmial.com"),
    )
    assert response.status_code == 422
    assert "amelie@hotmail.com" in (field_error(response, "email") or "")
    assert site.counts() == before


# -- refusals: each names what is wrong and creates nothing --------------------------------------

NOT_A_DOCX = zip_bytes({"cv.txt": "Curriculum vitae", "photo.jpg": b"\xff\xd8\xff\xe0"})


FIELD_ERRORS: list[tuple[str, dict[str, Any], tuple[str, bytes, str], str, str, dict[str, str]]] = [
    ("invalid-email", {"email": "amelie.example.be"}, PDF_FILE, "email", "email", {}),
    ("email-without-domain", {"email": "amelie@"}, PDF_FILE, "email", "email", {}),
    ("no-email", {"email": ""}, PDF_FILE, "email", "required", {}),
    ("no-name", {"name": "  "}, PDF_FILE, "name", "required", {}),
    ("bad-language", {"language": "es"}, PDF_FILE, "language", "language", {}),
    ("bad-phone", {"phone": "call me"}, PDF_FILE, "phone", "phone", {}),
    ("missing-fact", {"fact.diploma_level": None}, PDF_FILE, "fact.diploma_level", "required", {}),
    (
        "fact-not-a-choice",
        {"fact.diploma_level": "phd"},
        PDF_FILE,
        "fact.diploma_level",
        "choice",
        {},
    ),
    ("missing-cv", {}, ("", b"", "application/octet-stream"), "cv", "required", {}),
    ("exe-named-pdf", {}, ("cv.pdf", EXE, "application/pdf"), "cv", "cv_type", {}),
    ("zip-named-docx", {}, ("cv.docx", NOT_A_DOCX, careers.DOCX), "cv", "cv_type", {}),
    ("truncated-pdf", {}, ("cv.pdf", b"%PD", "application/pdf"), "cv", "cv_type", {}),
]


def test_each_field_error_is_named_and_creates_nothing(site: Site) -> None:
    """One bad field at a time (a fresh form each): the page names it, nothing is kept."""
    for case, changes, cv, field, key, params in FIELD_ERRORS:
        check_field_error(site, case, changes, cv, field, key, params)


def check_field_error(
    site: Site,
    case: str,
    changes: dict[str, Any],
    cv: tuple[str, bytes, str],
    field: str,
    key: str,
    params: dict[str, str],
) -> None:
    if field.startswith("fact."):
        assert field in answers(site, OPEN), f"{OPEN}'s workflow no longer asks {field}"
    client, csrf = open_form(site)
    before = site.counts()
    response = send(client, application(site, csrf, **changes), cv=cv)
    assert response.status_code == 422, (case, response.text)
    message = tr("en", careers.MESSAGES[key]).format(**params)
    assert field_error(response, field) == message, case
    assert f'href="#{field.replace(".", "-")}"' in response.text, f"{case}: the summary links it"
    assert site.counts() == before, case
    if field != "name":
        assert 'value="Amélie Dubois"' in response.text, f"{case}: the answers are kept"


def test_an_oversized_post_is_413_and_creates_nothing(site: Site) -> None:
    client, csrf = open_form(site)
    before = site.counts()
    big = pdf_bytes() + b"%" + b"x" * ((CV_MAX_KB + 300) * 1024)  # past the form's whole limit
    response = send(client, application(site, csrf), cv=("cv.pdf", big, "application/pdf"))
    assert response.status_code == 413
    limit = careers.size_text(CV_MAX_KB * 1024)
    assert field_error(response, "cv") == tr("en", careers.MESSAGES["cv_size"]).format(size=limit)
    assert site.counts() == before


OVER_THE_CV_LIMIT = pdf_bytes() + b"%" + b"x" * (CV_MAX_KB * 1024)  # within the form's slack


def test_a_cv_over_the_limit_is_refused_and_creates_nothing(site: Site) -> None:
    client, csrf = open_form(site)
    before = site.counts()
    response = send(
        client, application(site, csrf), cv=("cv.pdf", OVER_THE_CV_LIMIT, "application/pdf")
    )
    assert response.status_code == 413
    limit = careers.size_text(CV_MAX_KB * 1024)
    assert field_error(response, "cv") == tr("en", careers.MESSAGES["cv_size"]).format(size=limit)
    assert site.counts() == before


def test_a_cv_over_the_limit_is_413_whatever_its_size(site: Site) -> None:
    client, csrf = open_form(site)
    response = send(
        client, application(site, csrf), cv=("cv.pdf", OVER_THE_CV_LIMIT, "application/pdf")
    )
    assert response.status_code == 413


def test_a_damaged_docx_is_a_field_error_not_a_crash(site: Site) -> None:
    damaged = bytearray(docx_bytes())
    start = damaged.index(b"[Content_Types].xml") + len(b"[Content_Types].xml")
    damaged[start + 5] ^= 0xFF
    client, csrf = open_form(site)
    before = site.counts()
    try:
        response = send(
            client, application(site, csrf), cv=("cv.docx", bytes(damaged), careers.DOCX)
        )
    except Exception as exc:  # the test client re-raises the server's error
        pytest.fail(f"the server failed: {exc!r}")
    assert response.status_code == 422
    assert field_error(response, "cv") == tr("en", careers.MESSAGES["cv_type"])
    assert site.counts() == before


def test_a_form_without_its_token_is_403_and_creates_nothing(site: Site) -> None:
    for case in ("no-token", "wrong-token", "no-cookie", "other-origin"):
        check_forged(site, case)


def check_forged(site: Site, case: str) -> None:
    client, csrf = open_form(site)
    before = site.counts()
    fields = application(site, csrf)
    headers = None
    if case == "no-token":
        del fields["csrf"]
    elif case == "wrong-token":
        fields["csrf"] = csrf[:-2] + ("AA" if not csrf.endswith("AA") else "BB")
    elif case == "no-cookie":
        client = site.browser()  # never loaded the form: no cookie, a token copied from elsewhere
    else:
        headers = {"Origin": "https://evil.example"}
    response = send(client, fields, headers=headers)
    assert response.status_code == 403, case
    assert tr("en", REFUSALS["Forbidden"]) in page_text(response), case
    assert site.counts() == before, case


def test_a_filled_honeypot_is_400_and_creates_nothing(site: Site) -> None:
    client, csrf = open_form(site)
    before = site.counts()
    response = send(client, application(site, csrf, website="https://spam.example"))
    assert response.status_code == 400
    assert tr("en", REFUSALS["InvalidInput"]) in page_text(response)
    assert site.counts() == before


def test_applying_twice_is_a_polite_409(site: Site) -> None:
    client, csrf = open_form(site)
    assert send(client, application(site, csrf)).status_code == 303
    before = site.counts()
    client, csrf = open_form(site)
    again = send(
        client,
        application(site, csrf, name="Amélie D."),
        cv=("cv.docx", docx_bytes(), careers.DOCX),
    )
    assert again.status_code == 409
    assert tr("en", REFUSALS["DuplicateApplication"]) in page_text(again)
    assert f'href="/jobs/en/{OPEN}"' in again.text
    assert site.counts() == before  # still one candidacy, one document, one file
    with site.app.engine.connect() as connection:
        assert (
            connection.execute(select(func.count()).select_from(DocumentRow.__table__)).scalar_one()
            == 1
        )


def test_a_vacancy_that_closed_while_the_form_was_open_is_409(site: Site) -> None:
    v = site.vacancy(OPEN)
    assert v.closes_on
    zone = site.app.settings.zone
    client, csrf = open_form(site)
    # the last minutes of the closing day, Brussels time: still open
    site.clock.set(datetime.combine(v.closes_on, time(23, 55), tzinfo=zone))
    assert send(client, application(site, csrf, email="late@example.be")).status_code == 303
    client, csrf = open_form(site)
    before = site.counts()
    site.clock.set(datetime.combine(v.closes_on + timedelta(days=1), time(0, 5), tzinfo=zone))
    response = send(client, application(site, csrf, email="too.late@example.be"))
    assert response.status_code == 409
    assert tr("en", REFUSALS["VacancyClosed"]) in page_text(response)
    assert site.counts() == before


def test_a_burst_of_posts_is_limited_per_address(site: Site) -> None:
    limit = site.app.settings.apply_posts_per_hour
    assert limit == 20, "the default"
    for n in range(1, limit + 1):
        client, csrf = open_form(site)
        response = send(client, application(site, csrf, email=f"applicant{n}@example.be"))
        assert response.status_code == 303, (n, response.text)
    before = site.counts()
    assert before["candidacies"] == limit
    for n in range(limit + 1, 51):
        client, csrf = open_form(site)
        response = send(client, application(site, csrf, email=f"applicant{n}@example.be"))
        assert response.status_code == 429, n
        wait = int(response.headers["retry-after"])
        assert 0 < wait <= 3600 + 1
        assert tr("en", REFUSALS["TooManyAttempts"]) in page_text(response)
    assert site.counts() == before
    # once the hour has passed, this address may apply again
    site.clock.advance(timedelta(seconds=wait))
    client, csrf = open_form(site)
    assert send(client, application(site, csrf, email="patient@example.be")).status_code == 303


# -- the recruiter's side ----------------------------------------------------------------------


def test_a_recruiter_of_the_service_can_open_the_cv(site: Site) -> None:
    data = docx_bytes("Amélie Dubois")
    client, csrf = open_form(site)
    assert (
        send(client, application(site, csrf), cv=("Mon CV.docx", data, careers.DOCX)).status_code
        == 303
    )
    with site.app.engine.connect() as connection:
        document = connection.execute(select(DocumentRow.__table__)).mappings().one()
    candidacy, number = document["candidacy_id"], document["id"]
    url = f"/candidacies/{candidacy}/documents/{number}"
    service = site.vacancy(OPEN).service
    other = next(s.code for s in site.drive.services if s.code != service)

    anonymous = site.browser().get(url)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")

    recruiter = site.browser()
    signed_in(recruiter, make_user(site.app, "rita", "recruiter", services=(service,)))
    page = recruiter.get(f"/candidacies/{candidacy}")
    assert page.status_code == 200
    assert f'href="{url}"' in page.text
    assert "Mon CV.docx" in page.text
    file = recruiter.get(url)
    assert file.status_code == 200
    assert file.content == data
    assert file.headers["content-type"].startswith(careers.DOCX)
    assert "attachment" in file.headers["content-disposition"]
    assert file.headers["x-content-type-options"] == "nosniff"
    assert recruiter.get(f"/candidacies/{candidacy}/documents/{number + 1}").status_code == 404

    outsider = site.browser()
    signed_in(outsider, make_user(site.app, "otto", "recruiter", services=(other,)))
    assert outsider.get(url).status_code == 404


def test_an_access_export_copies_the_cv_privately_and_erasure_deletes_it(
    site: Site, tmp_path: Path
) -> None:
    """The CV is the person's data: copied into their access export, gone with their erasure."""
    data = pdf_bytes()
    client, csrf = open_form(site)
    assert (
        send(client, application(site, csrf), cv=("CV Amélie.pdf", data, careers.PDF)).status_code
        == 303
    )
    with site.app.engine.connect() as connection:
        document = connection.execute(select(DocumentRow.__table__)).mappings().one()
        key = connection.execute(select(CandidateRow.__table__.c.key)).scalar_one()
    stored = site.uploads / document["stored_name"]

    json_path, _html = privacy.write_access_export(site.app, key, tmp_path / "export")
    exported = json.loads(json_path.read_text(encoding="utf-8"))["documents"]
    assert [(d["filename"], d["sha256"]) for d in exported] == [
        ("CV Amélie.pdf", hashlib.sha256(data).hexdigest())
    ]
    assert "stored_name" not in exported[0], "where ATS keeps the file is not the person's data"
    copy = tmp_path / "export" / exported[0]["file"]
    assert copy.read_bytes() == data
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600

    site.app.handle(
        FireTrigger(
            candidacy_id=document["candidacy_id"],
            trigger="withdraw",
            actor=f"candidate:{key}",
            role="candidate",
            reason="found another job",
        )
    )
    erasure = privacy.erase(site.app, key, reason="asked to be forgotten", actor="admin:test")
    assert erasure.documents == 1
    assert erasure.document_file_errors == []
    assert not stored.exists()
    with site.app.engine.connect() as connection:
        assert (
            connection.execute(select(func.count()).select_from(DocumentRow.__table__)).scalar_one()
            == 0
        )
    assert verify(site.app).ok
