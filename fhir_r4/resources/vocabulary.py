"""The vocabulary the resources speak: media types, systems, canonical URLs and codes."""

from __future__ import annotations

FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CANONICAL = "https://tandem.example/fhir"
PATIENT_ID_SYSTEM = f"{CANONICAL}/sid/patient-id"
ASRM_SYSTEM = f"{CANONICAL}/CodeSystem/asrm"
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
BP_PROFILE = "http://hl7.org/fhir/StructureDefinition/bp"
HR_PROFILE = "http://hl7.org/fhir/StructureDefinition/heartrate"

PHQ9_QUESTIONNAIRE = f"{CANONICAL}/Questionnaire/phq-9"
ASRM_QUESTIONNAIRE = f"{CANONICAL}/Questionnaire/asrm"

PHQ9_TOTAL = "44261-6"
BP_PANEL = "85354-9"
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"
HEART_RATE = "8867-4"
# The Observation codes this server holds, each with its display and id prefix.
OBSERVATION_CODES: dict[str, tuple[str, str]] = {
    PHQ9_TOTAL: ("phq9", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"),
    BP_PANEL: ("bp", "Blood pressure panel with all children optional"),
    HEART_RATE: ("hr", "Heart rate"),
}
