"""The Person object of the Agents resource (xAPI 1.0.3 Communication 2.4).

A Person combines every identity the LRS knows for the person behind one Agent: the Agent itself,
and, when the Agent's identifier belongs to a Cairn user, that user's other identities and name.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from cairn.accounts.services import Identity, identities_of, user_for_identity
from lrs.documents import agent_key

PERSON_PROPERTIES = ("name", "mbox", "mbox_sha1sum", "openid", "account")


def person_of(session: Session, agent: dict) -> dict:
    """The Person object for ``agent``: always at least the Agent's own name and identifier.

    An Agent the LRS has never seen still gets a Person (Communication 2.4: "MUST still return a
    Person Object"); a malformed Agent is a 400.
    """
    agent_key(agent)  # exactly one well-formed identifier, else DocumentError (400)
    identity = Identity.from_agent(agent)
    assert identity is not None
    names: list[str] = [agent["name"]] if isinstance(agent.get("name"), str) else []
    identities = [identity]
    user = user_for_identity(session, identity)
    if user is not None:
        identities += [known for known in identities_of(session, user.id) if known != identity]
        if user.name not in names:
            names.append(user.name)
    person: dict = {"objectType": "Person"}
    if names:
        person["name"] = names
    # The requested identifier is echoed as sent; the others as the user's identities store them.
    person[identity.kind] = [_identifier(agent, identity.kind)]
    for known in identities[1:]:
        person.setdefault(known.kind, []).append(known.to_agent()[known.kind])
    # Keep the spec's property order (objectType, name, then identifiers).
    return {"objectType": "Person", **{k: person[k] for k in PERSON_PROPERTIES if k in person}}


def _identifier(agent: dict, kind: str) -> object:
    if kind == "account":
        return {"homePage": agent["account"]["homePage"], "name": agent["account"]["name"]}
    return agent[kind]
