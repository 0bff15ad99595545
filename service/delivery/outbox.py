"""The outbox: which delivery rows a worker may take, and what becomes of them. One module for every change.

A row goes ``pending`` -> ``in-flight`` (claimed, with a lease) -> ``delivered`` | ``pending`` again (a
retryable failure, with a back-off) | ``dead`` (the EHR refused it, or someone changed the resource in the
EHR). ``superseded`` rows were never sent because a newer version of the same checklist went instead. An
admin may requeue a dead row.

Claims are per checklist and site: the newest open version is claimed and older unsent ones are superseded
in the same transaction, so versions reach the EHR in order and one at a time. Two workers cannot hold two
versions of one checklist: on PostgreSQL the claim query skips rows another worker has locked (``FOR UPDATE
SKIP LOCKED``), and a partial unique index allows one ``in-flight`` row per checklist and site. SQLite runs
one worker (its write lock serialises claims anyway).

Every state change here checks the lease: a worker whose lease ran out (it was stopped, or hung) and whose
row another worker took over cannot write its late result over the other's.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from service.delivery.settings import SiteEhr
from service.errors import Conflict, NotFound
from service.extensions import AnySession
from service.models import Checklist, ChecklistChange, Delivery, DeliveryStatus, Site

OPEN = (DeliveryStatus.PENDING.value, DeliveryStatus.IN_FLIGHT.value)
#: Back-off after the n-th failed attempt: BASE * 2**(n-1), capped, then "equal jitter" (half fixed, half
#: random), so a fleet of rows that failed together in an outage does not retry together.
BACKOFF_BASE = dt.timedelta(seconds=5)
BACKOFF_CAP = dt.timedelta(minutes=15)


def backoff(attempts: int, retry_after: float | None, rng: Callable[[], float]) -> dt.timedelta:
    """How long to wait after ``attempts`` failures, and never less than the EHR's ``Retry-After``."""
    exponent = min(max(attempts - 1, 0), 20)
    ceiling: dt.timedelta = min(BACKOFF_CAP, BACKOFF_BASE * (2**exponent))
    delay: dt.timedelta = ceiling / 2 + ceiling / 2 * rng()
    if retry_after is not None:
        delay = max(delay, dt.timedelta(seconds=retry_after))
    return delay


#: How long a claim holds a row. The worker renews the leases of the rows it still holds every quarter of
#: this (:func:`renew`), however slow the EHR; a killed worker's rows are taken over once it has passed.
LEASE = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Claimed:
    """A row a worker holds: its id, what to send, and what it knows of earlier writes."""

    delivery_id: int
    checklist_id: uuid.UUID
    checklist_version: int
    attempts: int
    #: The site's EHR settings, copied at claim time (no transaction is open while the EHR is called).
    ehr: SiteEhr
    document: dict[str, Any]
    #: Where our latest delivered version is in the EHR (None: never delivered there).
    ehr_resource_id: str | None
    ehr_version_id: str | None
    #: EHR version ids of our earlier deliveries, and our earlier snapshots: to recognise our own writes.
    our_version_ids: tuple[str, ...]
    our_documents: tuple[dict[str, Any], ...]


def new_worker_id() -> str:
    return uuid.uuid4().hex[:16]


