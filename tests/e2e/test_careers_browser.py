"""Visitors use the public careers site (/jobs) in a real browser (Debian's chromium via Playwright).

One `ats serve` (web, API and worker, so the outbox relay delivers mail into a folder) per
database kind, on a copy of the hiring drive whose wave 2 (the Fedasil vacancies) and one
wave-1 vacancy (whose form asks a yes/no fact) close in the future: `ats serve` runs on the
real clock, and the drive's own dates are in 2021. The pages are found by their roles and
labels (which also proves the labels are wired) in the words of ats/web/careers.toml,
scanned with axe-core, and what the visitor did is checked in the mail folder, on the
recruiters' board and through the CLI. CVs go to a temporary ATS_UPLOADS_DIR.

The two tests at the end check accessibility problems found while the site was built.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from ruamel.yaml import YAML

from ats.web.translations import translator
from tests.conftest import REPO, fresh_database
from tests.e2e.conftest import Ats, served
from tests.e2e.test_browser import (  # skips this module too when chromium is missing
    MAIL_WAIT,
    _free_port,
    column,
    delivered_to,
    sign_in,
)

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
)
axe_sync = pytest.importorskip(
    "axe_playwright_python.sync_playwright",
    reason="axe-playwright-python is not installed: pip install -e '.[dev]'",
)
expect = sync_api.expect

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

SOURCE_DRIVE = REPO / "config" / "hiring-drive.yaml"
VACANCY = "FEDASIL-SOC-W2"  # wave 2: social assistants at Fedasil
OPENED_WAVE = "W2"
BOOLEAN_VACANCY = "DVZ-RET-W1"  # its form asks a yes/no fact (driving licence): radio buttons
CLOSES = date.today() + timedelta(days=365)  # the real clock's today, as `ats serve` sees it
SUMMER_VACANCY = "FEDASIL-PSY-W2"  # closes on a summer day: Brussels is then UTC+2
SUMMER_CLOSES = date(CLOSES.year + 1, 7, 15)
ZONE = ZoneInfo("Europe/Brussels")  # Settings.timezone
RECRUITER, PASSWORD = "fanny", "correct horse battery staple"
APPLICANT = "Amélie Lefèvre"
APPLICANT_EMAIL = "amelie.lefevre@example.org"
LANGUAGES = ("fr", "en", "nl", "de")
SERIOUS = {"serious", "critical"}


def _tiny_pdf() -> bytes:
    """A real one-page PDF (with a correct cross-reference table), about 600 bytes."""
    stream = b"BT /F1 18 Tf 72 720 Td (Curriculum vitae) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


PDF = _tiny_pdf()


def words(language: str) -> Callable[[str], str]:
    """The careers site's words in ``language`` (English is the key and the fallback)."""
    return translator(language, "careers.toml")


def open_drive_copy(source: Path, target: Path) -> dict[str, Any]:
    """Copy the drive with wave 2 (and BOOLEAN_VACANCY) closing on CLOSES; return its content.

    A vacancy's own closes_on wins over its wave's, so wave 2's vacancies lose theirs,
    but SUMMER_VACANCY, which closes on SUMMER_CLOSES.
    """
    yaml = YAML()  # round trip: the copy keeps the comments and the layout
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    drive = yaml.load(source.read_text(encoding="utf-8"))
    waves = [w for w in drive["waves"] if w["code"] == OPENED_WAVE]
    assert waves, f"{source} has no wave {OPENED_WAVE}"
    waves[0]["closes_on"] = CLOSES
    codes = {v["code"] for v in drive["vacancies"]}
    wanted = {VACANCY, BOOLEAN_VACANCY, SUMMER_VACANCY}
    assert wanted <= codes, f"{source} lost some of {sorted(wanted)}"
    for v in drive["vacancies"]:
        if v["wave"] == OPENED_WAVE:
            v.pop("closes_on", None)
        if v["code"] == BOOLEAN_VACANCY:
            v["closes_on"] = CLOSES
        if v["code"] == SUMMER_VACANCY:
            v["closes_on"] = SUMMER_CLOSES
    with target.open("w", encoding="utf-8") as out:
        yaml.dump(drive, out)
    return dict(drive)


