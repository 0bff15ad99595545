"""``flask deliver``, ``flask deliveries`` and ``flask keys``: the worker, its backlog, and signing keys."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from service.delivery import outbox
from service.delivery.keys import KeyStore, StoredKey
from service.delivery.settings import Clients
from service.delivery.worker import Worker
from service.errors import CareloopError
from service.extensions import db
from service.models import DeliveryStatus, utcnow


def key_store() -> KeyStore:
    return KeyStore(Path(current_app.config["SMART_KEYS_PATH"]))


@click.command("deliver")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (for cron or a test).")
@click.option("--batch", type=click.IntRange(1, 500), default=None, help="Rows claimed at a time.")
@click.option("--poll", type=click.FloatRange(0.1, 300), default=None, help="Seconds between looks.")
@click.option("--concurrency", type=click.IntRange(1, 32), default=None, help="Writes in flight at once.")
def deliver_command(once: bool, batch: int | None, poll: float | None, concurrency: int | None) -> None:
    """Write completed checklists to their sites' EHRs. Runs until SIGTERM or Ctrl-C (the row in hand is
    finished first). On SQLite run one worker; on PostgreSQL any number."""
    logging.basicConfig(level=current_app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()

    def stop_soon(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stop_soon)
    signal.signal(signal.SIGINT, stop_soon)
    config = current_app.config
    worker = Worker(
        db.session,
        Clients(key_store()),
        batch=batch or int(config["DELIVERY_BATCH"]),
        concurrency=concurrency or int(config["DELIVERY_CONCURRENCY"]),
    )
    if once:
        tally = worker.drain(stop)
    else:
        tally = worker.run(stop, poll or float(current_app.config["DELIVERY_POLL_SECONDS"]))
    click.echo(
        f"delivered {tally.delivered}, retrying {tally.retrying}, dead letters {tally.dead}"
        + (f", leases lost {tally.lease_lost}" if tally.lease_lost else "")
    )


deliveries_cli = AppGroup("deliveries", help="The delivery backlog and dead letters.")


@deliveries_cli.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([status.value for status in DeliveryStatus]),
    help="Which rows (repeatable; default: dead letters).",
)
@click.option("--limit", type=click.IntRange(1, 10000), default=200)
def list_command(statuses: tuple[str, ...], limit: int) -> None:
    """The backlog per state, the oldest waiting row's age, then the rows asked for."""
    now = utcnow()
    summary = outbox.backlog(db.session)
    age = f"{int((now - summary.oldest_waiting).total_seconds())} s" if summary.oldest_waiting else "-"
    click.echo(
        f"pending {summary.pending}, in flight {summary.in_flight}, dead {summary.dead}, "
        f"delivered {summary.delivered}; oldest waiting {age}"
    )
    for row in outbox.listing(db.session, statuses=statuses or (DeliveryStatus.DEAD.value,), limit=limit):
        click.echo(
            f"{row.id:>8} {row.status:<10} site {row.site.code:<8} checklist {row.checklist_id} "
            f"v{row.checklist_version} attempts {row.attempts} "
            f"{row.ehr_status_code or '-'} {row.last_error or ''}".rstrip()
        )


@deliveries_cli.command("requeue")
@click.argument("delivery_ids", nargs=-1, type=int)
@click.option("--all-dead", is_flag=True, help="Every dead letter.")
def requeue_command(delivery_ids: tuple[int, ...], all_dead: bool) -> None:
    """Send dead letters again (after the cause is fixed): due now, attempts counted afresh."""
    now = utcnow()
    ids = list(delivery_ids)
    if all_dead:
        ids += [
            row.id for row in outbox.listing(db.session, statuses=(DeliveryStatus.DEAD.value,), limit=100000)
        ]
    if not ids:
        raise click.UsageError("give delivery ids or --all-dead")
    try:
        for delivery_id in ids:
            outbox.requeue(db.session, delivery_id, now)
    except CareloopError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"requeued {len(ids)} delivery row(s)")


keys_cli = AppGroup("keys", help="Careloop's SMART Backend Services signing keys (the JWKS EHRs register).")


@keys_cli.command("list")
def keys_list() -> None:
    """Each key: kid, algorithm, state (next / active / previous), creation time."""
    keys = key_store().entries()
    if not keys:
        click.echo("no keys: `flask keys add --alg RS384` (or ES384) makes one")
    for stored in keys:
        click.echo(f"{stored.kid}  {stored.alg}  {stored.state:<8}  {stored.created}")


@keys_cli.command("add")
@click.option("--alg", type=click.Choice(["RS384", "ES384"]), required=True)
def keys_add(alg: str) -> None:
    """A new key: signing at once if none of its algorithm is, else published as ``next``."""
    stored = _keys(lambda store: store.add(alg, utcnow()))
    click.echo(f"{stored.kid}  {stored.alg}  {stored.state}")


@keys_cli.command("activate")
@click.argument("kid")
def keys_activate(kid: str) -> None:
    """Sign with this key from now on; the key it replaces stays published as ``previous``."""
    stored = _keys(lambda store: store.activate(kid))
    click.echo(f"{stored.kid}  {stored.alg}  {stored.state}")


@keys_cli.command("retire")
@click.argument("kid")
def keys_retire(kid: str) -> None:
    """Remove a key that no longer signs from the key file and the JWKS."""
    stored = _keys(lambda store: store.retire(kid))
    click.echo(f"retired {stored.kid}")


def _keys(change: Callable[[KeyStore], StoredKey]) -> StoredKey:
    try:
        return change(key_store())
    except CareloopError as error:
        raise click.ClickException(error.message) from error


def register_delivery_cli(app: Flask) -> None:
    app.cli.add_command(deliver_command)
    app.cli.add_command(deliveries_cli)
    app.cli.add_command(keys_cli)
