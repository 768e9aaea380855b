"""The instruments as Questionnaires: the PHQ-9 (LOINC) and the ASRM (local codes).

- PHQ-9: Questionnaire `phq-9` coded with the LOINC panel 44249-1; item linkIds are the item
  LOINC codes (44250-9 ... 44260-8, 69722-7 for the difficulty item, 44261-6 for the total);
  answers are LOINC answer codes (LL358-3: LA6568-5/LA6569-3/LA6570-1/LA6571-9; LL359-1 for the
  difficulty item), with their 0-3 scores as the ordinalValue extension, after the HL7 SDC
  PHQ-9 example.
- ASRM: no LOINC codes are known for its items, so none are invented: local linkIds and a
  Tandem CodeSystem, integer answers 0-4.
"""

from __future__ import annotations

from typing import Any

from clinical import asrm, phq9
from fhir_r4.resources.datatypes import coding, ordinal
from fhir_r4.resources.vocabulary import (
    ASRM_QUESTIONNAIRE,
    ASRM_SYSTEM,
    LOINC,
    OBSERVATION_CODES,
    PHQ9_QUESTIONNAIRE,
    PHQ9_TOTAL,
)

PHQ9_PANEL_DISPLAY = "Patient Health Questionnaire 9 item (PHQ-9) [Reported]"
DIFFICULTY_TEXT = (
    "If you checked off any problems, how difficult have these problems made it for you to "
    "do your work, take care of things at home, or get along with other people?"
)


def _phq9_items() -> list[dict[str, Any]]:
    """The nine items, the difficulty item and the read-only total, with LOINC answers."""
    options = [
        {
            "valueCoding": {
                **coding(LOINC, phq9.ANSWER_LOINC[v], phq9.ANSWER_LABELS[v]),
                "extension": ordinal(v),
            }
        }
        for v in range(phq9.ITEM_MIN, phq9.ITEM_MAX + 1)
    ]
    difficulty = [
        {"valueCoding": coding(LOINC, phq9.DIFFICULTY_ANSWER_LOINC[v], phq9.DIFFICULTY_LABELS[v])}
        for v in range(4)
    ]
    items: list[dict[str, Any]] = [
        {
            "linkId": item.loinc,
            "code": [coding(LOINC, item.loinc)],
            "prefix": f"{item.number}.",
            "text": item.construct,
            "type": "choice",
            "answerOption": options,
        }
        for item in phq9.ITEMS
    ]
    items.append(
        {
            "linkId": phq9.DIFFICULTY_LOINC,
            "code": [coding(LOINC, phq9.DIFFICULTY_LOINC)],
            "prefix": "10.",
            "text": DIFFICULTY_TEXT,
            "type": "choice",
            "answerOption": difficulty,
        }
    )
    items.append(
        {
            "linkId": phq9.TOTAL_LOINC,
            "code": [coding(LOINC, phq9.TOTAL_LOINC, OBSERVATION_CODES[PHQ9_TOTAL][1])],
            "text": "Total score (0-27; prorated when one or two items were skipped)",
            "type": "integer",
            "readOnly": True,
        }
    )
    return items


def phq9_questionnaire() -> dict[str, Any]:
    """The PHQ-9 as a Questionnaire, after the HL7 SDC / US Core PHQ-9 examples."""
    return {
        "resourceType": "Questionnaire",
        "id": "phq-9",
        "url": PHQ9_QUESTIONNAIRE,
        "version": phq9.VERSION,
        "name": "PHQ9",
        "title": "Patient Health Questionnaire-9 (PHQ-9)",
        "status": "active",
        "subjectType": ["Patient"],
        "copyright": "PHQ-9: Pfizer Inc.; free to reproduce, translate, display or distribute.",
        "code": [coding(LOINC, phq9.PANEL_LOINC, PHQ9_PANEL_DISPLAY)],
        "item": [
            {
                "linkId": phq9.PANEL_LOINC,
                "code": [coding(LOINC, phq9.PANEL_LOINC, PHQ9_PANEL_DISPLAY)],
                "text": "Over the last 2 weeks, how often have you been bothered by any of "
                "the following problems?",
                "type": "group",
                "item": _phq9_items(),
            }
        ],
    }


def asrm_questionnaire() -> dict[str, Any]:
    """The ASRM: five items 0-4; local codes, as no LOINC codes are known for its items."""
    items: list[dict[str, Any]] = [
        {
            "linkId": f"asrm-{item.number}",
            "code": [coding(ASRM_SYSTEM, f"item-{item.number}", item.construct)],
            "prefix": f"{item.number}.",
            "text": item.construct,
            "type": "choice",
            "answerOption": [{"valueInteger": v} for v in range(asrm.ITEM_MIN, asrm.ITEM_MAX + 1)],
            "required": True,
        }
        for item in asrm.ITEMS
    ]
    items.append(
        {
            "linkId": "asrm-total",
            "code": [coding(ASRM_SYSTEM, "total", "ASRM total score")],
            "text": f"Total score (0-20; {asrm.POSITIVE_CUTOFF} or more screens positive)",
            "type": "integer",
            "readOnly": True,
        }
    )
    return {
        "resourceType": "Questionnaire",
        "id": "asrm",
        "url": ASRM_QUESTIONNAIRE,
        "version": asrm.VERSION,
        "name": "ASRM",
        "title": "Altman Self-Rating Mania Scale (ASRM)",
        "status": "active",
        "subjectType": ["Patient"],
        "item": items,
    }


QUESTIONNAIRES = {"phq-9": phq9_questionnaire, "asrm": asrm_questionnaire}
