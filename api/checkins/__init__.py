"""PHQ-9 check-ins and post-session symptom reports (patients)."""
