"""Models of `lrs`."""

from lrs.document_models import Document  # noqa: E402,F401  (documents live in their own module)
