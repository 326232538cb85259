"""The careers site's pure parts: file sniffing, address hints, steps, JobPosting, the drive file.

No database: the service functions tested here take plain values (bytes, an
address, a workflow definition, a vacancy mapping), and the drive file is read
from small YAML files under pytest's ``tmp_path``. Expected lines in the drive
file's messages are computed from the text (the line holding a marker), never
typed in as numbers.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import zipfile
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.adapters.drive_file import read_hiring_drive
from ats.adapters.workflow_files import read_workflow_file
from ats.domain.drive import EMPLOYMENT_TYPES
from ats.domain.workflow import LANGUAGES, Catalog, WorkflowDefinition
from ats.errors import ConfigurationError
from ats.service import careers
from ats.service.careers import (
    COMMON_DOMAINS,
    DOCX,
    KNOWN_DOMAINS,
    PDF,
    job_posting,
    size_text,
    sniff,
    steps,
)
from ats.service.setup import read_workflows
from ats.settings import Settings

HOME = Path(__file__).resolve().parents[2]
FAILURES = ("rejected", "withdrawn")  # the states a candidacy ends in without being hired


# -- files a candidate may send (the integration tests use these too) ---------------------------


def pdf_bytes(text: str = "Curriculum vitae") -> bytes:
    """A small but complete PDF: one page showing ``text``, with a correct cross-reference table."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
RELATIONSHIPS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/>'
    "</Relationships>"
)


def document_xml(text: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>"
    )


def zip_bytes(members: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def docx_bytes(text: str = "Curriculum vitae") -> bytes:
    """A minimal Word document: the package parts Word itself needs to open it."""
    return zip_bytes(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "_rels/.rels": RELATIONSHIPS,
            "word/document.xml": document_xml(text),
        }
    )


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(240) + b"PE\x00\x00"


# -- sniff -------------------------------------------------------------------------------------


def test_a_pdf_is_recognised_by_its_content() -> None:
    assert sniff(pdf_bytes()) == PDF