def vacancy_of(drive: dict[str, Any], code: str) -> dict[str, Any]:
    return dict(next(v for v in drive["vacancies"] if v["code"] == code))


def workflow_of(drive: dict[str, Any], code: str) -> dict[str, Any]:
    """The workflow file of a vacancy's job function, as data."""
    function = vacancy_of(drive, code)["job_function"]
    name = next(f["workflow"] for f in drive["job_functions"] if f["code"] == function)
    return dict(YAML(typ="safe").load((REPO / "workflows" / f"{name}.yaml").read_text("utf-8")))


@dataclass
class Site:
    """A served ATS on one database, with its mail and uploads folders and its drive copy."""

    kind: str
    base: str
    cli: Ats
    mail: Path
    uploads: Path
    drive: dict[str, Any]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite only: the careers pages are the same on PostgreSQL, which
    tests/integration/test_careers.py covers (CI time is kept for what differs)."""
    with fresh_database("sqlite", tmp_path_factory.mktemp("careers-db")) as url:
        yield url


@pytest.fixture(scope="module")
def site(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`ats serve` with its worker on the opened drive copy; stopped at the end of the module."""
    kind = "sqlite" if database.startswith("sqlite") else "postgresql"
    folder = tmp_path_factory.mktemp(f"careers-{kind}")
    drive = open_drive_copy(SOURCE_DRIVE, folder / "hiring-drive.yaml")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cli = Ats(database)
    cli.env.update(
        ATS_HIRING_DRIVE=str(folder / "hiring-drive.yaml"),
        ATS_UPLOADS_DIR=str(folder / "uploads"),  # no CV written under the repo's var/
        ATS_MAIL_TRANSPORT="maildir",
        ATS_MAIL_DIR=str(folder / "mail"),
        ATS_PUBLIC_URL=base,  # the status links in mails point at this server
        ATS_SECRET_KEY=f"careers-test-{uuid.uuid4().hex}",  # nothing written under var/
        ATS_WORKER_RELAY_SECONDS="1",
        ATS_APPLY_POSTS_PER_HOUR="100",  # every test posts from 127.0.0.1; ~15 posts a run
    )
    cli("init")
    user = [RECRUITER, "--name", "Fanny Fedasil", "--role", "recruiter", "--service", "FEDASIL"]
    cli("user", "create", *user, "--language", "en", "--password-stdin", stdin=PASSWORD + "\n")

    with served(cli, port, folder / "serve.log"):
        yield Site(kind, base, cli, folder / "mail", folder / "uploads", drive)


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    return new_page()


# -- helpers ---------------------------------------------------------------------------------


def serious_violations(page: Page, where: str) -> None:
    """Fail on any axe-core violation of impact serious or critical; name the others."""
    violations = axe_sync.Axe().run(page).response["violations"]
    bad = [v for v in violations if v.get("impact") in SERIOUS]
    others = sorted(f"{v['id']} ({v.get('impact')})" for v in violations if v not in bad)
    assert not bad, (
        f"{where}: axe-core found serious problems:\n"
        + "\n".join(
            f"- {v['id']} ({v['impact']}): {v['help']}\n  "
            + "\n  ".join(n["html"] for n in v["nodes"][:5])
            for v in bad
        )
        + f"\nand below serious: {others or 'none'}"
    )
    if violations:  # shown with -s / -rA: what the owner may still want to look at
        print(f"{where}: axe-core below serious: {sorted(v['id'] for v in violations)}")


def count_text(say: Callable[[str], str], n: int) -> str:
    """What the list says about how many vacancies it shows (careers_list.html)."""
    return say("1 vacancy") if n == 1 else say("{n} vacancies").format(n=n)


