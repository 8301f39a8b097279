"""Tokens, accounts and the owner rule of the Replicate emulator."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import replicate
from replicate.exceptions import ReplicateError

from pipeline.emulators.base import Emulator
from pipeline.emulators.replicate import Account, ReplicateApp
from tests.emulators.replicate_fixtures import (  # noqa: F401 - pytest fixtures
    emulator,
    loopback_env,
    make_client,
    stop_in_background,
)


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer", "Token"])
def test_missing_or_malformed_token_is_401(emulator: Emulator, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}

    response = httpx.get(f"{emulator.url}/v1/account", headers=headers)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Unauthenticated"


def test_token_scheme_is_accepted(emulator: Emulator) -> None:
    response = httpx.get(f"{emulator.url}/v1/account", headers={"Authorization": "Token anything"})

    assert response.status_code == 200
    assert response.json()["username"] == "acme"


def test_configured_tokens_map_to_accounts(loopback_env: None, make_client: Callable[..., replicate.Client]) -> None:
    app = ReplicateApp(tokens={"alice-token": "alice", "team-token": Account("team", "The Team", "organization")})
    running = Emulator(app)
    running.start()
    try:
        alice = make_client(running.url, token="alice-token").accounts.current()
        team = make_client(running.url, token="team-token").accounts.current()
        with pytest.raises(ReplicateError) as raised:
            make_client(running.url, token="unknown").accounts.current()
    finally:
        stop_in_background(running)

    assert (alice.username, alice.type) == ("alice", "organization")
    assert (team.username, team.name) == ("team", "The Team")
    assert raised.value.status == 401


def test_owner_rule_without_any_owner(loopback_env: None, make_client: Callable[..., replicate.Client]) -> None:
    app = ReplicateApp(tokens={"alice-token": "alice", "bob-token": "bob"}, any_owner=False)
    running = Emulator(app)
    running.start()
    try:
        alice = make_client(running.url, token="alice-token")
        bob = make_client(running.url, token="bob-token")
        alice.models.create("alice", "secret", visibility="private", hardware="cpu")
        alice.models.create("alice", "open", visibility="public", hardware="cpu")
        with pytest.raises(ReplicateError) as foreign_create:
            alice.models.create("bob", "taken", visibility="private", hardware="cpu")
        with pytest.raises(ReplicateError) as private_read:
            bob.models.get("alice/secret")
        public_read = bob.models.get("alice/open")
    finally:
        stop_in_background(running)

    assert foreign_create.value.status == 403
    assert private_read.value.status == 404
    assert public_read.visibility == "public"


def test_any_owner_allows_every_owner(emulator: Emulator, make_client: Callable[..., replicate.Client]) -> None:
    client = make_client(emulator.url)

    model = client.models.create("some-org", "rehearsal", visibility="private", hardware="cpu")

    assert model.owner == "some-org"
    assert client.models.get("some-org/rehearsal").name == "rehearsal"


def test_unknown_route_and_method(emulator: Emulator) -> None:
    headers = {"Authorization": "Bearer t"}

    missing = httpx.get(f"{emulator.url}/v1/nothing", headers=headers)
    wrong_method = httpx.put(f"{emulator.url}/v1/account", headers=headers)

    assert missing.status_code == 404
    assert missing.json()["status"] == 404
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET"
