"""What the FHIR door reads: patients, check-ins and vitals of the viewer's clinic, audited.

The FHIR views never query on their own: every read goes through a function here, which
scopes it to the clinician's clinic (another clinic's patient is a NotFound, as in the API)
and records the read in the audit trail in the request's unit of work. `scope` holds what
they share; `reads`, `searches`, `compartment` (Patient/$everything) and `bulk` ($export)
the reads themselves.
"""
