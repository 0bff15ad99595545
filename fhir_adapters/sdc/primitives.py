"""FHIR R4 primitive formats and comparisons, shared by the SDC rules and the strict JSON checks.

Patterns are the R4 ``StructureDefinition`` regexes, compiled once at import; calendar checks are added
because the regexes accept 2021-02-30.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
_ZONE = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
DATE_RE = re.compile(_YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?")
DATE_TIME_RE = re.compile(
    _YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T" + _TIME + _ZONE + r")?)?)?"
)
INSTANT_RE = re.compile(_YEAR + r"-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T" + _TIME + _ZONE)
TIME_RE = re.compile(_TIME)
CODE_RE = re.compile(r"[^\s]+(\s[^\s]+)*")
ID_RE = re.compile(r"[A-Za-z0-9\-.]{1,64}")
#: Base64 once whitespace is removed: no two quantifiers can share a character, so matching is linear (the
#: old pattern's ``[...\s]*`` then ``\s*`` backtracked quadratically on a long run of spaces).
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_UUID_URN_RE = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_OID_URN_RE = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+")
# RFC 3986 forbids these anywhere in a URI; IRIs may still carry non-ASCII letters.
_URI_BAD_RE = re.compile(r'[\s\\"<>^`{|}\x00-\x1f\x7f]')
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def is_date(value: str) -> bool:
    if DATE_RE.fullmatch(value) is None:
        return False
    return len(value) < 10 or _real_day(value)


def is_date_time(value: str) -> bool:
    if DATE_TIME_RE.fullmatch(value) is None:
        return False
    return len(value) < 10 or _real_day(value)


def is_instant(value: str) -> bool:
    return INSTANT_RE.fullmatch(value) is not None and _real_day(value)


def is_time(value: str) -> bool:
    return TIME_RE.fullmatch(value) is not None


def _real_day(value: str) -> bool:
    try:
        date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        return False
    return True


def is_uri(value: str) -> bool:
    """RFC 3986 shape (relative references allowed) plus the FHIR rules for ``urn:uuid`` and ``urn:oid``."""
    if not value or _URI_BAD_RE.search(value):
        return False
    if value.startswith("urn:uuid:"):
        return _UUID_URN_RE.fullmatch(value) is not None
    if value.startswith("urn:oid:"):
        return _OID_URN_RE.fullmatch(value) is not None
    colon = value.find(":")
    if colon > 0:
        before = value[:colon]
        if "/" not in before and "?" not in before and "#" not in before:
            return _SCHEME_RE.fullmatch(before) is not None
    return colon != 0


def is_canonical(value: str) -> bool:
    """A URI with an optional ``|version`` (the one place FHIR allows a bar)."""
    url, bar, version = value.partition("|")
    return is_uri(url) and (not bar or (bool(version) and _URI_BAD_RE.search(version) is None))


def base64_length(value: str) -> int | None:
    """Decoded byte length of base64 text, or None when it is not base64."""
    compact = "".join(value.split())
    if _BASE64_RE.fullmatch(compact) is None or len(compact) % 4:
        return None
    return len(compact) // 4 * 3 - (len(compact) - len(compact.rstrip("=")))


def is_number(value: Any) -> bool:
    """A JSON number as the json module gives it (bool is an int in Python, not in JSON)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int | Decimal)


def is_integer(value: Any) -> bool:
    return type(value) is int and INT32_MIN <= value <= INT32_MAX


def decimal_places(value: float | int | Decimal) -> int:
    """Digits after the point as written; a float from ``json.loads`` round-trips via its shortest repr."""
    if isinstance(value, int):
        return 0
    exponent = (value if isinstance(value, Decimal) else Decimal(repr(value))).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def temporal_key(value: str) -> tuple[int, ...] | None:
    """Comparable parts of a date, dateTime or time; dateTimes with a time are normalised to UTC."""
    try:
        if "T" in value:
            moment = datetime.fromisoformat(value).astimezone(UTC)
            return (
                moment.year,
                moment.month,
                moment.day,
                moment.hour,
                moment.minute,
                moment.second,
                moment.microsecond,
            )
        if ":" in value:
            hour, minute, second = value.split(":")
            whole, _, fraction = second.partition(".")
            return (int(hour), int(minute), int(whole), int((fraction + "000000")[:6]))
        return tuple(int(part) for part in value.split("-"))
    except ValueError:
        return None


