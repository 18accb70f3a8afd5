from marshmallow import EXCLUDE, Schema, fields, validate


class SignInForm(Schema):
    class Meta:
        unknown = EXCLUDE

    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=1))
    next = fields.String(load_default="")
