"""Auth request and response bodies."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.fields import Phone


class LoginIn(Schema):
    username = fields.String(
        required=True,
        validate=validate.Length(1, 254),
        metadata={"description": "E-mail, or phone in E.164 form."},
    )
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 256))


class ActivateIn(Schema):
    phone = Phone(required=True)
    code = fields.String(
        required=True,
        load_only=True,
        validate=validate.Regexp(r"^\d{6}$", error="Must be 6 digits."),
    )
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 256))


class PasswordChangeIn(Schema):
    current_password = fields.String(
        required=True, load_only=True, validate=validate.Length(1, 256)
    )
    new_password = fields.String(required=True, load_only=True, validate=validate.Length(1, 256))


class TokensOut(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    role = fields.String(required=True)
    user_id = fields.Integer(required=True)


class RefreshOut(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
