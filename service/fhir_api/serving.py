"""What every ``/fhir`` search takes besides its own parameters (``_count``, ``_offset``, ``_summary``,
``_elements``, ``_total``) and the one searchset page they make, for every resource type; and the
CapabilityStatement's date: the same from every worker. (A Questionnaire's ``meta`` and ETag, the same from
every worker too, are made with the catalogue: ``fhir_adapters.questionnaire``.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fhir_adapters.capability import searchset
from fhir_adapters.operation_outcome import Issue
from fhir_adapters.subsetting import subset
from service.errors import InvalidInput

#: The date this server's capabilities last changed (CapabilityStatement.date): change it with them.
CAPABILITY_DATE = "2026-11-26"
RESULT_PARAMS = frozenset({"_count", "_offset", "_summary", "_elements", "_total"})
#: Parameters no search treats as its own (``_format`` is checked for every ``/fhir`` request).
NOT_SEARCH_PARAMS = RESULT_PARAMS | {"_format"}
MAX_COUNT = 100
#: What the result parameters say, for the CapabilityStatement's documentation of each search.
RESULT_PARAMS_DOC = (
    "Every search also takes _count (at most 100), _offset, _summary (true, false, text, data, count), "
    "_elements and _total (none, estimate, accurate)."
)

#: Fetches one page of matches: (offset, limit or None for all) -> resources.
Fetch = Callable[[int, int | None], Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class ResultParams:
    count: int | None = None
    offset: int = 0
    summary: str | None = None
    elements: frozenset[str] | None = None
    elements_sent: str | None = None
    total: str | None = None

    def shape(self, resource: Mapping[str, Any]) -> Mapping[str, Any]:
        """``resource`` as these parameters ask (tagged SUBSETTED when elements were left out)."""
        return subset(resource, summary=self.summary, elements=self.elements)

    def in_links(self) -> list[tuple[str, str]]:
        """These parameters as applied (``_count`` as capped, or the search's default), for self and next."""
        used: list[tuple[str, str]] = []
        if self.count is not None:
            used.append(("_count", str(self.count)))
        if self.elements_sent is not None:
            used.append(("_elements", self.elements_sent))
        if self.summary is not None:
            used.append(("_summary", self.summary))
        if self.total is not None:
            used.append(("_total", self.total))
        return used


def _bad(name: str, raw: str, hint: str) -> Issue:
    return Issue("error", "invalid", f"{name}={raw[:40]}: {hint}")


def result_params(args: Mapping[str, Sequence[str]], *, default_count: int | None = None) -> ResultParams:
    """The result parameters of a search; each is checked (400 with what is wrong in ``diagnostics``).

    ``default_count``: the page size when ``_count`` is not given (None: every match on one page).
    """
    issues: list[Issue] = []
    values: dict[str, Any] = {"count": default_count}
    for name in sorted(RESULT_PARAMS & set(args)):
        raw = args[name][-1]
        if name == "_count":
            if not raw.isdigit() or len(raw) > 6:
                issues.append(_bad("_count", raw, "give a whole number from 0"))
                continue
            values["count"] = min(int(raw), MAX_COUNT)
        elif name == "_offset":
            if not raw.isdigit() or len(raw) > 9:
                issues.append(_bad("_offset", raw, "a whole number"))
                continue
            values["offset"] = int(raw)
        elif name == "_summary":
            if raw not in ("true", "false", "text", "data", "count"):
                issues.append(_bad("_summary", raw, "true, false, text, data or count"))
                continue
            values["summary"] = raw
        elif name == "_elements":
            names = [part.strip() for part in raw.split(",") if part.strip()]
            if not names or not all(part.isidentifier() for part in names):
                issues.append(_bad("_elements", raw, "comma-separated element names"))
                continue
            values["elements"] = frozenset(names)
            values["elements_sent"] = ",".join(names)
        elif name == "_total":
            if raw not in ("none", "estimate", "accurate"):
                issues.append(_bad("_total", raw, "none, estimate or accurate"))
                continue
            values["total"] = raw
    if issues:
        raise InvalidInput("bad search result parameter", issues=issues)
    return ResultParams(**values)


def search_bundle(
    resource_type: str,
    params: ResultParams,
    applied: Sequence[tuple[str, str]],
    *,
    base_url: str,
    count_matches: Callable[[], int],
    fetch: Fetch,
) -> dict[str, Any]:
    """One searchset page of ``resource_type``: the search's own ``applied`` parameters (as sent, for the
    links) and the result ``params`` decide it; ``fetch`` and ``count_matches`` are only called as needed.

    ``_summary=count`` and ``_count=0`` fetch nothing and give the total; ``_total=none`` leaves it out
    (and counts nothing unless the page needs it); a ``next`` link follows a full page that has more.
    """
    linked = [*applied, *params.in_links()]
    offset, count = params.offset, params.count
    page: Sequence[Mapping[str, Any]] = []
    more = False
    if params.summary != "count" and count != 0:
        page = fetch(offset, None if count is None else count + 1)
        if count is not None and len(page) > count:
            page, more = page[:count], True
    here = linked + ([("_offset", str(offset))] if offset else [])
    self_url = f"{base_url}/{resource_type}" + (f"?{urlencode(here)}" if here else "")
    bundle = searchset([params.shape(resource) for resource in page], self_url=self_url, base_url=base_url)
    if params.total == "none" and params.summary != "count":
        bundle.pop("total")
    elif params.summary == "count" or count == 0 or offset or more:
        bundle["total"] = count_matches()
    else:
        bundle["total"] = len(page)  # the first page holds every match: nothing to count again
    if more and count is not None:
        following = urlencode([*linked, ("_offset", str(offset + count))])
        bundle["link"].append({"relation": "next", "url": f"{base_url}/{resource_type}?{following}"})
    return bundle


def search_list(
    resource_type: str,
    params: ResultParams,
    applied: Sequence[tuple[str, str]],
    matches: Sequence[Mapping[str, Any]],
    *,
    base_url: str,
) -> dict[str, Any]:
    """:func:`search_bundle` over matches already in memory (the published definitions)."""

    def fetch(offset: int, limit: int | None) -> Sequence[Mapping[str, Any]]:
        return matches[offset:] if limit is None else matches[offset : offset + limit]

    return search_bundle(
        resource_type, params, applied, base_url=base_url, count_matches=lambda: len(matches), fetch=fetch
    )
