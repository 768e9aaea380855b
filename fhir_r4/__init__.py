"""The FHIR R4 door: a thin, read-only API over the same services as api/."""