def claim(session: AnySession, worker: str, now: dt.datetime, *, limit: int = 20) -> list[Claimed]:
    """Take up to ``limit`` due rows (one per checklist and site) and commit the claim.

    A handful of statements per batch, not per row: the due rows, every open and delivered row of their
    checklists, the sites, one UPDATE per taken row (flushed together) and their snapshots.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    due = (
        select(Delivery.checklist_id, Delivery.site_id)
        .join(Site, Site.id == Delivery.site_id)
        .where(
            Site.fhir_enabled.is_(True),
            Site.active.is_(True),
            Delivery.status.in_(OPEN),
            Delivery.next_attempt_at <= now,
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit * 4)
    )
    if postgres:
        due = due.with_for_update(skip_locked=True, of=Delivery)
    groups = list(dict.fromkeys((row.checklist_id, row.site_id) for row in session.execute(due)))[:limit]
    if not groups:
        session.commit()
        return []
    checklist_ids = list({checklist_id for checklist_id, _ in groups})
    open_query = (
        select(Delivery)
        .where(Delivery.checklist_id.in_(checklist_ids), Delivery.status.in_(OPEN))
        .order_by(Delivery.checklist_version)
    )
    if postgres:  # rows another worker is claiming right now are left to it
        open_query = open_query.with_for_update(skip_locked=True)
    open_rows: dict[tuple[uuid.UUID, int], list[Delivery]] = {}
    for row in session.scalars(open_query):
        open_rows.setdefault((row.checklist_id, row.site_id), []).append(row)
    delivered: dict[tuple[uuid.UUID, int], list[Any]] = {}
    for done in session.execute(
        select(
            Delivery.checklist_id,
            Delivery.site_id,
            Delivery.checklist_version,
            Delivery.ehr_resource_id,
            Delivery.ehr_version_id,
        )
        .where(Delivery.checklist_id.in_(checklist_ids), Delivery.status == DeliveryStatus.DELIVERED)
        .order_by(Delivery.checklist_version)
    ):
        delivered.setdefault((done.checklist_id, done.site_id), []).append(done)
    sites = {
        site.id: site for site in session.scalars(select(Site).where(Site.id.in_({s for _, s in groups})))
    }

    chosen = []
    for group in groups:
        newest = _newest_to_send(open_rows.get(group, []), delivered.get(group, []), now)
        if newest is not None:
            chosen.append(newest)
    taken = _take(session, chosen, worker, now, sites)
    snapshots: dict[uuid.UUID, dict[int, dict[str, Any]]] = {}
    if taken:
        for checklist_id, version, snapshot in session.execute(
            select(ChecklistChange.checklist_id, ChecklistChange.version, ChecklistChange.snapshot).where(
                ChecklistChange.checklist_id.in_([row.checklist_id for row in taken]),
                ChecklistChange.snapshot.is_not(None),
            )
        ):
            snapshots.setdefault(checklist_id, {})[version] = snapshot
    claimed = [
        _claimed(
            row,
            sites[row.site_id],
            snapshots.get(row.checklist_id, {}),
            delivered.get((row.checklist_id, row.site_id), []),
        )
        for row in taken
    ]
    session.commit()
    return claimed


def _newest_to_send(rows: list[Delivery], delivered: list[Any], now: dt.datetime) -> Delivery | None:
    """The open row of a checklist to send now, superseding older ones; None if none is to go now."""
    if not rows or any(r.status == DeliveryStatus.IN_FLIGHT and r.next_attempt_at > now for r in rows):
        return None  # another worker holds a live lease on this checklist (or a row was skipped as locked)
    newest = rows[-1]
    if delivered and delivered[-1].checklist_version >= newest.checklist_version:
        for row in rows:  # a newer version already reached the EHR (a requeued old dead letter)
            _supersede(row, now)
        return None
    for row in rows[:-1]:
        _supersede(row, now)
    if newest.next_attempt_at > now:
        return None  # backing off: the superseded rows were due, the newest is not yet
    return newest


def _take(
    session: AnySession, chosen: list[Delivery], worker: str, now: dt.datetime, sites: dict[int, Site]
) -> list[Delivery]:
    """Mark the chosen rows in flight under this worker's lease. All at once; if another worker took one
    of these checklists in the meantime (the one-in-flight index refuses), one at a time, skipping it."""
    session.flush()  # superseded rows first, outside the savepoints below

    def lease(row: Delivery) -> None:
        row.status = DeliveryStatus.IN_FLIGHT.value
        row.lease_owner = worker
        row.next_attempt_at = now + LEASE
        row.last_attempt_at = now
        row.attempts += 1
        row.updated_at = now

    try:
        with session.begin_nested():
            for row in chosen:
                lease(row)
            session.flush()
        return chosen
    except IntegrityError:
        pass
    taken = []
    for row in chosen:
        session.refresh(row)
        if row.status not in OPEN:
            continue
        try:
            with session.begin_nested():
                lease(row)
                session.flush()
            taken.append(row)
        except IntegrityError:  # uq_delivery_one_in_flight: another worker has this checklist
            session.expire(row)
    return taken


def _claimed(
    row: Delivery, site: Site, snapshots: dict[int, dict[str, Any]], delivered: list[Any]
) -> Claimed:
    document = snapshots.get(row.checklist_version)
    if document is None:
        raise NotFound(f"checklist {row.checklist_id} version {row.checklist_version} has no snapshot")
    last = delivered[-1] if delivered else None
    return Claimed(
        delivery_id=row.id,
        checklist_id=row.checklist_id,
        checklist_version=row.checklist_version,
        attempts=row.attempts,
        ehr=SiteEhr.of(site),
        document=document,
        ehr_resource_id=last.ehr_resource_id if last else None,
        ehr_version_id=last.ehr_version_id if last else None,
        our_version_ids=tuple(d.ehr_version_id for d in delivered if d.ehr_version_id),
        our_documents=tuple(snapshots[v] for v in sorted(snapshots) if v < row.checklist_version),
    )


def _supersede(row: Delivery, now: dt.datetime) -> None:
    row.status = DeliveryStatus.SUPERSEDED.value
    row.lease_owner = None
    row.updated_at = now


@dataclass(frozen=True)
class Result:
    """What became of one claimed row: delivered (with the EHR's id and version), retry later, or dead."""

    claimed: Claimed
    status: DeliveryStatus
    status_code: int | None = None
    resource_id: str | None = None
    version_id: str | None = None
    error: str | None = None
    outcome: dict[str, Any] | None = None
    retry_in: dt.timedelta | None = None
    #: How it was delivered: created | updated | already-there.
    how: str | None = None
    #: What went wrong, for logs: the error class only (``error`` may quote the EHR, which logs must not).
    kind: str | None = None


def record(session: AnySession, worker: str, now: dt.datetime, results: Sequence[Result]) -> list[Result]:
    """Write the results in one transaction; returns those whose lease was lost (not written: another
    worker took the row over after this one's lease ran out).

    The rows this worker still holds are locked first (PostgreSQL; SQLite's write lock is already taken),
    then each kind of result is one executemany UPDATE.
    """
    if not results:
        return []
    held = set(
        session.scalars(
            select(Delivery.id)
            .where(
                Delivery.id.in_([result.claimed.delivery_id for result in results]),
                Delivery.status == DeliveryStatus.IN_FLIGHT,
                Delivery.lease_owner == worker,
            )
            .with_for_update()
        )
    )
    kept = [result for result in results if result.claimed.delivery_id in held]
    table = cast(Table, Delivery.__table__)
    columns = {
        DeliveryStatus.DELIVERED: ("delivered_at", "ehr_resource_id", "ehr_version_id"),
        DeliveryStatus.PENDING: ("next_attempt_at",),
        DeliveryStatus.DEAD: (),
    }
    for status, extra in columns.items():
        rows = [_values(result, now) for result in kept if result.status is status]
        if not rows:
            continue
        names = ("status", "updated_at", "ehr_status_code", "last_error", "operation_outcome", *extra)
        session.execute(
            update(table)
            .where(table.c.id == bindparam("delivery_id"))
            .values({name: bindparam(f"new_{name}") for name in names} | {"lease_owner": None}),
            [{"delivery_id": row["delivery_id"], **{f"new_{n}": row[n] for n in names}} for row in rows],
        )
    session.commit()
    return [result for result in results if result.claimed.delivery_id not in held]


def _values(result: Result, now: dt.datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "delivery_id": result.claimed.delivery_id,
        "status": result.status.value,
        "updated_at": now,
        "ehr_status_code": result.status_code,
        "last_error": result.error[:1000] if result.error else None,
        "operation_outcome": result.outcome,
    }
    if result.status is DeliveryStatus.DELIVERED:
        assert result.resource_id is not None
        values["delivered_at"] = now
        values["ehr_resource_id"] = result.resource_id[:64]
        values["ehr_version_id"] = result.version_id[:64] if result.version_id else None
    elif result.status is DeliveryStatus.PENDING:
        assert result.retry_in is not None
        values["next_attempt_at"] = now + result.retry_in
    return values


def renew(session: AnySession, worker: str, now: dt.datetime, delivery_ids: Sequence[int]) -> None:
    """Push the lease on the rows this worker still holds forward (it is alive, the EHR is slow)."""
    if delivery_ids:
        session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(list(delivery_ids)),
                Delivery.status == DeliveryStatus.IN_FLIGHT,
                Delivery.lease_owner == worker,
            )
            .values(next_attempt_at=now + LEASE)
            .execution_options(synchronize_session=False)
        )
    session.commit()


