"""`ats audit`: the auditors' tools — verify, checkpoint, keygen, log, export, extract."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ats.cli import audit_reports
from ats.cli.context import Context, json_option, pass_context
from ats.cli.output import emit


@click.group()
def audit() -> None:
    """The tamper-evident audit log: verify it, checkpoint it, read and export it."""


@audit.command()
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A checkpoint exported earlier (`ats audit checkpoint --out`): detects rollbacks.",
)
@json_option
@pass_context
def verify(ctx: Context, checkpoint_file: Path | None, as_json: bool) -> None:
    """Recompute every chain and prove each candidacy's state from its log.

    Exits 0 when everything holds; 1 naming the first broken entry of each
    damaged chain (hash mismatch, gap, missing tail, illegal step, ...).
    """
    from ats.service.audit import read_checkpoint_file
    from ats.service.audit import verify as verify_log

    exported = read_checkpoint_file(checkpoint_file) if checkpoint_file else None
    report = verify_log(ctx.app, exported=exported)
    if as_json:
        emit(report.to_dict())
    else:
        last = report.last_checkpoint
        click.echo(
            f"{report.entries} entries in {report.chains} candidacy chains, "
            f"{report.events} events, {report.checkpoints} checkpoints"
            + (f" (last: {last['checkpoint']} at {last['created_at']})" if last else "")
        )
        if exported:
            click.echo(f"checked against exported checkpoint {exported['checkpoint']}")
        for damage in report.damage:
            click.echo(f"BROKEN {damage}", err=True)
        click.echo("audit log verified" if report.ok else f"{len(report.damage)} chain(s) damaged")
    ctx.fields.update(entries=report.entries, damaged=len(report.damage))
    if not report.ok:
        ctx.exit_code = 1


@audit.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the checkpoint to this file, to keep outside the database.",
)
@json_option
@pass_context
def checkpoint(ctx: Context, out: Path | None, as_json: bool) -> None:
    """Record the heads of every chain that moved since the last checkpoint."""
    from ats.errors import InvalidInput
    from ats.service.audit import checkpoint as make_checkpoint

    if out is not None and not out.parent.is_dir():
        raise InvalidInput(f"--out {out}: the folder {out.parent} does not exist")
    result = make_checkpoint(ctx.app)
    exported = result.export()
    if out is not None:
        try:
            out.write_text(json.dumps(exported, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(
                f"--out {out}: cannot write it ({exc.strerror}); checkpoint {result.seq} is "
                "recorded: export it again with `ats audit checkpoint --out` elsewhere"
            ) from exc
    if as_json:
        emit({**exported, "chains": result.chains, "signed": result.signed, "new": result.new})
        return
    what = (
        f"recorded: {result.chains} chains moved" if result.new else "stands: no chain moved since"
    )
    click.echo(
        f"checkpoint {result.seq} {what}, hash {result.hash[:16]}"
        + (", signed" if result.signed else "")
        + (f"; written to {out}" if out else "")
    )


@audit.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def keygen(path: Path) -> None:
    """Create an Ed25519 key for signing checkpoints; prints the public key to share."""
    from cryptography.hazmat.primitives import serialization

    from ats.adapters.signing import generate_key

    if path.exists():
        raise click.BadParameter(f"{path} exists; refusing to overwrite a key", param_hint="PATH")
    signer = generate_key(path)
    click.echo(f"private key written to {path} (keep it secret; set audit_signing_key)")
    click.echo(f"key id {signer.key_id}; public key for audit_verify_key:")
    click.echo(
        signer.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        nl=False,
    )


audit_reports.register(audit)
