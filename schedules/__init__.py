"""The scheduler: thin APScheduler jobs over persisted state."""
