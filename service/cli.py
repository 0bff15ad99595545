"""``flask`` sub-commands.

``flask bundles validate`` is a Flask plugin command (entry point ``flask.commands``), not an app command:
it must run when the app itself refuses to start because a care bundle file is bad.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from schemas.care_bundle import InvalidCareBundle, Problem, load_care_bundle
from service.config import DEFAULTS

if TYPE_CHECKING:
    from service.checklists.reevaluation import ReevaluationSummary


@click.group("bundles", help="Care bundle definitions (bundles/*.yaml).")
def bundles_cli() -> None:
    pass


@bundles_cli.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate_command(paths: tuple[Path, ...]) -> None:
    """Check care bundle files (default: every file in CARELOOP_BUNDLES_DIR); exit 1 on any problem."""
    from service.care_bundles import CareBundleRegistry

    targets = list(paths) or [Path(os.environ.get("CARELOOP_BUNDLES_DIR", DEFAULTS["BUNDLES_DIR"]))]
    problems: list[Problem] = []
    checked = 0
    for target in targets:
        try:
            if target.is_dir():
                registry = CareBundleRegistry.from_directory(target)
                checked += len(registry)
                for care_bundle in registry:
                    click.echo(f"ok   {care_bundle.path}: {care_bundle.id} {care_bundle.version}")
            else:
                care_bundle = load_care_bundle(target)
                checked += 1
                click.echo(f"ok   {target}: {care_bundle.id} {care_bundle.version}")
        except InvalidCareBundle as error:
            problems.extend(error.problems)
    for problem in problems:
        click.echo(f"FAIL {problem}", err=True)
    if problems:
        files = len({problem.file for problem in problems})
        click.echo(f"{len(problems)} problem(s) in {files} file(s)", err=True)
        raise SystemExit(1)
    click.echo(f"{checked} care bundle(s) valid")


demo_cli = AppGroup("demo", help="Demo data for trying Careloop out.")


@demo_cli.command("load")
@click.option(
    "--ehr-url",
    default=None,
    help="FHIR base URL the demo sites write completed checklists to (make run: its local FHIR server).",
)
def demo_load(ehr_url: str | None) -> None:
    """Create the demo site, units and users (idempotent). Refused in production: the passwords are public.

    Also 30 weeks of completed OASI checklists on the SPC demo ward whose all-or-none chart is a published
    p-chart (service/demo_spc.py), one transaction per week.
    """
    import dataclasses
    import datetime as dt

    from service.care_bundles import current_catalogue
    from service.demo import connect_demo_ehr, load_demo_checklists, load_demo_data
    from service.demo_spc import load_spc_weeks
    from service.extensions import db

    if current_app.config["ENV"] == "production":
        raise click.ClickException(
            "demo users have published passwords: load them only with CARELOOP_ENV=development "
            "(make run does)"
        )

    summary = load_demo_data(db.session)
    if ehr_url:
        connect_demo_ehr(db.session, ehr_url)
    db.session.commit()
    now = dt.datetime.now(dt.UTC)
    checklists = load_demo_checklists(db.session, current_catalogue(), now)
    db.session.commit()
    spc = load_spc_weeks(db.session, current_catalogue(), now, week_done=db.session.commit)
    db.session.commit()
    summary = dataclasses.replace(summary, checklists_created=checklists, spc_checklists_created=spc)
    click.echo(f"demo data: {summary}")


@demo_cli.command("generate")
@click.option("--checklists", "count", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="The same seed makes the same data.")
def demo_generate(count: int, seed: int) -> None:
    """Made-up data at scale for the compliance reports: 5 trusts (GEN1-GEN5), 20 units, 3 years to now.

    Labour ward, birth centre and home birth team (OASI care bundle) and a trauma ward (hip fracture
    pathway) per trust. Compliance drifts per unit (own level, weekly random walk, an August dip) with real
    shifts: GEN1 labour ward up 18 months ago, GEN2 birth centre down 10 months ago, GEN3 trauma ward down 9
    months ago and back up 3 months ago, GEN4 labour ward up 2 years ago. About 0.5 % possible duplicates,
    a few amended, entered in error and open checklists. Outcome rows are copied from answer templates
    judged once by the lifecycle's evaluate (docs/decisions/0013), not written through the lifecycle.
    Refused in production, and where GEN1 exists (use a fresh database).
    """
    import datetime as dt
    import time

    from service.care_bundles import current_catalogue
    from service.demo_generate import generate
    from service.extensions import db

    if current_app.config["ENV"] == "production":
        raise click.ClickException(
            "generated data are made-up patients: generate them only with CARELOOP_ENV=development"
        )
    started = time.perf_counter()
    with click.progressbar(length=count, label="checklists") as bar:

        def batch_done(written: int) -> None:
            db.session.commit()
            bar.update(written)

        try:
            units = generate(
                db.session,
                current_catalogue(),
                count,
                seed=seed,
                end=dt.datetime.now(dt.UTC),
                batch_done=batch_done,
            )
        except ValueError as error:
            db.session.rollback()
            raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"generated {count} checklists on {len(units)} units in {time.perf_counter() - started:.0f} s")


@demo_cli.command("logins")
def demo_logins() -> None:
    """Print the demo logins."""
    from service.demo import DEMO_LOGINS

    click.echo("Demo logins (username / password, role):")
    for username, password, role, description in DEMO_LOGINS:
        click.echo(f"  {username:<12} / {password:<16} {role:<10} {description}")


checklists_cli = AppGroup("checklists", help="Recorded checklists.")


@checklists_cli.command("reevaluate")
@click.argument("care_bundle_id")
@click.argument("version")
@click.option("--admin", "admin_username", required=True, help="Username of the admin doing this (audited).")
@click.option("--apply", is_flag=True, help="Write the new outcomes and audit events (default: dry run).")
def reevaluate_command(care_bundle_id: str, version: str, admin_username: str, apply: bool) -> None:
    """Judge the completed and amended checklists of one care bundle version again, under that version.

    A dry run unless --apply: prints how many would change and the composites' counts before and after.
    """
    from sqlalchemy import select

    from service.checklists.reevaluation import reevaluate
    from service.errors import CareloopError
    from service.extensions import db
    from service.models import User, utcnow

    admin = db.session.scalar(select(User).where(User.username == admin_username))
    if admin is None:
        raise click.ClickException(f"no user named {admin_username!r}")
    registry = current_app.extensions["care_bundles"]
    try:
        summary = reevaluate(
            db.session, registry, care_bundle_id, version, actor=admin, now=utcnow(), apply=apply
        )
    except CareloopError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    if apply:
        db.session.commit()
    else:
        db.session.rollback()
    for line in _summary_lines(summary):
        click.echo(line)


def _summary_lines(summary: ReevaluationSummary) -> list[str]:
    lines = [
        "applied: changed checklists rewritten, each with an audit event"
        if summary.applied
        else "dry run: nothing written; add --apply to write the new outcomes",
        f"{summary.care_bundle_id} {summary.version}: {summary.checked} completed or amended checklist(s) "
        f"judged again, {summary.changed} changed",
    ]
    for counts in summary.composites:
        before, after = counts.before, counts.after
        line = (
            f"  {counts.composite_id}: compliant {before.compliant} -> {after.compliant}, "
            f"not compliant {before.not_compliant} -> {after.not_compliant}, "
            f"outside the denominator {before.outside} -> {after.outside}"
        )
        if before.not_recorded:
            line += f", no stored result before {before.not_recorded}"
        lines.append(line)
    if summary.changed_ids:
        lines.append("changed checklists:")
        lines.extend(f"  {checklist_id}" for checklist_id in summary.changed_ids)
    return lines


def register_cli(app: Flask) -> None:
    """Attach the app's command groups (``bundles`` arrives as a plugin command)."""
    from service.auth.cli import users_cli
    from service.auth.token_cli import tokens_cli
    from service.delivery.cli import register_delivery_cli

    app.cli.add_command(demo_cli)
    app.cli.add_command(checklists_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    register_delivery_cli(app)