def submit_empty(page: Page, language: str, code: str) -> None:
    """Send the application form with nothing filled in; it comes back with the errors."""
    page.goto(f"/jobs/{language}/{code}/apply")
    with page.expect_response(
        lambda r: r.url.endswith(f"/{code}/apply") and r.request.method == "POST"
    ) as answer:
        page.get_by_role("button", name=words(language)("Send my application")).click()
    assert answer.value.status == 422
    expect(page.locator(".error-summary")).to_be_visible()


def focused(page: Page) -> dict[str, str]:
    return dict(
        page.evaluate(
            "() => { const e = document.activeElement;"
            " return {tag: e.tagName.toLowerCase(), id: e.id || '', name: e.name || '',"
            " cls: e.className || '', href: e.getAttribute('href') || ''}; }"
        )
    )


def tab_until(
    page: Page, wanted: Callable[[dict[str, str]], bool], most: int
) -> list[dict[str, str]]:
    """Press Tab until ``wanted(focused element)``, at most ``most`` times; the path taken."""
    path = []
    for _ in range(most):
        page.keyboard.press("Tab")
        path.append(focused(page))
        if wanted(path[-1]):
            return path
    raise AssertionError(f"not reached in {most} Tab presses; focus went {path}")


def described_texts(page: Page, field: Locator) -> list[str]:
    """The text of every element ``field``'s aria-describedby names (each must exist)."""
    ids = (field.get_attribute("aria-describedby") or "").split()
    texts = []
    for ref in ids:
        target = page.locator(f"[id='{ref}']")
        expect(target, f"aria-describedby names #{ref}, which is missing").to_have_count(1)
        texts.append(target.inner_text().strip())
    return texts


# -- the story -------------------------------------------------------------------------------


