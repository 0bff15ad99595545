"""The delivery worker: claims due outbox rows, writes each to its site's EHR, records what happened.

``flask deliver`` runs :meth:`Worker.run` until SIGTERM (the row in hand is finished; rows claimed but not
started are given back); ``flask deliver --once`` drains what is due and exits. The clock and the jitter are
parameters, so tests move time on instead of sleeping.

Logs name the delivery row, the checklist id (a random UUID), the site and HTTP statuses: never a patient
identifier, an answer or a body.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fhir_adapters.ehr_client import EhrCopy, Ours, for_ehr
from fhir_adapters.ehr_errors import EhrError
from service.delivery import outbox
from service.delivery.outbox import Claimed
from service.delivery.settings import Clients
from service.errors import CareloopError
from service.extensions import AnySession
from service.models import utcnow

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
    ) -> None:
        self.session = session
        self.clients = clients
        self.worker_id = worker_id or outbox.new_worker_id()
        self.batch = batch
        self._now = now
        self._rng = rng
        self.tally = Tally()

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Claim one batch and deliver it; the number of rows claimed."""
        claimed = outbox.claim(self.session, self.worker_id, self._now(), limit=self.batch)
        for index, row in enumerate(claimed):
            if stop is not None and stop.is_set():
                outbox.release(self.session, claimed[index:], self.worker_id, self._now())
                break
            self.deliver(row)
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

    def deliver(self, row: Claimed) -> None:
        """Write one claimed row to its EHR and record the result (never raises for an EHR's answer)."""
        try:
            client = self.clients.client(row.ehr)
        except CareloopError as error:  # no signing key, unreadable secret: the site's settings
            self._failed(row, f"site settings: {error.message}", None, None, CONFIG_RETRY)
            return
        document = for_ehr(row.document)
        identifier = document.get("identifier") or {}
        try:
            written = client.deliver(
                document,
                identifier_system=str(identifier.get("system", "")),
                identifier_value=str(identifier.get("value", row.checklist_id)),
                copy=client_copy(row),
                ours=Ours(row.our_version_ids, [for_ehr(d) for d in row.our_documents]),
            )
        except EhrError as error:
            retry_in = outbox.backoff(row.attempts, error.retry_after, self._rng) if error.retryable else None
            self._failed(
                row, f"{type(error).__name__}: {error.message}", error.status_code, error.outcome, retry_in
            )
            return
        kept = outbox.mark_delivered(
            self.session,
            row,
            self.worker_id,
            self._now(),
            resource_id=written.resource_id,
            version_id=written.version_id,
            status_code=written.status_code,
        )
        if not kept:
            self._lease_lost(row)
            return
        self.tally.delivered += 1
        self.tally.outcomes[written.outcome] = self.tally.outcomes.get(written.outcome, 0) + 1
        logger.info(
            "delivered %s (checklist %s v%s) to site %s: %s %s",
            row.delivery_id,
            row.checklist_id,
            row.checklist_version,
            row.ehr.site_code,
            written.status_code,
            written.outcome,
        )

    def _failed(
        self,
        row: Claimed,
        error: str,
        status_code: int | None,
        outcome: dict[str, Any] | None,
        retry_in: dt.timedelta | None,
    ) -> None:
        kept = outbox.mark_failed(
            self.session,
            row,
            self.worker_id,
            self._now(),
            error=error,
            status_code=status_code,
            outcome=outcome,
            retry_in=retry_in,
        )
        if not kept:
            self._lease_lost(row)
            return
        if retry_in is None:
            self.tally.dead += 1
            logger.warning(
                "delivery %s to site %s is a dead letter: %s", row.delivery_id, row.ehr.site_code, error
            )
        else:
            self.tally.retrying += 1
            logger.info(
                "delivery %s to site %s failed (attempt %s), retrying in %ss: %s",
                row.delivery_id,
                row.ehr.site_code,
                row.attempts,
                int(retry_in.total_seconds()),
                error,
            )

    def _lease_lost(self, row: Claimed) -> None:
        self.tally.lease_lost += 1
        logger.warning(
            "delivery %s: lease lost to another worker; its result was not recorded", row.delivery_id
        )


def client_copy(row: Claimed) -> EhrCopy | None:
    return EhrCopy(row.ehr_resource_id, row.ehr_version_id) if row.ehr_resource_id else None
