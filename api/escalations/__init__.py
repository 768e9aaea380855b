"""The clinician's escalation inbox."""
