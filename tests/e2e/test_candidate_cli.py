"""`ats apply --birth-date`, `ats candidate duplicates` and `ats candidate merge` as a subprocess."""

from __future__ import annotations

from tests.e2e.conftest import Ats


def _apply(cli: Ats, email: str, vacancy: str, *extra: str) -> dict[str, object]:
    data: dict[str, object] = cli.json(
        *("apply", "--vacancy", vacancy, "--name", "Élodie Dupont", "--email", email),
        *("--language", "fr", *extra),
    )
    return data


def test_a_duplicate_is_flagged_on_apply_listed_and_merged_with_an_audit_trail(cli: Ats) -> None:
    """Apply twice under two addresses; the CLI warns, lists the pair, merges it; verify passes."""
    first = _apply(cli, "elodie.dupont@example.org", "DVZ-SEC-W1", "--birth-date", "1990-05-01")
    assert first["possible_duplicates"] == []
    shown = cli(
        *("apply", "--vacancy", "CGVS-PROT-W1", "--name", "elodie DUPONT"),
        *("--email", "e.dupont@work.example", "--language", "fr", "--birth-date", "1990-05-01"),
    )
    keep = first["candidate"]["key"]  # type: ignore[index]
    assert f"warning: candidate {keep} may be the same person (same name and birth date)" in (
        shown.stderr
    )
    second = cli.json("candidacy", "show", shown.stdout.split()[1])
    merged = second["candidate"]["key"]
    listed = cli.json("candidate", "duplicates", keep)
    assert [(d["other"], d["rule"]) for d in listed] == [(merged, "name_birth_date")]

    refused = cli(
        *("candidate", "merge", keep, merged, "--reason", "same person"),
        *("--actor", "panel:jan", "--role", "panel"),
        expect=2,
    )
    assert "Invalid value for '--role'" in refused.stderr

    events_before = cli.json("audit", "verify")["events"]
    done = cli(
        *("candidate", "merge", keep, merged, "--reason", "same person, two addresses"),
        *("--actor", "recruiter:els", "--role", "recruiter"),
    )
    assert f"candidate {merged} merged into {keep}: candidacies moved: {second['id']}" in (
        done.stdout
    )
    assert cli.json("candidacy", "show", str(second["id"]))["candidate"]["key"] == keep
    assert "no possible duplicates" in cli("candidate", "duplicates", keep).stdout

    again = cli(
        *("candidate", "merge", keep, merged, "--reason", "again"),
        *("--actor", "recruiter:els"),
        expect=1,
    )
    assert f"was merged into {keep} already" in again.stderr
    report = cli.json("audit", "verify")
    assert report["ok"] is True, report["damage"]
    assert report["events"] == events_before + 1, "the merge, and nothing else, was audited"
