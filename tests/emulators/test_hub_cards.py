"""Model card metadata checks in validate-yaml and in commits that add README.md."""

from __future__ import annotations

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, ModelCard, metadata_update

from tests.emulators.hub_fixtures import (  # noqa: F401 - fixtures
    CLIENT_WARNINGS, TOKEN, api, file_line, header_line, hub, hub_server, namespace, raw_commit, repo,
)

pytestmark = CLIENT_WARNINGS

VALID_CARD = """---
license: apache-2.0
language:
- en
- fra
pipeline_tag: tabular-classification
library_name: sklearn
tags: [digits]
model-index:
- name: digits-mlp
  results:
  - task: {type: tabular-classification}
    dataset: {type: acme/digits, name: Digits, config: default, split: test}
    metrics:
    - {type: accuracy, value: 0.97}
---
# Digits MLP
"""

# Each bad card and the field path its error must name.
BAD_CARDS = [
    ("license: not-a-license\n", "license"),
    ("license: other\n", "license_name"),
    ("language: English\n", "language"),
    ("language: [en, EN]\n", "language[1]"),
    ("pipeline_tag: guess-the-number\n", "pipeline_tag"),
    ("widget: {text: hello}\n", "widget"),
    ("model-index:\n- name: m\n  results:\n  - task: {type: t}\n    dataset: {type: my dataset, name: D}\n"
     "    metrics: [{type: acc, value: 1}]\n", "model-index[0].results[0].dataset.type"),
    ("model-index:\n- name: m\n  results:\n  - task: {type: t}\n    dataset: {type: acme/d, name: D, config: 3}\n"
     "    metrics: [{type: acc, value: 1}]\n", "model-index[0].results[0].dataset.config"),
]


def _card(front_matter: str) -> str:
    return f"---\n{front_matter}---\n# Model\n"


def test_valid_card_served_as_card_data(api: HfApi, repo: str) -> None:
    api.create_repo(repo)
    api.create_commit(repo, [CommitOperationAdd("README.md", VALID_CARD.encode())], commit_message="Card")

    info = api.model_info(repo)
    assert info.card_data["license"] == "apache-2.0"
    assert info.card_data["language"] == ["en", "fra"]
    assert info.pipeline_tag == "tabular-classification"
    assert "license:apache-2.0" in info.tags
    assert info.model_index[0]["name"] == "digits-mlp"


@pytest.mark.parametrize(("front_matter", "field"), BAD_CARDS)
def test_client_commit_rejects_bad_card(api: HfApi, repo: str, front_matter: str, field: str) -> None:
    api.create_repo(repo)

    with pytest.raises(ValueError, match="Invalid metadata in README.md") as raised:
        api.create_commit(repo, [CommitOperationAdd("README.md", _card(front_matter).encode())],
                          commit_message="Card")
    assert f"- {field}:" in str(raised.value)
    assert api.list_repo_files(repo) == [".gitattributes"]


@pytest.mark.parametrize(("front_matter", "field"), BAD_CARDS)
def test_server_commit_rejects_bad_card(api: HfApi, hub, repo: str, front_matter: str, field: str) -> None:
    api.create_repo(repo)

    response = raw_commit(hub.url, repo, [header_line(), file_line("README.md", _card(front_matter).encode())])
    assert response.status_code == 400
    assert f"- {field}:" in response.json()["error"]
    assert api.list_repo_files(repo) == [".gitattributes"]


def test_validate_yaml_answers_json(hub) -> None:
    response = httpx.post(f"{hub.url}/api/validate-yaml", json={"content": _card("language: English\n"),
                                                                  "repoType": "model"}, trust_env=False)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["errors"][0]["message"].startswith("language:")


def test_validate_yaml_warns_on_missing_metadata(hub) -> None:
    response = httpx.post(f"{hub.url}/api/validate-yaml", json={"content": "# no front matter\n"},
                          trust_env=False)
    assert response.status_code == 200
    assert response.json()["warnings"] == [{"message": "Empty or missing yaml metadata in repo card"}]


def test_repocard_validate_uses_emulator(hub) -> None:
    ModelCard(VALID_CARD).validate()

    with pytest.raises(ValueError, match="license"):
        ModelCard(_card("license: proprietary-ish\n")).validate()


def test_metadata_update_merges_card(api: HfApi, repo: str) -> None:
    api.create_repo(repo)
    api.upload_file(path_or_fileobj=VALID_CARD.encode(), path_in_repo="README.md", repo_id=repo)

    metadata_update(repo, {"tags": ["digits", "mlp"]}, overwrite=True, token=TOKEN)
    card_data = api.model_info(repo).card_data
    assert card_data["tags"] == ["digits", "mlp"]
    assert card_data["license"] == "apache-2.0"
