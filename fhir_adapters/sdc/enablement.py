"""enableWhen over a response, per the R4 rules.

Each condition reads the answers of one occurrence of its question: when the linkId occurs more than once
(repeating groups), the nearest occurrence on the ancestor axis, then the preceding, then the following axis
(Questionnaire.item.enableWhen.question). A disabled question counts as unanswered, and an item under a
disabled item is disabled. Operators follow the R4 ``questionnaire-enable-operator`` definitions: ``!=`` is
true when no answer equals the value (so also when there is no answer); the others need an answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fhir_adapters.sdc.answers import compare
from fhir_adapters.sdc.compiled import Comparable, CompiledItem, Condition, comparable

_NOT_DONE, _IN_PROGRESS, _DONE = 0, 1, 2


class ResponseNode:
    """One response item in document order; ``end`` is the index of its last descendant."""

    __slots__ = (
        "item",
        "path",
        "index",
        "end",
        "parent",
        "values",
        "answer_count",
        "answered",
        "enabled",
        "state",
    )

    def __init__(self, item: CompiledItem, path: str, index: int, parent: ResponseNode | None) -> None:
        self.item = item
        self.path = path
        self.index = index
        self.end = index
        self.parent = parent
        self.values: list[tuple[str, Any]] = []  # well-formed answer values, for enableWhen
        self.answer_count = 0  # answers with one value[x], well-formed or not, for required and repeats
        self.answered = False
        self.enabled: bool | None = True
        self.state = _NOT_DONE


class Enablement:
    """Answers "is this item enabled here?"; True, False, or None when the Questionnaire does not say
    in a way we can evaluate (enableWhenExpression, malformed conditions).

    A question defined inside a repeating group is looked up in the group instance that holds the item
    being judged (the nearest such instance on the ancestor axis): when that instance does not answer it,
    it is unanswered there, whatever other instances say.
    """

    def __init__(
        self,
        by_link_id: dict[str, list[ResponseNode]],
        parent_of: Mapping[str, CompiledItem | None] | None = None,
    ) -> None:
        self.by_link_id = by_link_id
        self.parent_of = parent_of or {}

    def of(self, node: ResponseNode) -> bool | None:
        if node.state == _DONE:
            return node.enabled
        if node.state == _IN_PROGRESS:
            return True  # a cycle of conditions: do not disable on it
        node.state = _IN_PROGRESS
        parent = self.of(node.parent) if node.parent is not None else True
        own = (
            self._own(node.item, node.index, node.parent, node.index, node.end)
            if parent is not False
            else True
        )
        node.enabled = (
            False if parent is False or own is False else None if parent is None or own is None else True
        )
        node.state = _DONE
        return node.enabled

    def missing(self, item: CompiledItem, position: float, owner: ResponseNode | None) -> bool | None:
        """Whether an item absent from the response would be enabled where it belongs."""
        return self._own(item, position, owner, -1, -1)

    def _own(
        self, item: CompiledItem, position: float, owner: ResponseNode | None, low: int, high: int
    ) -> bool | None:
        if item.enable_unknown:
            return None
        if not item.conditions:
            return True
        results = (self._holds(condition, position, owner, low, high) for condition in item.conditions)
        return all(results) if item.enable_all else any(results)

    def _holds(
        self, condition: Condition, position: float, owner: ResponseNode | None, low: int, high: int
    ) -> bool:
        occurrences = self.by_link_id.get(condition.question)
        target = None
        scope = self._instance_holding(condition.question, owner) if occurrences else None
        if scope is not None:
            inside = [node for node in occurrences or () if scope.index < node.index <= scope.end]
            target = _nearest(inside, condition.question, position, owner, low, high) if inside else None
        elif occurrences:
            if len(occurrences) == 1:
                target = occurrences[0] if not low < occurrences[0].index <= high else None
            else:
                target = _nearest(occurrences, condition.question, position, owner, low, high)
        values = target.values if target is not None and self.of(target) is not False else ()
        return evaluate(condition, values)

    def _instance_holding(self, question: str, owner: ResponseNode | None) -> ResponseNode | None:
        """The nearest repeating group instance above ``owner`` whose definition contains ``question``."""
        defined_in: set[str] = set()
        parent = self.parent_of.get(question)
        while parent is not None:
            defined_in.add(parent.link_id)
            parent = self.parent_of.get(parent.link_id)
        node = owner
        while node is not None:
            if node.item.is_group and node.item.repeats and node.item.link_id in defined_in:
                return node
            node = node.parent
        return None


def _nearest(
    occurrences: Sequence[ResponseNode],
    link_id: str,
    position: float,
    owner: ResponseNode | None,
    low: int,
    high: int,
) -> ResponseNode | None:
    ancestor = owner
    while ancestor is not None:
        if ancestor.item.link_id == link_id:
            return ancestor
        ancestor = ancestor.parent
    preceding = None
    for occurrence in occurrences:
        if occurrence.index < position:
            preceding = occurrence
        elif preceding is None and occurrence.index > position and not low < occurrence.index <= high:
            return occurrence
    return preceding


def evaluate(condition: Condition, values: Sequence[tuple[str, Any]]) -> bool:
    expected = condition.expected
    assert expected is not None
    operator = condition.operator
    if operator == "exists":
        return bool(values) is expected[1]
    if operator == "=":
        return any(_equal(key, value, expected) for key, value in values)
    if operator == "!=":
        return not any(_equal(key, value, expected) for key, value in values)
    for key, value in values:
        answer = comparable(key, value)
        order = _order(answer, expected) if answer is not None else None
        if order is None:
            continue
        if (
            (operator == ">" and order > 0)
            or (operator == "<" and order < 0)
            or (operator == ">=" and order >= 0)
            or (operator == "<=" and order <= 0)
        ):
            return True
    return False


def _equal(key: str, value: Any, expected: Comparable) -> bool:
    answer = comparable(key, value)
    if answer is None or answer[0] != expected[0]:
        return False
    if answer[0] == "coding":
        system, code = expected[1]
        return bool(answer[1][1] == code and (system is None or answer[1][0] == system))
    if answer[0] == "quantity":
        return compare(answer, expected) == 0
    return bool(answer[1] == expected[1])


def _order(answer: Comparable, expected: Comparable) -> int | None:
    order = compare(answer, expected)
    if order == 0 and answer[0] == "temporal" and len(answer[1]) != len(expected[1]):
        return None  # 2022 vs 2022-06: neither before, after nor equal
    return order
