"""Every package's models on one metadata, for Alembic and the models-versus-migrations test.

This module only collects; the composition root (``cairn.app``) and Alembic import it.
"""
from cairn.accounts import models as _accounts  # noqa: F401
from cairn.db import Base
from lrs import models as _lrs  # noqa: F401
from lti import models as _lti  # noqa: F401
from pathways import models as _pathways  # noqa: F401

metadata = Base.metadata
