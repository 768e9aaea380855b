"""Patient self-report: PHQ-9 check-ins and post-session symptom reports, scored and escalated.

One submission is one transaction: score, check, store, run the clinic's rules and raise the
escalations (which queue their pages in the outbox). Crisis resources are decided from the
answers alone, before anything else, so the patient gets them whatever happens to the pages.

| module         | what it holds                                                            |
| -------------- | ------------------------------------------------------------------------ |
| ``checkins``   | PHQ-9 check-ins: score, place in the course, store, follow-ups, escalate |
| ``reports``    | post-session symptom reports: validate, store, escalate                  |
| ``submission`` | the shared steps: who, when, session, task, escalation and audit         |
| ``refused``    | a refused submission's suicidality answer, still escalated               |
| ``history``    | check-in and report history, a patient's standing (audited reads)        |

Callers import the public names from here.
"""

from services.selfreport.checkins import Phq9Result, submit_phq9
from services.selfreport.history import (
    History,
    Standing,
    checkin_history,
    my_standing,
    patient_standing,
    standing,
    symptom_report_history,
)
from services.selfreport.refused import record_refused_signal
from services.selfreport.reports import SymptomReportResult, submit_symptom_report

__all__ = [
    "History",
    "Phq9Result",
    "Standing",
    "SymptomReportResult",
    "checkin_history",
    "my_standing",
    "patient_standing",
    "record_refused_signal",
    "standing",
    "submit_phq9",
    "submit_symptom_report",
    "symptom_report_history",
]
