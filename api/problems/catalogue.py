"""What each problem ``type`` means: the page a problem document's ``type`` URI resolves to.

RFC 9457 asks that a problem type URI, when dereferenced, give human-readable
documentation. Every status Tandem answers with has one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One problem type: its slug in the URI, status, title and explanation."""

    slug: str
    status: int
    title: str
    meaning: str
    what_to_do: str


CATALOGUE: tuple[ProblemType, ...] = (
    ProblemType(
        "malformed-request",
        400,
        "Malformed request",
        "The body could not be read as JSON: a syntax error, a document nested too deeply, "
        "or a number too long to parse.",
        "Send one well-formed JSON document with Content-Type: application/json.",
    ),
    ProblemType(
        "unauthorized",
        401,
        "Unauthorized",
        "No access token was sent, or the token is expired, revoked, forged or for a user "
        "who no longer exists. A failed login answers the same for an unknown user and a "
        "wrong password.",
        "Log in again (POST /api/v1/auth/login) or refresh the access token "
        "(POST /api/v1/auth/refresh) and retry with Authorization: Bearer <token>.",
    ),
    ProblemType(
        "forbidden",
        403,
        "Forbidden",
        "The caller is signed in, but their role may not do this (for example a patient "
        "calling a clinician endpoint), or a webhook lacks a valid X-Twilio-Signature.",
        "Use an account with the right role; webhooks must come from Twilio, signed.",
    ),
    ProblemType(
        "not-found",
        404,
        "Not found",
        "There is no such resource, or it belongs to another patient or clinic. Tandem "
        "does not reveal which: other people's records are indistinguishable from absent "
        "ones.",
        "Check the id; list what you may see (e.g. GET /api/v1/patients) to find it.",
    ),
    ProblemType(
        "method-not-allowed",
        405,
        "Method not allowed",
        "The path exists but does not take this HTTP method; the Allow header lists the "
        "methods it takes.",
        "Use one of the methods in the Allow header.",
    ),
    ProblemType(
        "conflict",
        409,
        "Conflict",
        "The request contradicts the current state: an Idempotency-Key reused with a "
        "different body, an escalation already resolved, or a value another request took "
        "a moment earlier. Nothing was saved.",
        "Read the current state, then decide; for an Idempotency-Key, send a new key for a "
        "new request.",
    ),
    ProblemType(
        "body-too-large",
        413,
        "Request body too large",
        "The body is larger than this service accepts (MAX_BODY_BYTES, 64 KiB by default).",
        "Send a smaller body; no Tandem request needs more.",
    ),
    ProblemType(
        "unsupported-media-type",
        415,
        "Unsupported media type",
        "The JSON API takes only application/json bodies.",
        "Send the body as JSON with Content-Type: application/json.",
    ),
    ProblemType(
        "validation-failed",
        422,
        "Validation failed",
        "One or more fields are invalid. The problem document's errors object maps each "
        "field path (e.g. answers.8) to its messages. Nothing was stored.",
        "Correct the named fields and send again. A refused self-report that reported "
        "suicidal thoughts still carries crisis resources, and says so when the signal was "
        "recorded for the care team.",
    ),
    ProblemType(
        "rate-limited",
        429,
        "Too many requests",
        "Too many failed logins or activation attempts for this account or address.",
        "Wait the number of seconds in the Retry-After header before trying again.",
    ),
    ProblemType(
        "internal-error",
        500,
        "Internal server error",
        "Something failed on Tandem's side; it has been logged with the request id "
        "(X-Request-ID). No stack trace is ever sent.",
        "Retry later with the same Idempotency-Key; report the X-Request-ID to the clinic's "
        "operators if it persists.",
    ),
    ProblemType(
        "unavailable",
        503,
        "Service unavailable",
        "Tandem cannot serve the request right now, e.g. its database does not answer, or "
        "a readiness check fails.",
        "Retry after the number of seconds in the Retry-After header, with the same "
        "Idempotency-Key so nothing is stored twice.",
    ),
)

BY_SLUG = {problem.slug: problem for problem in CATALOGUE}
BY_STATUS = {problem.status: problem for problem in CATALOGUE}