def _held(delivery_id: int, worker: str) -> Any:
    return and_(
        Delivery.id == delivery_id,
        Delivery.status == DeliveryStatus.IN_FLIGHT,
        Delivery.lease_owner == worker,
    )


def release(session: AnySession, claimed: Sequence[Claimed], worker: str, now: dt.datetime) -> None:
    """Give back rows claimed but not started (the worker is stopping): due again at once."""
    for row in claimed:
        session.execute(
            update(Delivery)
            .where(_held(row.delivery_id, worker))
            .values(
                status=DeliveryStatus.PENDING.value,
                next_attempt_at=now,
                lease_owner=None,
                attempts=Delivery.attempts - 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    session.commit()


def requeue(session: AnySession, delivery_id: int, now: dt.datetime) -> Delivery:
    """A dead letter back to pending, due now, its attempts counted afresh. Not committed."""
    row = session.get(Delivery, delivery_id)
    if row is None:
        raise NotFound(f"no delivery {delivery_id}")
    if row.status != DeliveryStatus.DEAD:
        raise Conflict(f"delivery {delivery_id} is {row.status}: only dead letters are requeued")
    row.status = DeliveryStatus.PENDING.value
    row.next_attempt_at = now
    row.attempts = 0
    row.updated_at = now
    return row


@dataclass(frozen=True)
class Backlog:
    pending: int
    in_flight: int
    dead: int
    delivered: int
    #: The oldest undelivered row's creation time (None: nothing waiting).
    oldest_waiting: dt.datetime | None


def backlog(session: AnySession, site_id: int | None = None) -> Backlog:
    where = [] if site_id is None else [Delivery.site_id == site_id]
    counts: dict[str, int] = {
        status: number
        for status, number in session.execute(
            select(Delivery.status, func.count()).where(*where).group_by(Delivery.status)
        )
    }
    oldest = session.scalar(select(func.min(Delivery.created_at)).where(*where, Delivery.status.in_(OPEN)))
    return Backlog(
        pending=counts.get(DeliveryStatus.PENDING.value, 0),
        in_flight=counts.get(DeliveryStatus.IN_FLIGHT.value, 0),
        dead=counts.get(DeliveryStatus.DEAD.value, 0),
        delivered=counts.get(DeliveryStatus.DELIVERED.value, 0),
        oldest_waiting=oldest,
    )


def listing(
    session: AnySession, *, statuses: Sequence[str] = (DeliveryStatus.DEAD.value,), limit: int = 200
) -> list[Delivery]:
    """Rows in these states, oldest first, with their checklist and site (no patient data is shown)."""
    return list(
        session.scalars(
            select(Delivery)
            .options(
                joinedload(Delivery.site), joinedload(Delivery.checklist).load_only(Checklist.care_bundle_id)
            )
            .where(Delivery.status.in_(list(statuses)))
            .order_by(Delivery.created_at, Delivery.id)
            .limit(limit)
        )
    )


def latest_states(session: AnySession, checklist_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Delivery]:
    """Each checklist's newest delivery row (the ward pages show it): newest version, any site."""
    if not checklist_ids:
        return {}
    newest = (
        select(Delivery.checklist_id, func.max(Delivery.checklist_version).label("version"))
        .where(Delivery.checklist_id.in_(list(checklist_ids)))
        .group_by(Delivery.checklist_id)
        .subquery()
    )
    rows = session.scalars(
        select(Delivery).join(
            newest,
            and_(
                Delivery.checklist_id == newest.c.checklist_id, Delivery.checklist_version == newest.c.version
            ),
        )
    )
    return {row.checklist_id: row for row in rows}


def jitter() -> float:
    return random.random()  # noqa: S311 (spreading retries, not a secret)
