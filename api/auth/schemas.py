"""Auth request and response bodies."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.fields import Phone, enum
from store.models import ROLES

# The only token type Tandem issues.
TOKEN_TYPE = "Bearer"  # noqa: S105 (a scheme name, not a secret)


class LoginIn(Schema):
    """Sign in: e-mail or E.164 phone number, and password."""

    username = fields.String(
        required=True,
        validate=validate.Length(1, 254),
        metadata={"description": "E-mail, or phone in E.164 form."},
    )
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 256))


class ActivateIn(Schema):
    """Activate a new patient account with the SMS code and a new password."""

    phone = Phone(required=True)
    code = fields.String(
        required=True,
        load_only=True,
        validate=validate.Regexp(r"^\d{6}$", error="Must be 6 digits."),
    )
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 256))


class PasswordChangeIn(Schema):
    """Change your password: the current one, and the new one."""

    current_password = fields.String(
        required=True, load_only=True, validate=validate.Length(1, 256)
    )
    new_password = fields.String(required=True, load_only=True, validate=validate.Length(1, 256))


class TokensOut(Schema):
    """A signed-in session's tokens: send the access token as `Authorization: Bearer ...`."""

    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata=enum((TOKEN_TYPE,)))
    expires_in = fields.Integer(required=True)
    role = fields.String(required=True, metadata=enum(ROLES))
    user_id = fields.Integer(required=True)


class RefreshOut(Schema):
    """A fresh access token."""

    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata=enum((TOKEN_TYPE,)))
    expires_in = fields.Integer(required=True)
