"""Tandem's clinical core: instruments, scoring, escalation rules, outcomes, eligibility, calendar.

Pure, framework-free functions over plain values (stdlib only; time is always passed in).
Sources: PHQ-9 — Kroenke, Spitzer & Williams 2001 (severity bands), LOINC panel 44249-1,
NHS Data Dictionary (prorating with 1-2 missing items); ASRM — Altman et al. 1997 (cutoff 6);
response/remission — NCQA/HEDIS; minimal important change — Löwe et al. 2004; item 9 risk —
Simon et al. 2013; the combined IV-ketamine + TMS protocol for schedule and eligibility.
Thresholds marked as defaults are clinic settings (see `clinical.rules.EscalationRules`).
"""
