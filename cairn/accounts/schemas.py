from marshmallow import EXCLUDE, Schema, fields, validate

from cairn.fields import String


class SignInForm(Schema):
    class Meta:
        unknown = EXCLUDE

    email = fields.Email(required=True)
    password = String(required=True, validate=validate.Length(min=1))
    next = String(load_default="")
