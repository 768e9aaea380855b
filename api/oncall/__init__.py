"""On-call schedules and clinicians' own settings."""
