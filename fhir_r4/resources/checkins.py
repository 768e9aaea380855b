"""What one PHQ-9 check-in makes: its QuestionnaireResponses and the PHQ-9 total Observation.

- PHQ-9 answers: LOINC linkIds and LOINC answer codings with their ordinalValue scores; the
  ASRM asked with a check-in: local linkIds, integer answers.
- PHQ-9 total: Observation code LOINC 44261-6, category `survey`, valueInteger, derivedFrom
  the QuestionnaireResponse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clinical import asrm, phq9
from fhir_r4.resources.datatypes import category, coding, instant, ordinal, subject
from fhir_r4.resources.vocabulary import (
    ASRM_QUESTIONNAIRE,
    LOINC,
    OBSERVATION_CODES,
    PHQ9_QUESTIONNAIRE,
    PHQ9_TOTAL,
)

if TYPE_CHECKING:
    from store.reports import Phq9Checkin


def _response(
    row: Phq9Checkin, *, rid: str, questionnaire: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    """A completed QuestionnaireResponse of the check-in's patient, authored when answered."""
    return {
        "resourceType": "QuestionnaireResponse",
        "id": rid,
        "questionnaire": questionnaire,
        "status": "completed",
        "subject": subject(row.patient_id),
        "authored": instant(row.answered_at),
        "item": items,
    }


def _phq9_answer(answer: int) -> list[dict[str, Any]]:
    return [
        {
            "valueCoding": {
                **coding(LOINC, phq9.ANSWER_LOINC[answer], phq9.ANSWER_LABELS[answer]),
                "extension": ordinal(answer),
            }
        }
    ]


def phq9_response(row: Phq9Checkin) -> dict[str, Any]:
    """QuestionnaireResponse for a PHQ-9 check-in: LOINC linkIds and LOINC answer codings."""
    items: list[dict[str, Any]] = []
    for item, answer in zip(phq9.ITEMS, row.answers, strict=False):
        entry: dict[str, Any] = {"linkId": item.loinc, "text": item.construct}
        if answer is not None:
            entry["answer"] = _phq9_answer(answer)
        items.append(entry)  # a skipped item keeps its place, without an answer
    if row.difficulty is not None:
        items.append(
            {
                "linkId": phq9.DIFFICULTY_LOINC,
                "answer": [
                    {
                        "valueCoding": coding(
                            LOINC,
                            phq9.DIFFICULTY_ANSWER_LOINC[row.difficulty],
                            phq9.DIFFICULTY_LABELS[row.difficulty],
                        )
                    }
                ],
            }
        )
    items.append({"linkId": phq9.TOTAL_LOINC, "answer": [{"valueInteger": row.total}]})
    return _response(
        row,
        rid=f"phq9-{row.id}",
        questionnaire=PHQ9_QUESTIONNAIRE,
        items=[{"linkId": phq9.PANEL_LOINC, "item": items}],
    )


def asrm_response(row: Phq9Checkin) -> dict[str, Any] | None:
    """QuestionnaireResponse for the ASRM asked with a check-in, if it was."""
    if row.asrm_answers is None or row.asrm_total is None:
        return None
    items: list[dict[str, Any]] = [
        {"linkId": f"asrm-{item.number}", "answer": [{"valueInteger": value}]}
        for item, value in zip(asrm.ITEMS, row.asrm_answers, strict=False)
    ]
    items.append({"linkId": "asrm-total", "answer": [{"valueInteger": row.asrm_total}]})
    return _response(row, rid=f"asrm-{row.id}", questionnaire=ASRM_QUESTIONNAIRE, items=items)


def responses(row: Phq9Checkin) -> list[dict[str, Any]]:
    """Every QuestionnaireResponse one check-in makes (the PHQ-9, and the ASRM if asked)."""
    found = [phq9_response(row)]
    mania = asrm_response(row)
    if mania is not None:
        found.append(mania)
    return found


def phq9_total(row: Phq9Checkin) -> dict[str, Any]:
    """Observation: the PHQ-9 total (valueInteger), derived from its QuestionnaireResponse."""
    return {
        "resourceType": "Observation",
        "id": f"phq9-{row.id}",
        "status": "final",
        "category": category("survey", "Survey"),
        "code": {
            "coding": [coding(LOINC, PHQ9_TOTAL, OBSERVATION_CODES[PHQ9_TOTAL][1])],
            "text": "PHQ-9 total score",
        },
        "subject": subject(row.patient_id),
        "effectiveDateTime": instant(row.answered_at),
        "issued": instant(row.received_at),
        "valueInteger": row.total,
        "interpretation": [{"text": row.severity.replace("_", " ")}],
        "derivedFrom": [{"reference": f"QuestionnaireResponse/phq9-{row.id}"}],
    }
