"""The LRS's public API: the only ``lrs`` module (with ``lrs.errors``) other packages import.

Commands and queries over statements (``lrs.statements``) and credentials (``lrs.credentials``).
Every function takes a SQLAlchemy ``Session``, flushes and never commits.
"""
from __future__ import annotations

from lrs.credentials import (
    LAUNCH_SCOPES,
    SCOPES,
    CredentialInfo,
    authenticate_credential,
    create_credential,
    issue_launch_credential,
    list_credentials,
    revoke_credential,
)
from lrs.statement_queries import query_statements
from lrs.statement_reads import (StatementMembers, iter_statement_parts, iter_statements,
                                 statement_member_pages)
from lrs.statement_rows import StatementRows, statement_rows
from lrs.statements import (StatementPage, StatementQuery, StoredStatement, attachment_contents,
                            consistent_through, get_statement, latest_sequence, store_statement,
                            store_statements)
from lrs.subscribers import in_savepoint, subscribe, told_after_commit

__all__ = [
    "LAUNCH_SCOPES", "SCOPES", "CredentialInfo", "StatementPage", "StatementQuery", "StatementMembers",
    "StatementRows", "StoredStatement",
    "attachment_contents", "consistent_through", "authenticate_credential", "create_credential",
    "get_statement",
    "in_savepoint", "issue_launch_credential", "iter_statement_parts", "iter_statements", "latest_sequence",
    "list_credentials", "query_statements",
    "revoke_credential", "statement_member_pages", "statement_rows", "store_statement", "store_statements",
    "subscribe", "told_after_commit",
]

# Documents (State, Activity Profile, Agent Profile): other packages use these, never lrs.documents' table.
from lrs.documents import (  # noqa: E402
    StoredDocument,
    delete_state_document,
    get_state_document,
    put_state_document,
)

__all__ += ["StoredDocument", "delete_state_document", "get_state_document", "put_state_document"]

# Forwarding: the pathways package tells forwarding filters which activities a pathway covers.
from lrs.forwarding.registry import register_pathway_activities  # noqa: E402

__all__ += ["register_pathway_activities"]
