"""FHIR facts used in more than one place: canonical bases, extension URLs, identifier systems, operators.

One definition each; this module imports nothing from the project, so the care bundle format (``schemas``),
the mappings and the SDC validator can all share it.
"""

from __future__ import annotations

#: Canonical base of every Careloop definition. ``.example`` is reserved (RFC 2606): this is a placeholder
#: until the project owns a domain; see docs/decisions/0003-canonical-urls.md.
CARELOOP_CANONICAL_BASE = "https://careloop.example/fhir"
CARELOOP_EXTENSION_BASE = f"{CARELOOP_CANONICAL_BASE}/StructureDefinition"

#: R4 ``QuestionnaireItemOperator`` (enableWhen.operator), in the order the specification lists them.
ENABLE_WHEN_OPERATORS: tuple[str, ...] = ("exists", "=", "!=", ">", "<", ">=", "<=")

# Core and SDC extensions on Questionnaire items.
_SD = "http://hl7.org/fhir/StructureDefinition/"
_SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/"
EXT_MIN_VALUE = _SD + "minValue"
EXT_MAX_VALUE = _SD + "maxValue"
EXT_MIN_LENGTH = _SD + "minLength"
EXT_REGEX = _SD + "regex"
EXT_MAX_DECIMAL_PLACES = _SD + "maxDecimalPlaces"
EXT_MIN_OCCURS = _SD + "questionnaire-minOccurs"
EXT_MAX_OCCURS = _SD + "questionnaire-maxOccurs"
EXT_MIME_TYPE = _SD + "mimeType"
EXT_MAX_SIZE = _SD + "maxSize"
EXT_REFERENCE_RESOURCE = _SD + "questionnaire-referenceResource"
EXT_UNIT = _SD + "questionnaire-unit"
EXT_UNIT_OPTION = _SD + "questionnaire-unitOption"
EXT_UNIT_VALUE_SET = _SD + "questionnaire-unitValueSet"
EXT_OPTION_EXCLUSIVE = _SD + "questionnaire-optionExclusive"
EXT_CONSTRAINT = _SD + "questionnaire-constraint"
EXT_ITEM_CONTROL = _SD + "questionnaire-itemControl"
EXT_DESIGN_NOTE = _SD + "designNote"
EXT_MIN_QUANTITY = _SDC + "sdc-questionnaire-minQuantity"
EXT_MAX_QUANTITY = _SDC + "sdc-questionnaire-maxQuantity"
EXT_ENABLE_WHEN_EXPRESSION = _SDC + "sdc-questionnaire-enableWhenExpression"
EXT_CALCULATED_EXPRESSION = _SDC + "sdc-questionnaire-calculatedExpression"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"

UCUM_SYSTEM = "http://unitsofmeasure.org"

#: UK Core Patient: the NHS number (England and Wales).
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
#: The Community Health Index (CHI) number of NHS Scotland, by its HL7 OID (UK national identifier
#: value sets of published UK implementation guides use this URI).
CHI_NUMBER_SYSTEM = "urn:oid:2.16.840.1.113883.2.1.3.2.4.16.53"
