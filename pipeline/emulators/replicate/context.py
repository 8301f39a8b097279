"""Request context for route handlers: the request, the caller's account, the records and the settings.

Owner rule: with ``any_owner`` (the default, for rehearsals) every valid token
acts for any owner a request names, so a rehearsal can create ``my-org/model``
with whatever token it has. Without it, a token may write only under its own
account's username and may read other owners' public models only, as on
Replicate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from pipeline.emulators.base import Request
from pipeline.emulators.replicate.errors import bad_request, forbidden, not_found
from pipeline.emulators.replicate.hardware import Hardware
from pipeline.emulators.replicate.state import Account, DeploymentRecord, ModelRecord, Store


@dataclass(frozen=True)
class Settings:
    hardware: tuple[Hardware, ...]
    page_size: int
    any_owner: bool
    prediction_reads: int
    prediction_seconds: float | None

    @property
    def skus(self) -> list[str]:
        return [item.sku for item in self.hardware]


@dataclass
class Context:
    request: Request
    account: Account
    store: Store
    settings: Settings
    params: dict[str, str]

    @property
    def base_url(self) -> str:
        return self.request.base_url

    def param(self, name: str) -> str:
        return unquote(self.params[name])

    def body(self) -> dict[str, Any]:
        """Parse the JSON body, which every write route expects to be an object."""
        try:
            payload = json.loads(self.request.body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise bad_request(f"request body is not valid JSON: {error}") from error
        if not isinstance(payload, dict):
            raise bad_request(f"request body must be a JSON object, got {type(payload).__name__}")
        return payload

    def acts_for(self, owner: str) -> bool:
        return self.settings.any_owner or owner == self.account.username

    def require_owner(self, owner: str) -> None:
        if not self.acts_for(owner):
            raise forbidden(
                f"the token belongs to {self.account.username!r} and cannot act for owner {owner!r}"
            )

    def model(self, owner: str, name: str) -> ModelRecord:
        """Find a model the caller may see; a private model of another owner is reported missing."""
        model = self.store.models.get((owner, name))
        if model is None or (model.visibility == "private" and not self.acts_for(owner)):
            raise not_found(f"model {owner}/{name} not found")
        return model

    def deployment(self, owner: str, name: str) -> DeploymentRecord:
        deployment = self.store.deployments.get((owner, name))
        if deployment is None or not self.acts_for(owner):
            raise not_found(f"deployment {owner}/{name} not found")
        return deployment
