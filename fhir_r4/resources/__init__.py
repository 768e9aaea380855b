"""FHIR R4 resources built from Tandem's records, checked by the fhir.resources models.

One module a family (see README, "For the integrator", for the mapping choices):
`vocabulary` (systems, canonical URLs, codes), `datatypes` (Coding, instant, Reference ...),
`instruments` (the PHQ-9 and ASRM Questionnaires), `demographics` (Patient), `checkins`
(what a check-in makes: QuestionnaireResponses and the PHQ-9 total Observation), `vitals`
(the blood pressure and heart rate Observations) and `server` (Bundles, OperationOutcomes,
the CapabilityStatement and the validation every answer passes).

fhir.resources ships R4B (4.3) models, whose Patient, Questionnaire, QuestionnaireResponse,
Observation, Bundle, CapabilityStatement and OperationOutcome are unchanged from R4 (4.0.1)
for every element used here; the server declares fhirVersion 4.0.1.
"""
