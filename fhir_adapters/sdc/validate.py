"""Validate a QuestionnaireResponse (JSON) against its Questionnaire, following the FHIR R4 / SDC rules.

One walk over the response checks linkIds, nesting, order, text and every answer; a second pass, once all
answers are known, applies enableWhen, ``required``, ``repeats`` and min/maxOccurs.

Severity policy:
- errors: unknown or misplaced linkIds, wrong answer types or formats, answers outside options or limits,
  answers to disabled items, missing required answers, too many answers or instances, a response that names
  a different Questionnaire (url, or version when both have one);
- warnings: a draft or retired Questionnaire, a response authored outside its effectivePeriod, a response
  that does not name its Questionnaire, rules we do not evaluate (FHIRPath constraints);
- ``in-progress`` and ``stopped`` responses are incomplete by definition: required and minOccurs are not
  enforced and surplus answers or instances are warnings; every other rule still applies;
- bindings we cannot check offline become ``TerminologyCheck`` issues (severity information).

Issue codes: ``structure`` (linkIds, nesting, order, answer types, cardinality), ``required`` (missing
answers, minOccurs), ``value`` (formats, options, limits, lengths, patterns, text), ``code-invalid`` (a code
outside a contained value set), ``business-rule`` (disabled items, exclusive options, Questionnaire status
and period), ``invalid`` / ``not-found`` (the Questionnaire itself), ``not-supported`` (rules not evaluated),
``informational`` (``TerminologyCheck``). Expressions are FHIRPath: ``QuestionnaireResponse.item[0].item[1]``,
``QuestionnaireResponse.item[2].answer[0].item[0]``; problems in the Questionnaire itself use
``Questionnaire.item[..]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir_adapters.operation_outcome import Issue, echo, operation_outcome
from fhir_adapters.sdc.answers import check_answer
from fhir_adapters.sdc.compiled import CompiledItem, CompiledQuestionnaire, compile_questionnaire, option_key
from fhir_adapters.sdc.enablement import Enablement, ResponseNode
from fhir_adapters.sdc.primitives import compare_temporal, temporal_key

ROOT = "QuestionnaireResponse"
INCOMPLETE_STATUSES = frozenset({"in-progress", "stopped"})

# A container of response items: (owner node or None for the root, the owning Questionnaire item or None,
# the instances found per linkId, the container's path).
_Pending = tuple[ResponseNode | None, CompiledItem | None, dict[str, list[ResponseNode]], str]


def validate_response(
    questionnaire: Mapping[str, Any] | CompiledQuestionnaire | None, response: Mapping[str, Any]
) -> list[Issue]:
    """All problems of ``response`` against ``questionnaire`` (JSON, or compiled once with
    ``compile_questionnaire`` for speed). ``None`` means the Questionnaire could not be resolved: an error
    when the response names one, a warning that the SDC rules were not applied when it names none."""
    if questionnaire is None:
        named = response.get("questionnaire")
        if not named:
            # Nothing to check it against: the FHIR structure was checked; say plainly that no more was.
            message = "No Questionnaire is named (questionnaire): the SDC rules were not applied"
            return [Issue("warning", "not-found", message, ROOT)]
        return [Issue("error", "not-found", f"Questionnaire {named} could not be found", ROOT)]
    if not isinstance(questionnaire, CompiledQuestionnaire):
        questionnaire = compile_questionnaire(questionnaire)
    if response.get("resourceType") != "QuestionnaireResponse":
        return [Issue("fatal", "structure", "Not a QuestionnaireResponse", ROOT)]
    return _Run(questionnaire, response).issues


#: (linkId, instance): ``instance`` numbers the occurrences of the enclosing repeating group (None outside
#: one, and for a repeating group itself).
EnabledKey = tuple[str, int | None]


def enabled_items(
    questionnaire: CompiledQuestionnaire, response: Mapping[str, Any]
) -> dict[EnabledKey, bool]:
    """Which items are enabled, by the R4 enableWhen rules, for every item of the Questionnaire.

    Items absent from the response are judged where they would belong. A condition this module cannot
    evaluate (``enableWhenExpression``) counts as enabled. This is the one implementation of enableWhen:
    Careloop's checklist evaluation asks it too.
    """
    return _Run(questionnaire, response).enabled_map()


def to_operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return operation_outcome(issues)


class _Run:
    def __init__(self, questionnaire: CompiledQuestionnaire, response: Mapping[str, Any]) -> None:
        self.q = questionnaire
        self.issues: list[Issue] = list(questionnaire.issues)
        self.incomplete = response.get("status") in INCOMPLETE_STATUSES
        self.nodes: list[ResponseNode] = []
        self.by_link_id: dict[str, list[ResponseNode]] = {}
        self.pending: list[_Pending] = []
        self._header(response)
        self._container(response.get("item"), None, None, ROOT)
        self._finish()

    def error(self, code: str, message: str, path: str) -> None:
        self.issues.append(Issue("error", code, message, path))

    def surplus(self, message: str, path: str) -> None:
        """Too many answers or instances: an error once the response claims to be complete."""
        self.issues.append(Issue("warning" if self.incomplete else "error", "structure", message, path))

    def _header(self, response: Mapping[str, Any]) -> None:
        q = self.q
        if q.status in ("draft", "retired"):
            self.issues.append(Issue("warning", "business-rule", f"The Questionnaire is {q.status}", ROOT))
        named = response.get("questionnaire")
        if not isinstance(named, str):
            self.issues.append(
                Issue("warning", "required", "The response does not name its Questionnaire", ROOT)
            )
        elif q.url is not None:
            url, _, version = named.partition("|")
            if url != q.url:
                self.error("invalid", f"The response is for {url}, not {q.url}", f"{ROOT}.questionnaire")
            elif version and q.version and version != q.version:
                self.error(
                    "invalid",
                    f"The response is for version {version}, not {q.version}",
                    f"{ROOT}.questionnaire",
                )
            elif version and not q.version:
                self.issues.append(
                    Issue(
                        "warning",
                        "business-rule",
                        f"The response is for version {version}; the Questionnaire has none",
                        f"{ROOT}.questionnaire",
                    )
                )
        authored = response.get("authored")
        when = temporal_key(authored) if isinstance(authored, str) else None
        if when is not None:
            early = q.effective_start is not None and compare_temporal(when, q.effective_start) < 0
            late = q.effective_end is not None and compare_temporal(when, q.effective_end) > 0
            if early or late:
                self.issues.append(
                    Issue(
                        "warning",
                        "business-rule",
                        "The response was authored outside the Questionnaire's effective period",
                        f"{ROOT}.authored",
                    )
                )

    def _container(
        self, raw: Any, owner: ResponseNode | None, parent: CompiledItem | None, path: str
    ) -> None:
        """The items of the response root, of a group instance, or of one answer to a question."""
        order = parent.child_order if parent is not None else self.q.child_order
        children = parent.children if parent is not None else self.q.items
        found: dict[str, list[ResponseNode]] = {}
        self.pending.append((owner, parent, found, path))
        if raw is None:
            return
        if not isinstance(raw, list):
            self.error("structure", "item must be an array", f"{path}.item")
            return
        last = -1
        for index, data in enumerate(raw):
            item_path = f"{path}.item[{index}]"
            # The exact type check first: isinstance against an ABC is slow on this hot path.
            link_id = data.get("linkId") if type(data) is dict or isinstance(data, Mapping) else None
            if not isinstance(link_id, str):
                self.error("required", "A response item needs a linkId", item_path)
                continue
            position = order.get(link_id)
            if position is None:
                self._misplaced(link_id, item_path, parent)
                continue
            if position < last:
                self.error(
                    "structure", f"Item {echo(link_id)} is out of the Questionnaire's order", item_path
                )
            last = max(last, position)
            node = self._item(data, children[position], owner, item_path)
            found.setdefault(link_id, []).append(node)

    def _misplaced(self, link_id: str, path: str, parent: CompiledItem | None) -> None:
        item = self.q.by_link_id.get(link_id)
        if item is None:
            self.error("structure", f"linkId {echo(link_id)} is not in the Questionnaire", path)
            return
        home = self.q.parent_of.get(link_id)
        if home is None:
            where = "at the top level"
        elif home.is_group:
            where = f"in group '{home.link_id}'"
        else:
            where = f"under an answer of '{home.link_id}'"
        here = "at the top level" if parent is None else f"under '{parent.link_id}'"
        self.error("structure", f"Item {echo(link_id)} belongs {where}, not {here}", path)

    def _item(
        self, data: Mapping[str, Any], item: CompiledItem, owner: ResponseNode | None, path: str
    ) -> ResponseNode:
        node = ResponseNode(item, path, len(self.nodes), owner)
        self.nodes.append(node)
        self.by_link_id.setdefault(item.link_id, []).append(node)
        text = data.get("text")
        if text is not None and item.text is not None and text != item.text:
            self.error("value", f"Text of item '{item.link_id}' differs from the Questionnaire's", path)
        if item.problem is not None:
            self.error("invalid", f"{item.problem}; its answers cannot be validated", path)
            return node
        answers = data.get("answer")
        if answers is not None:
            self._answers(answers, node, path)
        nested = data.get("item")
        if item.is_group:
            self._container(nested, node, item, path)
        elif nested is not None:
            for index, child in enumerate(nested if isinstance(nested, list) else ()):
                link_id = child.get("linkId") if isinstance(child, Mapping) else None
                child_path = f"{path}.item[{index}]"
                if not isinstance(link_id, str):
                    self.error("required", "A response item needs a linkId", child_path)
                elif link_id in item.child_order:
                    self.error(
                        "structure",
                        f"Item {echo(link_id)} must be nested under an answer of '{item.link_id}'",
                        child_path,
                    )
                else:
                    self._misplaced(link_id, child_path, item)
        node.end = len(self.nodes) - 1
        if node.answered and owner is not None:
            owner.answered = True
        return node

    def _answers(self, answers: Any, node: ResponseNode, path: str) -> None:
        item = node.item
        if not item.value_keys:
            kind = "groups" if item.is_group else f"{item.type} items"
            self.error("structure", f"Item '{item.link_id}': {kind} carry no answers", f"{path}.answer")
            return
        if not isinstance(answers, list):
            self.error("structure", "answer must be an array", f"{path}.answer")
            return
        nests = bool(item.children)
        values = node.values
        for index, answer in enumerate(answers):
            answer_path = f"{path}.answer[{index}]"
            if type(answer) is not dict and not isinstance(answer, Mapping):
                self.error("structure", "An answer must be an object", answer_path)
                continue
            keys = [key for key in answer if key.startswith("value")]
            if len(keys) == 1:
                key = keys[0]
                node.answer_count += 1
                if check_answer(item, key, answer[key], answer_path, self.issues):
                    values.append((key, answer[key]))
            elif keys:
                self.error("structure", "An answer has exactly one value[x]", answer_path)
            else:
                self.error("required", f"Answer to '{item.link_id}' has no value", answer_path)
            nested = answer.get("item")
            if nests:
                self._container(nested, node, item, answer_path)
            elif nested is not None:
                self.error(
                    "structure", f"Item '{item.link_id}' has no items nested under its answers", answer_path
                )
        count = node.answer_count
        if count:
            node.answered = True
        if count > 1:
            if not item.repeats:
                self.surplus(f"Item '{item.link_id}' does not repeat but has {count} answers", path)
            elif item.max_occurs is not None and count > item.max_occurs:
                self.surplus(f"Item '{item.link_id}' allows at most {item.max_occurs} answers", path)
            if item.exclusive:
                for index, (key, value) in enumerate(values):
                    if option_key(key, value) in item.exclusive:
                        self.error(
                            "business-rule",
                            f"An exclusive option of '{item.link_id}' is combined with other answers",
                            f"{path}.answer[{index}]",
                        )

    def enabled_map(self) -> dict[EnabledKey, bool]:
        enablement = self.enablement
        result: dict[EnabledKey, bool] = {}

        def absent(
            item: CompiledItem, owner: ResponseNode | None, instance: int | None, at: float, up: bool
        ) -> None:
            own = enablement.missing(item, at, owner) if enablement is not None and up else up
            enabled = up and own is not False
            key = (item.link_id, instance)
            result[key] = result.get(key, False) or enabled
            for child in item.children:
                absent(child, owner, instance, at, enabled)

        for owner, parent, found, _ in self.pending:
            instance = self._instance(owner)
            children = parent.children if parent is not None else self.q.items
            last_end = owner.index if owner is not None else -1
            for child in children:
                nodes = found.get(child.link_id)
                if not nodes:
                    absent(
                        child, owner, instance, last_end + 0.5, owner is None or owner.enabled is not False
                    )
                    continue
                last_end = nodes[-1].end
                key = (child.link_id, instance)
                result[key] = result.get(key, False) or any(node.enabled is not False for node in nodes)
        return result

    def _instance(self, node: ResponseNode | None) -> int | None:
        """The occurrence number of the nearest repeating group at or above ``node``."""
        while node is not None:
            if node.item.is_group and node.item.repeats:
                return self.by_link_id[node.item.link_id].index(node)
            node = node.parent
        return None

    def _finish(self) -> None:
        enablement = Enablement(self.by_link_id, self.q.parent_of) if self.q.has_conditions else None
        self.enablement = enablement
        if enablement is not None:
            for node in self.nodes:
                enabled = enablement.of(node)
                above = node.parent
                if enabled is False and node.answered and (above is None or above.enabled is not False):
                    self.error(
                        "business-rule", f"Item '{node.item.link_id}' is disabled but answered", node.path
                    )
        for owner, parent, found, path in self.pending:
            if owner is not None and owner.enabled is False:
                continue
            children = parent.children if parent is not None else self.q.items
            last_end = owner.index if owner is not None else -1
            for child in children:
                instances = found.get(child.link_id)
                if instances:
                    last_end = instances[-1].end
                    enabled = instances[0].enabled
                    self._instances(child, instances)
                elif enablement is not None:
                    enabled = enablement.missing(child, last_end + 0.5, owner)
                else:
                    enabled = True
                if enabled is True and not self.incomplete:
                    self._completeness(child, instances or [], path)

    def _instances(self, item: CompiledItem, instances: list[ResponseNode]) -> None:
        count = len(instances)
        if count == 1:
            return
        if not item.is_group:
            self.surplus(
                f"Question '{item.link_id}' appears {count} times; put repeated answers in one item",
                instances[1].path,
            )
        elif not item.repeats:
            self.surplus(
                f"Group '{item.link_id}' does not repeat but appears {count} times", instances[1].path
            )
        elif item.max_occurs is not None and count > item.max_occurs:
            self.surplus(
                f"Group '{item.link_id}' may appear at most {item.max_occurs} times", instances[1].path
            )

    def _completeness(self, item: CompiledItem, instances: list[ResponseNode], path: str) -> None:
        if item.type == "display" or item.problem is not None:
            return
        if item.is_group:
            count = len(instances)
            answered = any(node.answered for node in instances)
        else:
            count = sum(node.answer_count for node in instances)
            answered = count > 0
        where = instances[0].path if instances else path
        if item.required and not answered:
            what = (
                "has no answered items"
                if item.is_group and instances
                else "is missing"
                if not instances
                else "has no answer"
            )
            self.error("required", f"Required item '{item.link_id}' {what}", where)
        elif item.min_occurs is not None and count < item.min_occurs:
            noun = "instances" if item.is_group else "answers"
            self.error(
                "required",
                f"Item '{item.link_id}' needs at least {item.min_occurs} {noun}, has {count}",
                where,
            )
