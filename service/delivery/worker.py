"""The delivery worker: claims due outbox rows, writes each to its site's EHR, records what happened.

``flask deliver`` runs :meth:`Worker.run` until SIGTERM (the row in hand is finished; rows claimed but not
started are given back); ``flask deliver --once`` drains what is due and exits. The clock and the jitter are
parameters, so tests move time on instead of sleeping.

Logs name the delivery row, the checklist id (a random UUID), the site, error classes and HTTP statuses: never
a patient identifier, an answer, a body, or the EHR's own words (its OperationOutcome may quote the resource;
it is kept on the row for admins, not logged).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from fhir_adapters.ehr_client import EhrCopy, Ours, for_ehr
from fhir_adapters.ehr_errors import EhrError
from service.delivery import outbox
from service.delivery.outbox import Claimed, Result
from service.delivery.settings import Clients
from service.errors import CareloopError
from service.extensions import AnySession
from service.models import DeliveryStatus, utcnow

logger = logging.getLogger(__name__)

#: A configuration problem (no key, a secret that cannot be read) is retried at this pace until fixed.
CONFIG_RETRY = dt.timedelta(minutes=5)


@dataclass
class Tally:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    lease_lost: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def handled(self) -> int:
        return self.delivered + self.retrying + self.dead + self.lease_lost


class Worker:
    def __init__(
        self,
        session: AnySession,
        clients: Clients,
        *,
        worker_id: str | None = None,
        batch: int = 20,
        now: Callable[[], dt.datetime] = utcnow,
        rng: Callable[[], float] = outbox.jitter,
        concurrency: int = 1,
    ) -> None:
        self.session = session
        self.clients = clients
        self.worker_id = worker_id or outbox.new_worker_id()
        self.batch = batch
        #: Rows of a batch written at once (each a different checklist, so order per checklist holds).
        self.concurrency = max(1, concurrency)
        #: Seconds between lease renewals while a batch is in hand.
        self.heartbeat = outbox.LEASE.total_seconds() / 4
        self._now = now
        self._rng = rng
        self.tally = Tally()

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Claim one batch, deliver it (``concurrency`` rows at a time; once ``stop`` is set no row is
        started, those in hand are finished and the rest given back), record the results in one
        transaction; the number of rows claimed. The attempts run on pool threads and touch no database;
        the session is used on this thread only.

        Recording once per batch is safe: if the worker dies before it records, the rows' leases run out
        and they are sent again, and every write is idempotent (a conditional create finds our resource, an
        If-Match update finds our version already there).
        """
        claimed = outbox.claim(self.session, self.worker_id, self._now(), limit=self.batch)
        results: list[Result] = []
        started = 0
        renewed = time.monotonic()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="deliver") as pool:
            in_hand: dict[Future[Result], int] = {}
            while True:
                while started < len(claimed) and len(in_hand) < self.concurrency:
                    if stop is not None and stop.is_set():
                        break
                    in_hand[pool.submit(self.attempt, claimed[started])] = claimed[started].delivery_id
                    started += 1
                if not in_hand:
                    break
                done, _ = wait(in_hand, timeout=self.heartbeat, return_when=FIRST_COMPLETED)
                for future in done:
                    del in_hand[future]
                    results.append(future.result())
                if time.monotonic() - renewed >= self.heartbeat:  # a slow EHR: keep what we hold
                    waiting = [row.delivery_id for row in claimed[started:]]
                    outbox.renew(self.session, self.worker_id, self._now(), [*in_hand.values(), *waiting])
                    renewed = time.monotonic()
        if started < len(claimed):  # stopping: the rows not yet started go back
            outbox.release(self.session, claimed[started:], self.worker_id, self._now())
        lost = outbox.record(self.session, self.worker_id, self._now(), results)
        self._count(results, lost)
        return len(claimed)

    def drain(self, stop: threading.Event | None = None) -> Tally:
        """Deliver until nothing is due (``--once``)."""
        while (stop is None or not stop.is_set()) and self.run_once(stop):
            pass
        return self.tally

    def run(self, stop: threading.Event, poll_seconds: float = 2.0) -> Tally:
        """Until ``stop`` is set: drain, then wait ``poll_seconds`` (or until stopped) and look again."""
        logger.info("delivery worker %s started", self.worker_id)
        while not stop.is_set():
            try:
                self.drain(stop)
            except Exception:  # a database hiccup must not end the worker; the rows stay leased or pending
                self.session.rollback()
                logger.exception("delivery worker %s: claim failed; trying again", self.worker_id)
            stop.wait(poll_seconds)
        logger.info("delivery worker %s stopped: %s", self.worker_id, self.tally)
        return self.tally

    def attempt(self, row: Claimed) -> Result:
        """Write one claimed row to its EHR (no database work): what happened, as a result to record."""
        try:
            client = self.clients.client(row.ehr)
        except CareloopError as error:  # no signing key, unreadable secret: the site's settings
            return Result(
                row, DeliveryStatus.PENDING, error=f"site settings: {error.message}", retry_in=CONFIG_RETRY
            )
        document = for_ehr(row.document)
        identifier = document.get("identifier") or {}
        try:
            written = client.deliver(
                document,
                identifier_system=str(identifier.get("system", "")),
                identifier_value=str(identifier.get("value", row.checklist_id)),
                copy=EhrCopy(row.ehr_resource_id, row.ehr_version_id) if row.ehr_resource_id else None,
                ours=Ours(row.our_version_ids, [for_ehr(d) for d in row.our_documents]),
            )
        except EhrError as error:
            message = f"{type(error).__name__}: {error.message}"
            if not error.retryable:
                return Result(
                    row, DeliveryStatus.DEAD, error.status_code, error=message, outcome=error.outcome
                )
            retry_in = outbox.backoff(row.attempts, error.retry_after, self._rng)
            return Result(
                row,
                DeliveryStatus.PENDING,
                error.status_code,
                error=message,
                outcome=error.outcome,
                retry_in=retry_in,
            )
        return Result(
            row,
            DeliveryStatus.DELIVERED,
            written.status_code,
            resource_id=written.resource_id,
            version_id=written.version_id,
            how=written.outcome,
        )

    def _count(self, results: list[Result], lost: list[Result]) -> None:
        lost_ids = {id(result) for result in lost}
        for result in results:
            row = result.claimed
            if id(result) in lost_ids:
                self.tally.lease_lost += 1
                logger.warning(
                    "delivery %s: lease lost to another worker; result not recorded", row.delivery_id
                )
            elif result.status is DeliveryStatus.DELIVERED:
                self.tally.delivered += 1
                how = result.how or "?"
                self.tally.outcomes[how] = self.tally.outcomes.get(how, 0) + 1
                logger.info(
                    "delivered %s (checklist %s v%s) to site %s: %s %s",
                    row.delivery_id,
                    row.checklist_id,
                    row.checklist_version,
                    row.ehr.site_code,
                    result.status_code,
                    how,
                )
            elif result.status is DeliveryStatus.DEAD:
                self.tally.dead += 1
                logger.warning(
                    "delivery %s to site %s is a dead letter: %s %s (why: flask deliveries list)",
                    row.delivery_id,
                    row.ehr.site_code,
                    result.kind,
                    result.status_code or "",
                )
            else:
                self.tally.retrying += 1
                logger.info(
                    "delivery %s to site %s failed (attempt %s: %s %s), retrying in %ss",
                    row.delivery_id,
                    row.ehr.site_code,
                    row.attempts,
                    result.kind,
                    result.status_code or "",
                    int(result.retry_in.total_seconds()) if result.retry_in else 0,
                )
