"""``config/hiring-drive.yaml``: services, job functions, waves and vacancies."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ats.adapters.yaml_files import YamlUnreadable, load_yaml
from ats.domain.drive import EMPLOYMENT_TYPES, HiringDrive, JobFunction, Service, Vacancy, Wave
from ats.domain.workflow import LANGUAGES, line_of
from ats.errors import ConfigurationError, Problem


def read_hiring_drive(path: Path) -> HiringDrive:
    """Parse the drive file; ConfigurationError lists every problem with its line."""
    file = str(path)
    try:
        root = load_yaml(path)
    except YamlUnreadable as exc:
        raise ConfigurationError(str(exc.problem)) from None
    problems: list[Problem] = []

    def problem(node: object, key: object, where: str, message: str) -> None:
        problems.append(Problem(file, line_of(node, key), where, message))

    def items(key: str) -> list[Mapping[str, Any]]:
        value = root.get(key) if isinstance(root, Mapping) else None
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            problem(root, key, key, "expected a list of mappings")
            return []
        return value

    def text(node: Mapping[str, Any], key: str, where: str) -> str:
        value = node.get(key)
        if not isinstance(value, str) or not value:
            problem(node, key, f"{where}.{key}", "is required (text)")
            return ""
        return value

    def words(node: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
        value = node.get(key)
        if not isinstance(value, Mapping) or any(lang not in value for lang in LANGUAGES):
            problem(node, key, f"{where}.{key}", f"needs a text in each of {', '.join(LANGUAGES)}")
            return {}
        return {lang: str(value[lang]) for lang in LANGUAGES}

    def optional_words(node: Mapping[str, Any], key: str, where: str) -> dict[str, str] | None:
        return words(node, key, where) if node.get(key) is not None else None

    def lists(node: Mapping[str, Any], key: str, where: str) -> dict[str, list[str]] | None:
        """Per language, a list of short texts (requirements); optional."""
        value = node.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping) or any(
            not isinstance(value.get(lang), list)
            or not value[lang]
            or not all(isinstance(item, str) and item.strip() for item in value[lang])
            for lang in LANGUAGES
        ):
            problem(
                node,
                key,
                f"{where}.{key}",
                f"needs a non-empty list of texts in each of {', '.join(LANGUAGES)}",
            )
            return None
        return {lang: [str(item).strip() for item in value[lang]] for lang in LANGUAGES}

    def day(node: Mapping[str, Any], key: str, where: str) -> date | None:
        value = node.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = date.fromisoformat(value)
        if not isinstance(value, date) or isinstance(value, datetime):  # a day, not a moment
            problem(node, key, f"{where}.{key}", "expected a date YYYY-MM-DD (or leave it out)")
            return None
        return value

    def url(node: Mapping[str, Any], where: str) -> str | None:
        value = node.get("url")
        if value is None:
            return None
        if not isinstance(value, str) or not value.startswith("https://") or len(value) > 200:
            problem(
                node,
                "url",
                f"{where}.url",
                "expected an https:// address of at most 200 characters",
            )
            return None
        return value

    def address(node: Mapping[str, Any], key: str, where: str) -> dict[str, str] | None:
        value = node.get(key)
        if value is None:
            return None
        parts = ("street", "postal_code", "locality")
        if (
            not isinstance(value, Mapping)
            or any(not isinstance(value.get(p), str | int) or not str(value[p]) for p in parts)
            or any(k not in (*parts, "region") for k in value)
        ):
            problem(
                node, key, f"{where}.{key}", "expected street, postal_code, locality (and region)"
            )
            return None
        return {k: str(v) for k, v in value.items()}

    if not isinstance(root, Mapping):
        raise ConfigurationError(f"{file}: expected a mapping at the top")
    raw_drive = root.get("drive")
    drive: Mapping[str, Any] = raw_drive if isinstance(raw_drive, Mapping) else {}
    services = tuple(
        Service(
            text(s, "code", f"services[{i}]"),
            words(s, "name", f"services[{i}]"),
            words(s, "short", f"services[{i}]"),
            url=url(s, f"services[{i}]"),
            address=address(s, "address", f"services[{i}]"),
        )
        for i, s in enumerate(items("services"))
    )
    functions = tuple(
        JobFunction(
            text(f, "code", f"job_functions[{i}]"),
            text(f, "workflow", f"job_functions[{i}]"),
            words(f, "title", f"job_functions[{i}]"),
            description=optional_words(f, "description", f"job_functions[{i}]"),
            requirements=lists(f, "requirements", f"job_functions[{i}]"),
        )
        for i, f in enumerate(items("job_functions"))
    )
    waves = []
    for i, w in enumerate(items("waves")):
        opens = w.get("opens_on")
        if isinstance(opens, str):
            try:
                opens = date.fromisoformat(opens)
            except ValueError:
                opens = None
        if not isinstance(opens, date) or isinstance(opens, datetime):
            problem(w, "opens_on", f"waves[{i}].opens_on", "expected a date YYYY-MM-DD")
            opens = date.min
        number = w.get("number")
        if not isinstance(number, int):
            problem(w, "number", f"waves[{i}].number", "expected a whole number")
            number = 0
        closes = day(w, "closes_on", f"waves[{i}]")
        if closes is not None and closes < opens:
            problem(w, "closes_on", f"waves[{i}].closes_on", "is before opens_on")
        waves.append(
            Wave(
                text(w, "code", f"waves[{i}]"),
                number,
                opens,
                words(w, "title", f"waves[{i}]"),
                closes_on=closes,
            )
        )
    known = {
        "service": {s.code for s in services},
        "job_function": {f.code for f in functions},
        "wave": {w.code for w in waves},
    }
    vacancies = []
    for i, v in enumerate(items("vacancies")):
        where = f"vacancies[{i}]"
        for key, known_codes in known.items():
            if v.get(key) not in known_codes:
                problem(
                    v,
                    key,
                    f"{where}.{key}",
                    f"unknown {key} {v.get(key)!r} (known: {', '.join(sorted(known_codes))})",
                )
        target = v.get("target")
        if target is not None and (
            not isinstance(target, int) or isinstance(target, bool) or target < 0
        ):
            problem(v, "target", f"{where}.target", "expected a headcount (whole number) or null")
            target = None
        track = v.get("track")
        wave = next((w for w in waves if w.code == v.get("wave")), None)
        service = next((s for s in services if s.code == v.get("service")), None)
        opens_on = day(v, "opens_on", where) or (wave.opens_on if wave else None)
        closes_on = day(v, "closes_on", where) or (wave.closes_on if wave else None)
        if opens_on and closes_on and closes_on < opens_on:
            problem(v, "closes_on", f"{where}.closes_on", f"is before opens_on {opens_on}")
        employment = v.get("employment_type", "FULL_TIME")
        if employment not in EMPLOYMENT_TYPES:
            problem(
                v,
                "employment_type",
                f"{where}.employment_type",
                f"choose one of {', '.join(EMPLOYMENT_TYPES)}",
            )
        vacancies.append(
            Vacancy(
                code=text(v, "code", where),
                service=str(v.get("service")),
                job_function=str(v.get("job_function")),
                wave=str(v.get("wave")),
                track=str(track) if track else None,
                target=target,
                title=words(v, "title", where),
                opens_on=opens_on,
                closes_on=closes_on,
                place=address(v, "place", where) or (service.address if service else None),
                employment_type=str(employment),
                description=optional_words(v, "description", where),
            )
        )
    listed: tuple[tuple[str, list[str]], ...] = (
        ("services", [s.code for s in services]),
        ("job_functions", [f.code for f in functions]),
        ("waves", [w.code for w in waves]),
        ("vacancies", [v.code for v in vacancies]),
    )
    for label, codes in listed:
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            problem(root, label, label, f"duplicate codes: {', '.join(duplicates)}")
    if problems:
        raise ConfigurationError(
            "config/hiring-drive.yaml has problems:\n" + "\n".join(f"  {p}" for p in problems)
        )
    total = drive.get("target_total")
    return HiringDrive(
        code=str(drive.get("code", "drive")),
        title=words(drive, "title", "drive") if "title" in drive else {},
        target_total=total if isinstance(total, int) else None,
        languages=LANGUAGES,
        services=services,
        job_functions=functions,
        waves=tuple(waves),
        vacancies=tuple(vacancies),
    )