def test_a_visitor_applies_in_french_and_a_recruiter_sees_the_candidacy(
    site: Site, new_page: Callable[[], Page]
) -> None:
    en, fr = words("en"), words("fr")
    vacancy = vacancy_of(site.drive, VACANCY)
    title = str(vacancy["title"]["fr"])
    workflow = workflow_of(site.drive, VACANCY)
    facts = workflow["facts"]
    asked = list(workflow["application"]["facts"])
    assert asked == ["diploma_level", "diploma_field"], asked
    answers = {"diploma_level": "bachelor", "diploma_field": "social_work"}
    for name, value in answers.items():
        assert value in facts[name]["choices"], (name, facts[name]["choices"])
    fedasil = next(s for s in site.drive["services"] if s["code"] == "FEDASIL")
    published = [v for v in site.drive["vacancies"] if v["service"] == "FEDASIL"]

    # /jobs picks the browser's language (en-GB), then the visitor switches to French.
    page = new_page()
    page.goto("/jobs")
    expect(page).to_have_url(f"{site.base}/jobs/en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    languages = page.get_by_role("navigation", name=en("Language"))
    languages.get_by_role("link", name="Français", exact=True).click()
    expect(page).to_have_url(f"{site.base}/jobs/fr")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    current = page.get_by_role("navigation", name=fr("Language")).get_by_role(
        "link", name="Français"
    )
    expect(current).to_have_attribute("aria-current", "true")
    expect(page.get_by_role("heading", level=1)).to_have_text(fr("Vacancies"))

    # The service filter, then the list of Fedasil's vacancies (titles and dates in French).
    page.get_by_label(fr("Service"), exact=True).select_option(label=str(fedasil["short"]["fr"]))
    page.get_by_role("button", name=fr("Show"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/jobs/fr\?(.+&)?service=FEDASIL(&|$)"))
    expect(page.get_by_label(fr("Service"), exact=True)).to_have_value("FEDASIL")
    expect(page.get_by_role("status")).to_have_text(count_text(fr, len(published)))
    listed = page.locator("ul.vacancies > li")
    expect(listed).to_have_count(len(published))
    for v in published:
        expect(listed.get_by_role("link", name=str(v["title"]["fr"]), exact=True)).to_be_visible()
    item = listed.filter(has=page.get_by_role("link", name=title, exact=True))
    expect(item).to_contain_text(format_date(CLOSES, "long", locale="fr_BE"))
    expect(item).to_contain_text(fr("Open"))

    # The vacancy, its apply link, the form filled in by its labels, and a real PDF.
    item.get_by_role("link", name=title, exact=True).click()
    expect(page).to_have_url(f"{site.base}/jobs/fr/{VACANCY}")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    page.get_by_role("link", name=fr("Apply for this job")).click()
    expect(page).to_have_url(f"{site.base}/jobs/fr/{VACANCY}/apply")
    page.get_by_label(fr("Full name")).fill(APPLICANT)
    page.get_by_label(fr("Email address")).fill(APPLICANT_EMAIL)
    expect(page.get_by_label(fr("Language for our emails"))).to_have_value("fr")  # the page's
    page.get_by_label(fr("Language for our emails")).select_option(label="Français")
    for name in asked:  # chosen by the option's words, which proves they are translated
        field = page.get_by_label(str(facts[name]["label"]["fr"]))
        field.select_option(label=fr(f"choice:{answers[name]}"))
        expect(field).to_have_value(answers[name])
    page.get_by_label(fr("CV (PDF or Word .docx)")).set_input_files(
        files={"name": "cv-amelie.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_role("button", name=fr("Send my application")).click()

    expect(page).to_have_url(f"{site.base}/jobs/fr/{VACANCY}/thanks")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        fr("Thank you: your application has been received")
    )
    expect(page.get_by_role("status")).to_be_visible()
    serious_violations(page, f"/jobs/fr/{VACANCY}/thanks")

    # Opened through the CLI's eyes: one candidacy, in French, with the facts and the CV.
    rows = list(site.cli.json("candidacy", "list", "--vacancy", VACANCY))
    assert [(r["name"], r["state"]) for r in rows] == [(APPLICANT, "applied")], rows
    shown = site.cli.json("candidacy", "show", str(rows[0]["id"]))
    assert shown["candidate"]["email"] == APPLICANT_EMAIL
    assert shown["candidate"]["language"] == "fr"
    assert {k: shown["facts"].get(k) for k in answers} == answers, shown["facts"]
    stored = list(site.uploads.iterdir())
    assert [p.read_bytes() for p in stored] == [PDF], stored  # the CV as sent, nowhere else
    assert stored[0].stat().st_mode & 0o077 == 0, oct(stored[0].stat().st_mode)

    # The confirmation, in French, with a link to the status page on this server.
    mail = delivered_to(site.mail, APPLICANT_EMAIL, timeout=MAIL_WAIT)
    # notifications/fr/application_received.txt: "Candidature reçue – {{ vacancy.title }}"
    assert mail["Subject"] == f"Candidature reçue – {title}", mail["Subject"]
    plain = mail.get_body(("plain",))
    assert plain is not None
    body = str(plain.get_content())
    for said in (
        f"Bonjour {APPLICANT},",
        f"Nous vous remercions pour votre candidature à la fonction {title}.",
        "Vous recevrez un e-mail à chaque étape de la procédure.",
        "Statut de votre candidature :",
        "Avec nos salutations distinguées,",
    ):
        assert said in body, f"{said!r} is not in the mail:\n{body}"
    html = mail.get_body(("html",))
    assert html is not None
    assert '<html lang="fr">' in str(html.get_content())
    links = re.findall(r"https?://\S+/status/[\w.-]+", body)
    assert links, body
    assert links[0].startswith(f"{site.base}/status/"), links
    page.goto(links[0])
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("status")).to_have_text(
        str(workflow["states"]["applied"]["public"]["fr"])
    )

    # The recruiters' board of the vacancy shows the new candidacy; its page has the CV.
    staff = new_page()
    sign_in(staff, RECRUITER, PASSWORD)
    staff.goto(f"/vacancies/{VACANCY}")
    card = column(staff, "applied").get_by_role("link", name=APPLICANT)
    expect(card).to_be_visible()
    card.click()
    expect(staff).to_have_url(re.compile(rf"/candidacies/{rows[0]['id']}$"))
    document = staff.get_by_role("link", name="cv-amelie.pdf")
    href = document.get_attribute("href")
    assert href is not None
    answer = staff.request.get(href)
    assert answer.status == 200
    assert answer.body() == PDF


# -- accessibility ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_careers_pages_have_no_serious_accessibility_problems(
    site: Site, page: Page, language: str
) -> None:
    """axe-core on the list, a vacancy, the form and the form with its errors, per language."""
    for path in (
        f"/jobs/{language}",
        f"/jobs/{language}?service=FEDASIL&status=open",
        f"/jobs/{language}/{VACANCY}",
        f"/jobs/{language}/{VACANCY}/apply",
        f"/jobs/{language}/{BOOLEAN_VACANCY}/apply",
    ):
        response = page.goto(path)
        assert response is not None
        assert response.status == 200, path
        expect(page.locator("html")).to_have_attribute("lang", language)
        serious_violations(page, path)
    for code in (VACANCY, BOOLEAN_VACANCY):
        submit_empty(page, language, code)
        serious_violations(page, f"/jobs/{language}/{code}/apply with errors")


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_form_works_from_the_keyboard(site: Site, page: Page, language: str) -> None:
    """Tab order from the top: skip link, then the page's links, then the name field first."""
    asked = list(workflow_of(site.drive, VACANCY)["application"]["facts"])
    page.goto(f"/jobs/{language}/{VACANCY}/apply")
    first = tab_until(page, lambda e: True, 1)[0]
    assert (first["cls"], first["href"]) == ("skip", "#main"), first
    page.keyboard.press("Enter")  # the skip link moves the focus to the main content
    assert focused(page)["id"] == "main"
    path = tab_until(page, lambda e: e["tag"] in ("input", "select", "button"), 5)
    assert path[-1]["id"] == "name", f"the first control reached by Tab is not the name: {path}"

    # On through the whole form: every control in order, never the hidden honeypot.
    controls = [path[-1]]
    controls += tab_until(page, lambda e: e["tag"] == "button", 20)
    ids = [c["id"] for c in controls if c["tag"] in ("input", "select")]
    facts = [f"fact-{name}" for name in asked]
    assert ids == ["name", "email", "language", "phone", *facts, "cv"], controls
    assert "website" not in [c["id"] for c in controls]


@pytest.mark.parametrize(("language", "code"), [("fr", VACANCY), ("en", BOOLEAN_VACANCY)])
def test_the_form_errors_are_linked_to_their_fields(
    site: Site, page: Page, language: str, code: str
) -> None:
    """The summary's links lead to the fields; each field says it is invalid, and why."""
    submit_empty(page, language, code)
    summary = page.locator(".error-summary")
    expect(summary).to_have_attribute("role", "alert")
    links = summary.get_by_role("link")
    asked = list(workflow_of(site.drive, code)["application"]["facts"])
    expected = ["name", "email", *(f"fact-{name}" for name in asked), "cv"]
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs == [f"#{name}" for name in expected], hrefs

    for i, target in enumerate(expected):
        link = links.nth(i)
        message = link.inner_text().strip()
        assert message, f"the summary link to #{target} says nothing"
        field = page.locator(f"[id='{target}']")
        expect(field, f"the summary links to #{target}, which is missing").to_have_count(1)
        tag = field.evaluate("e => e.tagName.toLowerCase()")
        if tag == "fieldset":  # a yes/no group: the fieldset is described by its error,
            # but neither it nor its radios carry aria-invalid (careers_apply.html's choice)
            expect(field.get_by_role("radio")).to_have_count(2)
        else:
            expect(field).to_have_attribute("aria-invalid", "true")
        # the link names the field, then says what the field's own error says
        assert any(t and message.endswith(t) for t in described_texts(page, field)), (
            target,
            message,
        )
        link.click()  # following the link puts the visitor on the field
        if tag == "fieldset":
            assert page.evaluate("location.hash") == f"#{target}"
        else:
            assert focused(page)["id"] == target
    for valid in ("language", "phone"):  # what was fine is not marked
        expect(page.locator(f"#{valid}")).not_to_have_attribute("aria-invalid", "true")


# -- what search engines read ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "code", "closes"),
    [("fr", VACANCY, CLOSES), ("en", VACANCY, CLOSES), ("fr", SUMMER_VACANCY, SUMMER_CLOSES)],
)
def test_a_vacancy_page_carries_its_job_posting_for_search_engines(
    site: Site, page: Page, language: str, code: str, closes: date
) -> None:
    """The JSON-LD as the browser has it; it ends at midnight in Brussels, summer or winter."""
    vacancy = vacancy_of(site.drive, code)
    fedasil = next(s for s in site.drive["services"] if s["code"] == "FEDASIL")
    wave = next(w for w in site.drive["waves"] if w["code"] == OPENED_WAVE)
    page.goto(f"/jobs/{language}/{code}")
    scripts = page.locator('script[type="application/ld+json"]')
    expect(scripts).to_have_count(1)
    posting = json.loads(scripts.text_content() or "")
    assert posting["@context"].rstrip("/") == "https://schema.org"
    assert posting["@type"] == "JobPosting"
    assert posting["title"] == vacancy["title"][language]
    assert posting["url"] == f"{site.base}/jobs/{language}/{code}"
    assert posting["inLanguage"] == language
    assert posting["identifier"]["value"] == code
    assert posting["hiringOrganization"]["name"] == fedasil["name"][language]
    assert posting["datePosted"] == str(wave["opens_on"])
    end = datetime.combine(closes, time(23, 59, 59), tzinfo=ZONE)
    assert datetime.fromisoformat(posting["validThrough"]) == end, posting["validThrough"]
    assert posting["validThrough"].endswith(end.isoformat()[-6:])  # +01:00 or +02:00
    assert posting["directApply"] is True
    address = posting["jobLocation"]["address"]
    assert (address["addressLocality"], address["addressCountry"]) == (
        fedasil["address"]["locality"],
        "BE",
    )
    assert posting["description"].startswith("<p>")
    expect(page.get_by_role("heading", level=1)).to_have_text(posting["title"])


# -- accessibility problems found while building the site (fixed; kept so they stay fixed) -----


def test_the_error_summary_names_the_field_of_each_link(site: Site, page: Page) -> None:
    submit_empty(page, "en", VACANCY)
    links = page.locator(".error-summary").get_by_role("link")
    expect(links).to_have_count(5)
    for i in range(links.count()):
        target = (links.nth(i).get_attribute("href") or "#")[1:]
        label = page.locator(f"label[for='{target}']").inner_text().rstrip(" *")
        assert label in links.nth(i).inner_text(), (target, links.nth(i).inner_text())


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two CSS colours given as rgb()/rgba() (alpha ignored)."""

    def luminance(css: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"[\d.]+", css)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


BEHIND = """e => {
  for (let n = e.parentElement; n; n = n.parentElement) {
    const bg = getComputedStyle(n).backgroundColor;
    if (bg && bg !== 'transparent' && !bg.startsWith('rgba(0, 0, 0, 0)')) return bg;
  }
  return 'rgb(255, 255, 255)';
}"""


def test_the_focus_outline_stands_out_from_the_page(site: Site, page: Page) -> None:
    weak = []
    for path, label in ((f"/jobs/en/{VACANCY}/apply", "Full name"), ("/jobs/en", "Service")):
        page.goto(path)
        field = page.get_by_label(words("en")(label), exact=label == "Service")
        field.focus()
        outline = field.evaluate("e => getComputedStyle(e).outlineColor")
        behind = field.evaluate(BEHIND)
        if contrast(outline, behind) < 3:
            weak.append(f"{path} {label}: {outline} on {behind}, {contrast(outline, behind):.2f}:1")
    assert not weak, weak