def test_a_docx_is_recognised_by_its_content() -> None:
    assert sniff(docx_bytes()) == DOCX


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (EXE, "a Windows program"),
        (b"", "nothing"),
        (b"%PD", "the start of a PDF header only"),
        (b"Curriculum vitae\n", "plain text"),
        (
            zip_bytes({"[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": RELATIONSHIPS}),
            "a zip without word/document.xml",
        ),
        (zip_bytes({"word/document.xml": document_xml("cv")}), "no [Content_Types].xml"),
        (
            zip_bytes(
                {
                    "[Content_Types].xml": CONTENT_TYPES.replace(
                        "wordprocessingml", "spreadsheetml"
                    ),
                    "word/document.xml": document_xml("cv"),
                }
            ),
            "content types of another Office format",
        ),
        (zip_bytes({"cv.txt": "Curriculum vitae"}), "an ordinary zip"),
        (docx_bytes()[: len(docx_bytes()) // 2], "a docx cut in half"),
        (docx_bytes()[:-30], "a docx without the end of its central directory"),
        (b"PK\x03\x04" + bytes(range(256)) * 4, "a zip signature followed by garbage"),
        (
            zip_bytes(
                {
                    "[Content_Types].xml": CONTENT_TYPES + " " * (65 * 1024),
                    "word/document.xml": document_xml("cv"),
                }
            ),
            "a [Content_Types].xml larger than any real one (not inflated)",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_anything_else_is_refused(data: bytes, why: str) -> None:
    assert sniff(data) is None, why


def test_a_corrupt_member_of_a_docx_is_refused() -> None:
    """A damaged deflate stream in [Content_Types].xml: refused like any other broken file."""
    good = bytearray(docx_bytes())
    start = good.index(b"[Content_Types].xml") + len(b"[Content_Types].xml")
    good[start + 5] ^= 0xFF
    assert sniff(bytes(good)) is None


def test_the_name_of_a_file_never_decides() -> None:
    """sniff takes bytes only: a PDF is a PDF whatever it is called, an exe is refused as cv.pdf."""
    assert sniff(pdf_bytes()) == PDF
    assert sniff(EXE) is None


# -- suggestion --------------------------------------------------------------------------------

LOCAL = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,19}", fullmatch=True)
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789.-"


@settings(database=None, deadline=None, max_examples=200)
@given(local=LOCAL, domain=st.sampled_from(COMMON_DOMAINS), upper=st.booleans())
def test_an_address_at_a_common_domain_gets_no_hint(local: str, domain: str, upper: bool) -> None:
    assert careers.suggestion(f"{local}@{domain.upper() if upper else domain}") is None


@st.composite
def typo(draw: st.DrawFn, domain: str) -> str:
    """One slip of the finger: a letter replaced, left out, or swapped with the next one."""
    kind = draw(st.sampled_from(["substitution", "deletion", "transposition"]))
    if kind == "transposition":
        i = draw(st.integers(0, len(domain) - 2))
        typed = domain[:i] + domain[i + 1] + domain[i] + domain[i + 2 :]
    else:
        i = draw(st.integers(0, len(domain) - 1))
        letter = draw(st.sampled_from(ALPHABET)) if kind == "substitution" else ""
        typed = domain[:i] + letter + domain[i + 1 :]
    return typed


SLIPPED = ["gmail.com", "hotmail.com", "telenet.be"]


@settings(database=None, deadline=None, max_examples=300)
@given(local=LOCAL, data=st.data(), domain=st.sampled_from(SLIPPED))
def test_a_one_letter_slip_in_a_common_domain_gets_it_back(
    local: str, data: st.DataObject, domain: str
) -> None:
    typed = data.draw(typo(domain).filter(lambda t: t != domain and t not in KNOWN_DOMAINS))
    assert careers.suggestion(f"{local}@{typed}") == f"{local}@{domain}"


def one_letter_slips(domain: str) -> set[str]:
    found = {domain[:i] + domain[i + 1 :] for i in range(len(domain))}
    found |= {domain[:i] + c + domain[i + 1 :] for i in range(len(domain)) for c in ALPHABET}
    found |= {
        domain[:i] + domain[i + 1] + domain[i] + domain[i + 2 :] for i in range(len(domain) - 1)
    }
    return found - {domain} - KNOWN_DOMAINS  # a real provider's domain is never corrected


@pytest.mark.parametrize("domain", SLIPPED)
def test_every_one_letter_slip_gets_the_domain_back(domain: str) -> None:
    """The property above, exhaustively: all ~400 slips of each domain."""
    wrong = {
        typed: careers.suggestion(f"jan@{typed}")
        for typed in sorted(one_letter_slips(domain))
        if careers.suggestion(f"jan@{typed}") != f"jan@{domain}"
    }
    assert wrong == {}


@pytest.mark.parametrize("typed", ["hmail.com", "omail.com", "tmail.com"])
def test_a_slip_gets_the_nearest_domain_back(typed: str) -> None:
    """One letter from gmail.com, two from hotmail.com: the nearer one is meant."""
    assert careers.suggestion(f"jan@{typed}") == "jan@gmail.com"


@pytest.mark.parametrize(
    "domain", ["ymail.com", "mail.com", "hotmail.nl", "outlook.fr", "yahoo.de"]
)
def test_a_real_mail_domain_gets_no_hint(domain: str) -> None:
    assert careers.suggestion(f"applicant@{domain}") is None


@pytest.mark.parametrize(
    "domain",
    [
        "example.be",
        "fgov.be",
        "ibz.fgov.be",
        "fedasil.be",
        "kuleuven.be",
        "ugent.be",
        "uclouvain.be",
    ],
)
def test_an_unrelated_domain_gets_no_hint(domain: str) -> None:
    assert careers.suggestion(f"applicant@{domain}") is None


def test_the_hint_keeps_the_local_part_as_typed() -> None:
    assert careers.suggestion("Jan.Peeters+jobs@gmial.com") == "Jan.Peeters+jobs@gmail.com"
    assert careers.suggestion("no-at-sign") is None
    assert careers.suggestion("@gmial.com") is None


# -- steps -------------------------------------------------------------------------------------


def real_workflows() -> list[WorkflowDefinition]:
    settings_ = Settings(home=HOME, database_url="sqlite://")
    return read_workflows(settings_, read_hiring_drive(settings_.hiring_drive_file))


@pytest.mark.parametrize("definition", real_workflows(), ids=lambda d: d.name)
def test_steps_run_from_the_initial_state_to_a_success(definition: WorkflowDefinition) -> None:
    for language in LANGUAGES:
        labels = steps(definition, language)
        by_label: dict[str, list[str]] = {}  # a step is the state's public text (else its label)
        for name, state in definition.states.items():
            shown = state.public.get(language) or state.label[language]
            by_label.setdefault(shown, []).append(name)
        assert all(len(by_label[label]) == 1 for label in labels), "a label names two states"
        names = [by_label[label][0] for label in labels]
        assert names[0] == definition.initial_state
        last = definition.states[names[-1]]
        assert last.final, f"{definition.name}: the steps end at {names[-1]}, not a final state"
        assert names[-1] not in FAILURES
        assert len(set(names)) == len(names), f"{definition.name}: a state twice in {names}"
        # each step leads to the next by a transition of the workflow
        for source, dest in itertools.pairwise(names):
            assert any(
                source in spec.sources and spec.dest == dest for spec in definition.transitions
            ), f"{definition.name}: no transition {source} -> {dest}"


def state(name: str, text: str, *, initial: bool = False, final: bool = False) -> str:
    flags = "    initial: true\n" if initial else "    final: true\n" if final else ""
    words = f"{{nl: {text}, fr: {text}, de: {text}, en: {text}}}"
    return f"  {name}:\n{flags}    label: {words}\n    public: {words}\n"


def transition(trigger: str, sources: str, dest: str) -> str:
    return f"  - trigger: {trigger}\n    from: {sources}\n    to: {dest}\n    roles: [recruiter]\n"


def workflow_file(tmp_path: Path, states: list[str], transitions: list[str]) -> WorkflowDefinition:
    """A small workflow; transitions are listed in the order given (steps must not care)."""
    text = (
        "name: sample\njob_function: sample_function\ndescription: For steps.\nfacts: {}\n"
        "states:\n" + "".join(states) + "transitions:\n" + "".join(transitions)
    )
    path = tmp_path / "sample.yaml"
    path.write_text(text, encoding="utf-8")
    return read_workflow_file(path, Catalog(job_functions=frozenset({"sample_function"})))


SAMPLE_STATES = [
    state("applied", "Received", initial=True),
    state("screened", "Screened"),
    state("offer", "Offer"),
    state("hired", "Hired", final=True),
    state("declined", "Declined", final=True),
    state("rejected", "Rejected", final=True),
    state("withdrawn", "Withdrawn", final=True),
]


def test_steps_leave_out_withdrawal_and_rejection_listed_first(tmp_path: Path) -> None:
    definition = workflow_file(
        tmp_path,
        SAMPLE_STATES,
        [
            transition("withdraw", "[applied, screened, offer]", "withdrawn"),
            transition("reject", "[applied, screened]", "rejected"),
            transition("screen", "applied", "screened"),
            transition("offer", "screened", "offer"),
            transition("hire", "offer", "hired"),
            transition("decline", "offer", "declined"),
        ],
    )
    assert steps(definition, "en") == ["Received", "Screened", "Offer", "Hired"]


def test_steps_end_in_the_success_whatever_order_the_endings_are_listed_in(
    tmp_path: Path,
) -> None:
    definition = workflow_file(
        tmp_path,
        SAMPLE_STATES,
        [
            transition("screen", "applied", "screened"),
            transition("offer", "screened", "offer"),
            transition("decline", "offer", "declined"),
            transition("hire", "offer", "hired"),
            transition("reject", "[applied, screened]", "rejected"),
            transition("withdraw", "[applied, screened, offer]", "withdrawn"),
        ],
    )
    assert steps(definition, "en") == ["Received", "Screened", "Offer", "Hired"]


# -- job_posting -------------------------------------------------------------------------------


def hand_made(**changes: Any) -> dict[str, Any]:
    vacancy: dict[str, Any] = {
        "code": "SRV-FUN-W9",
        "title": "Case <worker> & friend",
        "service_name": "Federal Service",
        "service_url": "https://service.example.be",
        "opens_on": date(2021, 7, 16),
        "closes_on": date(2021, 8, 6),
        "employment_type": "PART_TIME",
        "target": 12,
        "place": {
            "street": "Rue Haute 1",
            "postal_code": "1000",
            "locality": "Brussels",
            "region": "Brussels-Capital Region",
        },
        "description": ["What the job is.", "Where: <centres>."],
        "requirements": ["A degree", "Dutch & French"],
    }
    return {**vacancy, **changes}


def test_job_posting_has_what_search_engines_read() -> None:
    url = "https://jobs.example.be/jobs/en/SRV-FUN-W9"
    posting = job_posting(hand_made(), url=url, language="en")
    assert posting["@context"] == "https://schema.org/"
    assert posting["@type"] == "JobPosting"
    assert posting["title"] == "Case <worker> & friend"  # JSON text, escaped by the page
    assert posting["description"] == (
        "<p>What the job is.</p><p>Where: &lt;centres&gt;.</p>"
        "<ul><li>A degree</li><li>Dutch &amp; French</li></ul>"
    )
    assert posting["identifier"] == {
        "@type": "PropertyValue",
        "name": "Federal Service",
        "value": "SRV-FUN-W9",
    }
    assert posting["datePosted"] == "2021-07-16"
    assert posting["validThrough"] == "2021-08-06T23:59:59+02:00"  # summer time in Brussels
    assert posting["employmentType"] == "PART_TIME"
    assert posting["hiringOrganization"] == {
        "@type": "Organization",
        "name": "Federal Service",
        "sameAs": "https://service.example.be",
    }
    assert posting["jobLocation"] == {
        "@type": "Place",
        "address": {
            "@type": "PostalAddress",
            "streetAddress": "Rue Haute 1",
            "postalCode": "1000",
            "addressLocality": "Brussels",
            "addressRegion": "Brussels-Capital Region",
            "addressCountry": "BE",
        },
    }
    assert posting["directApply"] is True
    assert posting["url"] == url
    assert posting["inLanguage"] == "en"
    assert posting["totalJobOpenings"] == 12
    assert "baseSalary" not in posting  # recommended only; the drive has no salaries
    json.dumps(posting)  # plain JSON values only


def test_valid_through_follows_the_utc_offset_of_the_closing_day() -> None:
    url = "https://jobs.example.be/jobs/en/SRV-FUN-W9"
    winter = job_posting(hand_made(closes_on=date(2021, 12, 17)), url=url, language="en")
    assert winter["validThrough"] == "2021-12-17T23:59:59+01:00"
    elsewhere = job_posting(hand_made(), url=url, language="en", zone=ZoneInfo("America/New_York"))
    assert elsewhere["validThrough"] == "2021-08-06T23:59:59-04:00"


def test_job_posting_leaves_out_what_the_vacancy_does_not_have() -> None:
    posting = job_posting(
        hand_made(
            closes_on=None,
            target=None,
            service_url=None,
            description=[],
            requirements=[],
            place={"street": "Rue Haute 1", "postal_code": "1000", "locality": "Brussels"},
        ),
        url="https://jobs.example.be/jobs/fr/SRV-FUN-W9",
        language="fr",
    )
    assert "validThrough" not in posting  # open until the posts are filled
    assert "totalJobOpenings" not in posting
    assert "sameAs" not in posting["hiringOrganization"]
    assert "addressRegion" not in posting["jobLocation"]["address"]
    assert posting["description"] == "Case &lt;worker&gt; &amp; friend"  # never empty
    assert posting["inLanguage"] == "fr"


# -- size_text ---------------------------------------------------------------------------------


# A limit as the form says it: a number of MB, the unit in the message around it.
@pytest.mark.parametrize(
    ("size", "text"),
    [
        (5 * 1024 * 1024, "5"),
        (1024 * 1024, "1"),
        (10 * 1024 * 1024, "10"),
        (512 * 1024, "0.5"),
        (1536 * 1024, "1.5"),
        (64 * 1024, "0.0625"),
    ],
)
def test_size_text(size: int, text: str) -> None:
    assert size_text(size) == text


def test_the_default_cv_limit_reads_as_5_mb() -> None:
    limit = Settings(home=HOME, database_url="sqlite://").cv_max_kb * 1024
    assert careers.MESSAGES["cv_size"].format(size=size_text(limit)) == (
        "The file is larger than 5 MB."
    )


@settings(database=None, deadline=None)
@given(kb=st.integers(min_value=1, max_value=100 * 1024))
def test_size_text_is_the_limit_to_within_rounding(kb: int) -> None:
    shown = float(size_text(kb * 1024))
    assert abs(shown - kb / 1024) <= kb / 1024 * 0.005 + 1e-12  # three significant digits


def test_a_small_limit_never_reads_as_zero() -> None:
    assert float(size_text(4 * 1024)) > 0


# -- read_hiring_drive: the careers keys -------------------------------------------------------

WORDS = "{nl: X, fr: X, de: X, en: X}"
DRIVE = f"""\
drive:
  code: test-drive
  title: {WORDS}
services:
  - code: SRV
    name: {WORDS}
    short: {WORDS}
    url: https://service.example.be
    address:
      street: Rue Haute 1
      postal_code: "1000"
      locality: Brussels
      region: Brussels-Capital Region
  - code: NOADDR
    name: {WORDS}
    short: {WORDS}
job_functions:
  - code: fun
    workflow: fun-flow
    title: {WORDS}
    description: {{nl: Werk, fr: Travail, de: Arbeit, en: Work}}
    requirements:
      nl: [Diploma]
      fr: [Diplôme]
      de: [Abschluss]
      en: [Degree]
waves:
  - code: W1
    number: 1
    opens_on: 2021-06-28
    closes_on: 2021-07-19
    title: {WORDS}
  - code: W3
    number: 3
    opens_on: 2021-09-01
    title: {WORDS}
vacancies:
  - code: DEFAULTS
    service: SRV
    job_function: fun
    wave: W1
    track: null
    target: 5
    title: {WORDS}
  - code: OWN
    service: SRV
    job_function: fun
    wave: W1
    track: null
    target: null
    title: {WORDS}
    opens_on: 2021-07-01
    closes_on: 2021-07-31
    employment_type: TEMPORARY
    place: {{street: Kerkstraat 2, postal_code: 9000, locality: Gent}}
    description: {{nl: Meer, fr: Plus, de: Mehr, en: More}}
  - code: OPEN-ENDED
    service: NOADDR
    job_function: fun
    wave: W3
    track: null
    target: null
    title: {WORDS}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hiring-drive.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_with(text: str, marker: str) -> int:
    numbers = [n for n, line in enumerate(text.splitlines(), start=1) if marker in line]
    assert len(numbers) == 1, f"{marker!r} is on {len(numbers)} lines"
    return numbers[0]


def test_the_new_keys_are_read_and_defaults_resolved(tmp_path: Path) -> None:
    drive = read_hiring_drive(write(tmp_path, DRIVE))
    service = next(s for s in drive.services if s.code == "SRV")
    assert service.url == "https://service.example.be"
    assert service.address == {
        "street": "Rue Haute 1",
        "postal_code": "1000",
        "locality": "Brussels",
        "region": "Brussels-Capital Region",
    }
    assert next(s for s in drive.services if s.code == "NOADDR").address is None
    (function,) = drive.job_functions
    assert function.description == {"nl": "Werk", "fr": "Travail", "de": "Arbeit", "en": "Work"}
    assert function.requirements == {
        "nl": ["Diploma"],
        "fr": ["Diplôme"],
        "de": ["Abschluss"],
        "en": ["Degree"],
    }
    waves = {w.code: w for w in drive.waves}
    assert waves["W1"].closes_on == date(2021, 7, 19)
    assert waves["W3"].closes_on is None
    vacancies = {v.code: v for v in drive.vacancies}

    defaults = vacancies["DEFAULTS"]  # everything from its wave and its service
    assert (defaults.opens_on, defaults.closes_on) == (date(2021, 6, 28), date(2021, 7, 19))
    assert defaults.place == service.address
    assert defaults.employment_type == "FULL_TIME"
    assert defaults.description is None

    own = vacancies["OWN"]  # its own values win
    assert (own.opens_on, own.closes_on) == (date(2021, 7, 1), date(2021, 7, 31))
    assert own.place == {"street": "Kerkstraat 2", "postal_code": "9000", "locality": "Gent"}
    assert own.employment_type == "TEMPORARY"
    assert own.description == {"nl": "Meer", "fr": "Plus", "de": "Mehr", "en": "More"}

    open_ended = vacancies["OPEN-ENDED"]
    assert (open_ended.opens_on, open_ended.closes_on) == (date(2021, 9, 1), None)
    assert open_ended.place is None  # a service without an address gives none


def test_every_employment_type_is_accepted(tmp_path: Path) -> None:
    for kind in EMPLOYMENT_TYPES:
        text = replace_once(DRIVE, "employment_type: TEMPORARY", f"employment_type: {kind}")
        drive = read_hiring_drive(write(tmp_path, text))
        assert next(v for v in drive.vacancies if v.code == "OWN").employment_type == kind


def test_the_real_drive_file_resolves_every_vacancy() -> None:
    """config/hiring-drive.yaml: every vacancy has dates and a full address once read."""
    drive = read_hiring_drive(HOME / "config" / "hiring-drive.yaml")
    for v in drive.vacancies:
        assert v.opens_on is not None, v.code
        assert v.closes_on is None or v.closes_on >= v.opens_on, v.code
        assert v.place, v.code
        assert {"street", "postal_code", "locality"} <= set(v.place), v.code
        assert v.employment_type in EMPLOYMENT_TYPES, v.code


BAD = [
    pytest.param(
        ("    closes_on: 2021-07-31", "    closes_on: 2021-06-30  # <-"),
        "vacancies[1].closes_on",
        "is before opens_on",
        id="vacancy-closes-before-it-opens",
    ),
    pytest.param(
        ("    closes_on: 2021-07-19", "    closes_on: 2021-06-01  # <-"),
        "waves[0].closes_on",
        "is before opens_on",
        id="wave-closes-before-it-opens",
    ),
    pytest.param(
        ("employment_type: TEMPORARY", "employment_type: SOMETIMES  # <-"),
        "vacancies[1].employment_type",
        "choose one of FULL_TIME",
        id="bad-employment-type",
    ),
    pytest.param(
        ("      de: [Abschluss]\n", ""),
        "job_functions[0].requirements",
        "needs a non-empty list of texts in each of nl, fr, de, en",
        id="requirements-missing-a-language",
        marks=[],
    ),
    pytest.param(
        ('      postal_code: "1000"\n', ""),
        "services[0].address",
        "expected street, postal_code, locality",
        id="address-missing-postal-code",
    ),
    pytest.param(
        (
            "    place: {street: Kerkstraat 2, postal_code: 9000, locality: Gent}",
            "    place: {street: Kerkstraat 2, locality: Gent}  # <-",
        ),
        "vacancies[1].place",
        "expected street, postal_code, locality",
        id="place-missing-postal-code",
    ),
    pytest.param(
        ("    opens_on: 2021-07-01", '    opens_on: "2021-02-30"  # <-'),
        "vacancies[1].opens_on",
        "expected a date YYYY-MM-DD",
        id="impossible-date-quoted",
    ),
    pytest.param(
        ("    opens_on: 2021-07-01", "    opens_on: 1 July  # <-"),
        "vacancies[1].opens_on",
        "expected a date YYYY-MM-DD",
        id="vacancy-date-not-a-date",
    ),
    pytest.param(
        ("    closes_on: 2021-07-19", "    closes_on: soon  # <-"),
        "waves[0].closes_on",
        "expected a date YYYY-MM-DD",
        id="wave-date-not-a-date",
    ),
]
# Where the removed line was: the problem is reported on the key that holds it.
MARKER_FOR_REMOVED = {
    "job_functions[0].requirements": "    requirements:",
    "services[0].address": "    address:",
}


@pytest.mark.parametrize(("change", "where", "message"), BAD)
def test_each_bad_value_is_reported_with_its_line_and_key(
    tmp_path: Path, change: tuple[str, str], where: str, message: str
) -> None:
    old, new = change
    text = replace_once(DRIVE, old, new)
    path = write(tmp_path, text)
    marker = "# <-" if "# <-" in new else MARKER_FOR_REMOVED[where]
    line = line_with(text, marker)
    with pytest.raises(ConfigurationError) as raised:
        read_hiring_drive(path)
    reported = str(raised.value)
    assert f"{path}:{line}: {where}: {message}" in reported, reported
    # Only that problem; a wave's bad closing date is also every vacancy's that inherits it.
    also = 1 if where == "waves[0].closes_on" and message == "is before opens_on" else 0
    assert len(re.findall(r"^  \S", reported, flags=re.MULTILINE)) == 1 + also, reported


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = replace_once(DRIVE, "employment_type: TEMPORARY", "employment_type: SOMETIMES")
    text = replace_once(text, "    opens_on: 2021-07-01", "    opens_on: someday")
    with pytest.raises(ConfigurationError) as raised:
        read_hiring_drive(write(tmp_path, text))
    assert "vacancies[1].employment_type" in str(raised.value)
    assert "vacancies[1].opens_on" in str(raised.value)


def test_a_date_with_a_time_is_reported_not_a_crash(tmp_path: Path) -> None:
    text = replace_once(
        DRIVE, "    closes_on: 2021-07-19", "    closes_on: 2021-07-19 12:00:00  # <-"
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as raised:
        read_hiring_drive(path)
    assert f"{path}:{line_with(text, '# <-')}: waves[0].closes_on" in str(raised.value)


def test_an_impossible_unquoted_date_is_reported_not_a_crash(tmp_path: Path) -> None:
    text = replace_once(DRIVE, "    opens_on: 2021-07-01", "    opens_on: 2021-02-30  # <-")
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as raised:
        read_hiring_drive(path)
    assert f"{path}:{line_with(text, '# <-')}" in str(raised.value)
