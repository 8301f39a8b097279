"""Accounts behind bearer tokens, and the namespaces each account may write.

Token values are only looked up, never logged or stored elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.emulators.base import Request
from pipeline.emulators.hub.errors import HubError

DEFAULT_USER = "emulator-user"


@dataclass(frozen=True)
class Account:
    """A Hub user and the organizations it belongs to.

    ``write_anywhere`` lets the account write to (and read private repos of)
    every namespace, which is what rehearsals of an org's release need.
    """

    name: str
    orgs: tuple[str, ...] = ()
    write_anywhere: bool = False

    def can_write(self, namespace: str) -> bool:
        return self.write_anywhere or namespace == self.name or namespace in self.orgs


DEFAULT_ACCOUNT = Account(DEFAULT_USER, write_anywhere=True)


class Accounts:
    """Map bearer tokens to accounts.

    With no ``tokens`` mapping, every non-empty token is ``default``; with a
    mapping, a token outside it is invalid (401).
    """

    def __init__(self, tokens: Mapping[str, Account] | None = None, default: Account = DEFAULT_ACCOUNT) -> None:
        self._tokens = dict(tokens) if tokens is not None else None
        self._default = default

    def caller(self, request: Request) -> Account | None:
        """Return the account of the request's token, or None for an anonymous request."""
        header = request.header("authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise invalid_credentials()
        if self._tokens is None:
            return self._default
        account = self._tokens.get(token)
        if account is None:
            raise invalid_credentials()
        return account


def invalid_credentials() -> HubError:
    message = "Invalid credentials in Authorization header"
    return HubError(401, message, headers={"X-Error-Message": message})


def authentication_required(action: str) -> HubError:
    return HubError(401, f"Authentication required to {action}: send 'Authorization: Bearer <token>'")


def whoami_payload(account: Account) -> dict:
    return {
        "type": "user",
        "id": account.name,
        "name": account.name,
        "fullname": account.name,
        "email": f"{account.name}@example.invalid",
        "emailVerified": True,
        "isPro": False,
        "orgs": [{"type": "org", "name": org, "fullname": org, "roleInOrg": "write"} for org in account.orgs],
        "auth": {"type": "access_token", "accessToken": {"displayName": "emulator", "role": "write"}},
    }
