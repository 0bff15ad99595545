"""The care bundle files under ``bundles/``: they load, use only sourced codes, keep their markers and rules.

The loader checks shape and meaning; these tests check what it cannot: that the clinical content still says
what the sourced notes (``shared/clinical/README.md``) say, and that ``bundles/FORMAT.md`` documents the
schema.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from schemas.care_bundle import (
    ELEMENT_TYPES,
    OPERATORS,
    AnchorSchema,
    CareBundle,
    CareBundleLoader,
    CareBundleSchema,
    CheckSchema,
    CodingSchema,
    ComplianceSchema,
    CompositeSchema,
    Condition,
    ConditionSchema,
    Element,
    ElementSchema,
    FollowUpSchema,
    OptionSchema,
    PopulationSchema,
    SourceSchema,
    TimingRuleSchema,
    Unit,
    load_care_bundle,
    parse_care_bundle,
)
from service.care_bundles import CareBundleRegistry

BUNDLES_DIR = Path(__file__).resolve().parents[2] / "bundles"
BUNDLE_FILES = sorted(BUNDLES_DIR.glob("*.yaml"))
FORMAT_MD = BUNDLES_DIR / "FORMAT.md"
SNOMED = "http://snomed.info/sct"

# The only codes the sourced clinical notes give (shared/clinical/README.md): §1 OASI "Codes found credibly"
# (episiotomy; third- and fourth-degree perineal tear), §2 hip fracture "Code", §3 FREED "Code". §1 also
# names ICD-10 O70.2 / O70.3 but no code system URI for them, so they are not usable here. No LOINC codes.
SOURCED_CODES = frozenset(
    {
        (SNOMED, "85548006"),  # episiotomy (procedure), §1
        (SNOMED, "10217006"),  # third-degree perineal tear, §1
        (SNOMED, "399031001"),  # fourth-degree perineal tear, §1
        (SNOMED, "5913000"),  # fracture of neck of femur (disorder), §2
        (SNOMED, "72366004"),  # eating disorder (disorder), §3
    }
)

# Markers the sourced notes put on specific items (§1-§3), by care bundle id and element id: the marker must
# open a note of that element, and the note must still name the thing that is unverified or a design choice.
REQUIRED_MARKERS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "oasi-care-bundle": {
        "antenatal-discussion": [("[UNVERIFIED]", "32-36 weeks"), ("[DESIGN]", "options")],
        "mpp": [("[DESIGN]", "reasons")],
        "mpp-not-used-reason": [("[DESIGN]", "reasons")],
        "episiotomy-indication": [("[DESIGN]", "indication")],
        "episiotomy-mediolateral-60": [("[UNVERIFIED]", "at crowning")],
        "birth-mode": [("[DESIGN]", "mode-of-birth")],
    },
    "hip-fracture-pathway": {
        "delirium-screen-4at": [("[UNVERIFIED]", "KPI/BPT")],
        "fracture-type": [("[DESIGN]", "undisplaced intracapsular")],
        "geriatrician-assessment-time": [("[DESIGN]", "anchor")],
        "implant-trochanteric": [("[UNVERIFIED]", "trochanteric")],
    },
    "freed-triage": {
        "engagement-call": [("[UNVERIFIED]", "working days")],
        "previous-treatment": [("[DESIGN]", "previous eating-disorder treatment")],
        "diagnosis": [("[DESIGN]", "diagnosis"), ("[UNVERIFIED]", "list")],
        "date-of-birth": [("[UNVERIFIED]", "18-25")],
    },
}

# What the top-level notes must say is unverified (§1 notes, §2 "Compliance", §3 service standards).
TOP_LEVEL_UNVERIFIED = {
    "oasi-care-bundle": ["32-36 weeks", "at crowning"],
    "hip-fracture-pathway": ["NHFD KPIs", "BPT"],
    "freed-triage": ["working", "elapsed hours"],
}

MARKER = re.compile(r"\[(unverified|design)\]", re.IGNORECASE)


def _load(care_bundle_id: str) -> CareBundle:
    return load_care_bundle(BUNDLES_DIR / f"{care_bundle_id}.yaml")


def _element(care_bundle: CareBundle, element_id: str) -> Element:
    element = care_bundle.element(element_id)
    assert element is not None, f"{care_bundle.id} has no element {element_id!r}"
    return element


def _all_notes(care_bundle: CareBundle) -> list[tuple[str, str]]:
    """(where, note) for every note in the file: top level, anchor, sources, elements and timing rules."""
    notes = [("notes", note) for note in care_bundle.notes]
    notes += [("anchor", note) for note in care_bundle.anchor.notes]
    notes += [(f"sources.{source.id}", note) for source in care_bundle.sources for note in source.notes]
    for element in care_bundle.walk():
        notes += [(element.id, note) for note in element.notes]
        if element.compliance is not None:
            for rule in element.compliance.timing:
                notes += [(f"{element.id}.timing", note) for note in rule.notes]
    return notes


def _timing(element: Element) -> set[tuple[str, Decimal | None, int | None]]:
    assert element.compliance is not None, f"{element.id} has no compliance rule"
    return {(rule.start, rule.within_hours, rule.by_end_of_day) for rule in element.compliance.timing}


def _requires(care_bundle: CareBundle, element_id: str, condition: tuple[str, object]) -> bool:
    """Whether ``element_id`` can only be shown when ``condition`` (element "=" answer) holds.

    Directly, or because it can only be shown when an element is answered that itself needs the condition
    (a hidden element has no answer).
    """
    element = care_bundle.element(element_id)
    if element is None or not element.enable_when:
        return False

    def implies(c: Condition) -> bool:
        if c.operator == "=" and (c.element, c.answer) == condition:
            return True
        needs_answer = c.operator not in ("!=", "exists") or c.answer is True
        return needs_answer and _requires(care_bundle, c.element, condition)

    if element.enable_behavior == "any":
        return all(implies(c) for c in element.enable_when)
    return any(implies(c) for c in element.enable_when)


# ----------------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------------


def test_the_three_care_bundles_are_there() -> None:
    assert {path.stem for path in BUNDLE_FILES} >= {
        "oasi-care-bundle",
        "hip-fracture-pathway",
        "freed-triage",
    }


@pytest.mark.parametrize("path", BUNDLE_FILES, ids=lambda path: path.name)
def test_every_file_loads(path: Path) -> None:
    care_bundle = load_care_bundle(path)
    assert care_bundle.path == str(path)
    assert care_bundle.status == "active"
    assert care_bundle.timezone == "Europe/London"
    assert care_bundle.compliance_elements, "a care bundle with nothing to measure"


def test_the_folder_loads_as_one_registry_without_duplicate_versions() -> None:
    registry = CareBundleRegistry.from_directory(BUNDLES_DIR)
    assert len(registry) == len(BUNDLE_FILES)
    for care_bundle_id in ("oasi-care-bundle", "hip-fracture-pathway", "freed-triage"):
        assert registry.get(care_bundle_id, "1.0.0") is not None  # published: still served
        latest = registry.get(care_bundle_id)
        assert latest is not None
        assert latest.version == "2.0.0"


@pytest.mark.parametrize(
    ("care_bundle_id", "anchor_id"),
    [
        ("oasi-care-bundle", "birth-time"),
        ("hip-fracture-pathway", "arrival-time"),
        ("freed-triage", "referral-received"),
    ],
)
def test_anchors(care_bundle_id: str, anchor_id: str) -> None:
    anchor = _load(care_bundle_id).anchor
    assert (anchor.id, anchor.type) == (anchor_id, "dateTime")


# ----------------------------------------------------------------------------------------------------------
# Codes: only the sourced ones
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", BUNDLE_FILES, ids=lambda path: path.name)
def test_every_code_is_a_sourced_code(path: Path) -> None:
    care_bundle = load_care_bundle(path)
    used = {(coding.system, coding.code) for coding in care_bundle.codes}
    for element in care_bundle.walk():
        used |= {(coding.system, coding.code) for coding in element.codes}
        used |= {(option.system, option.code) for option in element.options if option.system is not None}
    assert used <= SOURCED_CODES, f"codes not in the sourced notes: {sorted(used - SOURCED_CODES)}"


def test_the_sourced_codes_sit_where_the_notes_put_them() -> None:
    hip = _load("hip-fracture-pathway")
    freed = _load("freed-triage")
    oasi = _load("oasi-care-bundle")
    assert [(c.system, c.code) for c in hip.codes] == [(SNOMED, "5913000")]
    assert [(c.system, c.code) for c in freed.codes] == [(SNOMED, "72366004")]
    assert oasi.codes == ()
    assert [(c.system, c.code) for c in _element(oasi, "episiotomy-performed").codes] == [
        (SNOMED, "85548006")
    ]
    coded = {
        element.id for care_bundle in (oasi, hip, freed) for element in care_bundle.walk() if element.codes
    }
    assert coded == {"episiotomy-performed"}
    # The tear codes are documented on the finding they belong to, not attached to an option.
    trauma_notes = " ".join(_element(oasi, "perineal-trauma").notes)
    assert "10217006" in trauma_notes
    assert "399031001" in trauma_notes


# ----------------------------------------------------------------------------------------------------------
# Markers
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("care_bundle_id", "element_id", "marker", "about"),
    [
        (care_bundle_id, element_id, marker, about)
        for care_bundle_id, elements in REQUIRED_MARKERS.items()
        for element_id, markers in elements.items()
        for marker, about in markers
    ],
)
def test_sourced_markers_are_kept(care_bundle_id: str, element_id: str, marker: str, about: str) -> None:
    notes = _element(_load(care_bundle_id), element_id).notes
    assert any(note.startswith(marker) and about in note for note in notes), (
        f"{care_bundle_id}/{element_id}: no note starting {marker} about {about!r} in {notes}"
    )


@pytest.mark.parametrize("care_bundle_id", sorted(TOP_LEVEL_UNVERIFIED))
def test_top_level_notes_say_what_is_unverified(care_bundle_id: str) -> None:
    notes = _load(care_bundle_id).notes
    unverified = " ".join(note for note in notes if note.startswith("[UNVERIFIED]"))
    for about in TOP_LEVEL_UNVERIFIED[care_bundle_id]:
        assert about in unverified, (
            f"top-level [UNVERIFIED] notes of {care_bundle_id} do not mention {about!r}"
        )
    assert any(note.startswith("[DESIGN]") for note in notes)


def test_freed_top_level_note_says_48_hours_are_elapsed_hours_until_confirmed() -> None:
    notes = _load("freed-triage").notes
    assert any("48" in note and "elapsed hours" in note and "reviewer" in note for note in notes)


@pytest.mark.parametrize("path", BUNDLE_FILES, ids=lambda path: path.name)
def test_markers_are_verbatim_and_open_their_note(path: Path) -> None:
    for where, note in _all_notes(load_care_bundle(path)):
        markers = list(MARKER.finditer(note))
        for marker in markers:
            assert marker.group(0) in ("[UNVERIFIED]", "[DESIGN]"), (
                f"{where}: marker spelt {marker.group(0)!r}"
            )
        if markers:
            assert MARKER.match(note), f"{where}: a marked note must start with its marker: {note!r}"


# ----------------------------------------------------------------------------------------------------------
# Timing and compliance rules, as data
# ----------------------------------------------------------------------------------------------------------


def test_hip_time_to_surgery_has_both_the_36_hour_and_the_calendar_day_rule() -> None:
    hip = _load("hip-fracture-pathway")
    anaesthesia = _element(hip, "anaesthesia-start")
    assert anaesthesia.type == "dateTime"
    assert _timing(anaesthesia) == {("anchor", Decimal(36), None), ("anchor", None, 1)}
    assert _requires(hip, "anaesthesia-start", ("operated", "yes"))


def test_hip_geriatrician_within_72_hours_by_a_qualifying_grade() -> None:
    hip = _load("hip-fracture-pathway")
    assert _timing(_element(hip, "geriatrician-assessment-time")) == {("anchor", Decimal(72), None)}
    grade = _element(hip, "geriatrician-grade")
    assert grade.compliance is not None
    assert set(grade.compliance.met) == {"consultant", "nccg", "st3-plus"}
    assert {option.code for option in grade.options} - set(grade.compliance.met) == {"other"}


def test_hip_mobilisation_by_the_day_after_surgery_for_operated_patients_only() -> None:
    hip = _load("hip-fracture-pathway")
    mobilised = _element(hip, "mobilised-date")
    assert mobilised.type == "date"
    assert _timing(mobilised) == {("anaesthesia-start", None, 1)}
    assert _requires(hip, "mobilised-date", ("operated", "yes"))
    assert _requires(hip, "mobilised-out-of-bed", ("operated", "yes"))


def test_hip_amt_before_and_after_surgery_are_two_integer_elements_0_to_10() -> None:
    hip = _load("hip-fracture-pathway")
    ids = [element.id for element in hip.walk()]
    for element_id in ("amt-pre-op", "amt-post-op"):
        amt = _element(hip, element_id)
        assert (amt.type, amt.min_value, amt.max_value) == ("integer", Decimal(0), Decimal(10))
        assert amt.compliance is not None
        assert amt.compliance.recorded
    assert ids.index("amt-pre-op") < ids.index("anaesthesia-start") < ids.index("amt-post-op")


@pytest.mark.parametrize(
    ("fracture_type", "element_id", "met"),
    [
        ("displaced-intracapsular", "implant-displaced-intracapsular", "total-hip-replacement"),
        ("trochanteric", "implant-trochanteric", "extramedullary"),
        ("subtrochanteric", "implant-subtrochanteric", "intramedullary-nail"),
    ],
)
def test_hip_implant_per_fracture_type(fracture_type: str, element_id: str, met: str) -> None:
    hip = _load("hip-fracture-pathway")
    implant = _element(hip, element_id)
    assert implant.compliance is not None
    assert implant.compliance.met == (met,)
    assert _requires(hip, element_id, ("fracture-type", fracture_type))
    assert _requires(hip, element_id, ("operated", "yes"))
    shown_for = {
        condition.answer
        for element in hip.walk()
        if element.id.startswith("implant-")
        for condition in element.enable_when
        if condition.element == "fracture-type"
    }
    assert "undisplaced-intracapsular" not in shown_for


def test_hip_total_hip_replacement_not_eligible_is_a_documented_exception() -> None:
    implant = _element(_load("hip-fracture-pathway"), "implant-displaced-intracapsular")
    assert implant.compliance is not None
    assert [(c.element, c.operator, c.answer) for c in implant.compliance.exception_when] == [
        ("thr-eligible", "=", "no")
    ]


def test_hip_local_hip_qip_items_do_not_count_towards_all_or_none() -> None:
    hip = _load("hip-fracture-pathway")
    local = [element for element in hip.walk() if "hip-qip" in element.sources]
    assert {element.id for element in local} == {
        "fascia-iliaca-block",
        "fascia-iliaca-block-time",
        "surgical-care-bundle",
        "nutritional-support",
    }
    ruled = {element.id: element.compliance for element in local if element.compliance is not None}
    assert set(ruled) == {"fascia-iliaca-block", "surgical-care-bundle", "nutritional-support"}
    for compliance in ruled.values():
        assert compliance.met == ("yes",)
        assert compliance.all_or_none is False


@pytest.mark.parametrize(
    ("element_id", "hours"), [("engagement-call", 48), ("assessment", 14 * 24), ("treatment-start", 28 * 24)]
)
def test_freed_service_standards_from_the_referral(element_id: str, hours: int) -> None:
    freed = _load("freed-triage")
    standard = _element(freed, element_id)
    assert standard.type == "dateTime"
    assert _timing(standard) == {("anchor", Decimal(hours), None)}
    assert _requires(freed, element_id, ("freed-eligible", "yes"))


def test_freed_only_the_three_service_standards_are_measured() -> None:
    freed = _load("freed-triage")
    assert {element.id for element in freed.compliance_elements} == {
        "engagement-call",
        "assessment",
        "treatment-start",
    }
    care_package = _element(freed, "care-package")
    assert [item.id for item in care_package.items] == [
        "psychoeducation",
        "dietary-change",
        "transitions",
        "social-media-use",
        "family-involvement",
    ]
    assert all({option.code for option in item.options} == {"yes", "no"} for item in care_package.items)


@pytest.mark.parametrize("path", BUNDLE_FILES, ids=lambda path: path.name)
def test_declined_is_always_a_documented_exception(path: Path) -> None:
    for element in load_care_bundle(path).walk():
        if element.compliance is not None and element.option("declined") is not None:
            assert "declined" in element.compliance.exception, element.id
            assert "declined" not in element.compliance.met, element.id


def test_oasi_practices_met_by_yes_with_declined_as_exception() -> None:
    oasi = _load("oasi-care-bundle")
    for element_id in ("antenatal-discussion", "mpp", "episiotomy-performed", "perineal-examination"):
        compliance = _element(oasi, element_id).compliance
        assert compliance is not None
        assert (compliance.met, compliance.exception) == (("yes",), ("declined",)), element_id
    assert {element.id for element in oasi.compliance_elements} == {
        "antenatal-discussion",
        "mpp",
        "episiotomy-performed",
        "episiotomy-mediolateral-60",
        "perineal-examination",
    }


@pytest.mark.parametrize(
    "element_id",
    ["mpp", "episiotomy-indication", "episiotomy-performed", "perineal-examination", "perineal-trauma"],
)
def test_oasi_birth_practices_only_after_a_vaginal_birth(element_id: str) -> None:
    oasi = _load("oasi-care-bundle")
    assert _requires(oasi, element_id, ("birth-mode", "vaginal"))
    assert not _requires(oasi, "antenatal-discussion", ("birth-mode", "vaginal"))


def test_oasi_episiotomy_is_not_applicable_when_not_indicated() -> None:
    oasi = _load("oasi-care-bundle")
    indication = _element(oasi, "episiotomy-indication")
    performed = _element(oasi, "episiotomy-performed")
    indicated = {option.code for option in indication.options} - {"not-indicated"}
    assert performed.enable_behavior == "any"
    assert {(c.element, c.operator) for c in performed.enable_when} == {("episiotomy-indication", "=")}
    assert {c.answer for c in performed.enable_when} == indicated
    assert _requires(oasi, "episiotomy-mediolateral-60", ("episiotomy-performed", "yes"))
    angle = _element(oasi, "episiotomy-angle")
    assert (angle.type, angle.unit) == ("integer", Unit("degrees"))


# ----------------------------------------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", BUNDLE_FILES, ids=lambda path: path.name)
def test_sources_are_cited_and_every_reference_resolves(path: Path) -> None:
    care_bundle = load_care_bundle(path)
    source_ids = {source.id for source in care_bundle.sources}
    assert source_ids
    cited: set[str] = set()
    for element in care_bundle.walk():
        assert set(element.sources) <= source_ids, f"{element.id}: {set(element.sources) - source_ids}"
        cited |= set(element.sources)
        if element.compliance is not None:
            assert element.sources, f"compliance element {element.id} cites no source"
    assert cited, "no element cites a source"
    for source in care_bundle.sources:
        assert source.url is None or source.url.startswith("https://"), source.id


def test_oasi2_trial_is_cited_by_its_doi() -> None:
    urls = {source.url for source in _load("oasi-care-bundle").sources}
    assert "https://doi.org/10.1186/s13012-021-01125-z" in urls


# ----------------------------------------------------------------------------------------------------------
# FORMAT.md stays in step with the schema
# ----------------------------------------------------------------------------------------------------------


def _format_text() -> str:
    return FORMAT_MD.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "schema",
    [
        CareBundleSchema,
        AnchorSchema,
        CodingSchema,
        SourceSchema,
        ElementSchema,
        OptionSchema,
        ConditionSchema,
        ComplianceSchema,
        TimingRuleSchema,
        CompositeSchema,
        PopulationSchema,
        CheckSchema,
        FollowUpSchema,
    ],
    ids=lambda schema: schema.__name__,
)
def test_format_md_documents_every_field(schema: type) -> None:
    text = _format_text()
    keys = {field.data_key or name for name, field in schema().fields.items()}
    missing = sorted(key for key in keys if f"`{key}`" not in text)
    assert not missing, f"FORMAT.md does not document {missing}"


def test_format_md_documents_every_type_and_operator() -> None:
    text = _format_text()
    assert [kind for kind in ELEMENT_TYPES if f"| `{kind}` |" not in text] == []
    assert [operator for operator in OPERATORS if f"`{operator}`" not in text] == []


def test_format_md_whole_file_example_loads() -> None:
    text = _format_text()
    section = text.split("## A whole file", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert example is not None
    care_bundle = parse_care_bundle(yaml.load(example.group(1), Loader=CareBundleLoader), "FORMAT.md")
    assert care_bundle.id == "oasi-care-bundle"
    mpp = _element(care_bundle, "mpp")
    assert mpp.compliance is not None
    assert mpp.compliance.exception == ("declined",)