def compare_temporal(left: tuple[int, ...], right: tuple[int, ...]) -> int:
    """-1/0/1 at the precision both values share: 2022-06-30 is neither before nor after 2022-06."""
    common = min(len(left), len(right))
    a, b = left[:common], right[:common]
    return (a > b) - (a < b)


# The resource types of FHIR R4 (4.0.1): a RESTful reference must name one of them.
_R4_RESOURCE_NAMES = """
Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse AuditEvent
Basic Binary BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement CarePlan CareTeam
CatalogEntry ChargeItem ChargeItemDefinition Claim ClaimResponse ClinicalImpression CodeSystem
Communication CommunicationRequest CompartmentDefinition Composition ConceptMap Condition Consent
Contract Coverage CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue Device
DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement DiagnosticReport DocumentManifest
DocumentReference EffectEvidenceSynthesis Encounter Endpoint EnrollmentRequest EnrollmentResponse
EpisodeOfCare EventDefinition Evidence EvidenceVariable ExampleScenario ExplanationOfBenefit
FamilyMemberHistory Flag Goal GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy
Immunization ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice
Library Linkage List Location Measure MeasureReport Media Medication MedicationAdministration
MedicationDispense MedicationKnowledge MedicationRequest MedicationStatement MedicinalProduct
MedicinalProductAuthorization MedicinalProductContraindication MedicinalProductIndication
MedicinalProductIngredient MedicinalProductInteraction MedicinalProductManufactured
MedicinalProductPackaged MedicinalProductPharmaceutical MedicinalProductUndesirableEffect
MessageDefinition MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
ObservationDefinition OperationDefinition OperationOutcome Organization OrganizationAffiliation
Parameters Patient PaymentNotice PaymentReconciliation Person PlanDefinition Practitioner
PractitionerRole Procedure Provenance Questionnaire QuestionnaireResponse RelatedPerson RequestGroup
ResearchDefinition ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment
RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen SpecimenDefinition
StructureDefinition StructureMap Subscription Substance SubstanceNucleicAcid SubstancePolymer
SubstanceProtein SubstanceReferenceInformation SubstanceSourceMaterial SubstanceSpecification
SupplyDelivery SupplyRequest Task TerminologyCapabilities TestReport TestScript ValueSet
VerificationResult VisionPrescription
"""
R4_RESOURCE_TYPES = frozenset(_R4_RESOURCE_NAMES.split())

_RELATIVE_REF_RE = re.compile(r"([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?")
_ABSOLUTE_REF_RE = re.compile(
    r"(https?)://[^/]+(/[^/]+)*/([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?"
)


def reference_target(reference: str) -> tuple[bool, str | None]:
    """(well formed, resource type or None when the reference does not say) for ``Reference.reference``.

    Relative and RESTful absolute URLs must name an R4 resource type; other URIs (``urn:uuid:``, ``#id``,
    opaque URLs) are accepted without a type.
    """
    if reference.startswith("#"):
        return len(reference) > 1, None
    match = _RELATIVE_REF_RE.fullmatch(reference) or _ABSOLUTE_REF_RE.fullmatch(reference)
    if match is not None:
        kind = match.group(1) if match.re is _RELATIVE_REF_RE else match.group(3)
        return kind in R4_RESOURCE_TYPES, kind
    if not is_uri(reference):
        return False, None
    if ":" not in reference.split("/", 1)[0]:
        # Relative but not Type/id: a local reference must be Type/id.
        return False, None
    return True, None
