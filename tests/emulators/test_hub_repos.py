"""Repo routes of the Hub emulator, driven by the real ``huggingface_hub`` client."""

from __future__ import annotations

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from pipeline.emulators.hub import Account, HubApp
from tests.emulators.hub_fixtures import (  # noqa: F401 - fixtures
    CLIENT_WARNINGS, TOKEN, anonymous_api, api, hub, hub_server, namespace, repo, serve,
)

pytestmark = CLIENT_WARNINGS


def test_create_repo_returns_url(api: HfApi, hub, repo: str) -> None:
    url = api.create_repo(repo)

    assert url == f"{hub.url}/{repo}"
    assert url.repo_id == repo


def test_create_repo_existing_conflicts(api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    with pytest.raises(HfHubHTTPError) as raised:
        api.create_repo(repo)
    assert raised.value.response.status_code == 409
    assert api.create_repo(repo, exist_ok=True).repo_id == repo


def test_create_repo_case_insensitive_conflict(api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    with pytest.raises(HfHubHTTPError) as raised:
        api.create_repo(repo.upper())
    assert raised.value.response.status_code == 409


def test_initial_commit_holds_gitattributes(api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    commits = api.list_repo_commits(repo)
    files = api.list_repo_files(repo)
    assert [commit.title for commit in commits] == ["initial commit"]
    assert commits[0].authors == ["system"]
    assert commits[0].message == ""
    assert files == [".gitattributes"]
    assert api.model_info(repo).sha == commits[0].commit_id


def test_settings_read_back(api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    api.update_repo_settings(repo, private=True, gated="manual")
    info = api.model_info(repo)
    assert info.private is True
    assert info.gated == "manual"

    api.update_repo_settings(repo, private=False, gated=False)
    info = api.model_info(repo)
    assert info.private is False
    assert info.gated is False


def test_create_private_repo(api: HfApi, repo: str) -> None:
    api.create_repo(repo, private=True)

    assert api.model_info(repo).private is True


def test_anonymous_private_repo_not_found(api: HfApi, anonymous_api: HfApi, repo: str) -> None:
    api.create_repo(repo, private=True)

    with pytest.raises(RepositoryNotFoundError) as raised:
        anonymous_api.model_info(repo)
    assert raised.value.response.status_code == 401


def test_anonymous_missing_repo_not_found(anonymous_api: HfApi, repo: str) -> None:
    with pytest.raises(RepositoryNotFoundError) as raised:
        anonymous_api.model_info(repo)
    assert raised.value.response.status_code == 401


def test_authenticated_missing_repo_is_404(api: HfApi, repo: str) -> None:
    with pytest.raises(RepositoryNotFoundError) as raised:
        api.model_info(repo)
    assert raised.value.response.status_code == 404
    assert raised.value.response.headers["X-Error-Code"] == "RepoNotFound"


def test_anonymous_reads_public_repo(api: HfApi, anonymous_api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    assert anonymous_api.model_info(repo).id == repo


def test_model_info_expand_returns_only_fields(api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    info = api.model_info(repo, expand=["sha", "private"])
    assert info.id == repo
    assert len(info.sha) == 40
    assert info.private is False
    assert info.siblings is None
    assert info.created_at is None


def test_model_info_unknown_expand_rejected(api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    with pytest.raises(HfHubHTTPError) as raised:
        api.model_info(repo, expand=["nonsense"])
    assert raised.value.response.status_code == 400


def test_delete_repo(api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    api.delete_repo(repo)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info(repo)
    api.delete_repo(repo, missing_ok=True)


def test_list_models_paginates_with_expand(api: HfApi, hub, namespace: str) -> None:
    names = [f"{namespace}/model-{index}" for index in range(5)]
    for name in names:
        api.create_repo(name)
    api.create_repo(f"{namespace}-other/unrelated")

    models = list(api.list_models(author=namespace, expand=["sha", "createdAt"]))
    assert [model.id for model in models] == names
    assert all(len(model.sha) == 40 for model in models)
    assert all(model.created_at is not None for model in models)
    assert all(model.private is None for model in models)
    assert hub.requests.count("GET", r"^/api/models$") == 3  # 5 repos in pages of PAGE_SIZE


def test_list_models_search_and_limit(api: HfApi, namespace: str) -> None:
    for name in ("alpha", "beta", "alphabet"):
        api.create_repo(f"{namespace}/{name}")

    found = [model.id for model in api.list_models(search=f"{namespace}/alpha")]
    assert found == [f"{namespace}/alpha", f"{namespace}/alphabet"]
    assert len(list(api.list_models(author=namespace, limit=1))) == 1


def test_list_models_hides_private_from_anonymous(api: HfApi, anonymous_api: HfApi, namespace: str) -> None:
    api.create_repo(f"{namespace}/public")
    api.create_repo(f"{namespace}/secret", private=True)

    assert [model.id for model in anonymous_api.list_models(author=namespace)] == [f"{namespace}/public"]
    listed = [model.id for model in api.list_models(author=namespace)]
    assert listed == [f"{namespace}/public", f"{namespace}/secret"]


def test_namespace_without_rights_is_403(monkeypatch, tmp_path) -> None:
    app = HubApp({"alice-token": Account("alice", orgs=("alice-lab",))})
    with serve(app, monkeypatch, tmp_path) as emulator:
        alice = HfApi(endpoint=emulator.url, token="alice-token")

        assert alice.create_repo("alice-lab/model").repo_id == "alice-lab/model"
        with pytest.raises(HfHubHTTPError) as raised:
            alice.create_repo("acme/model")
        assert raised.value.response.status_code == 403
        assert alice.whoami()["orgs"][0]["name"] == "alice-lab"


def test_unknown_token_is_401(monkeypatch, tmp_path) -> None:
    app = HubApp({"alice-token": Account("alice")})
    with serve(app, monkeypatch, tmp_path) as emulator:
        stranger = HfApi(endpoint=emulator.url, token="not-a-known-token")

        with pytest.raises(HfHubHTTPError) as raised:
            stranger.whoami()
        assert raised.value.response.status_code == 401


def test_default_token_user(api: HfApi) -> None:
    assert api.whoami()["name"] == "emulator-user"
    assert TOKEN not in str(api.whoami())


def test_list_models_full_and_card_data(api: HfApi, namespace: str) -> None:
    repo_id = f"{namespace}/carded"
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"---\nlicense: mit\n---\n# Card\n", path_in_repo="README.md", repo_id=repo_id)

    [full] = api.list_models(author=namespace, full=True)
    [carded] = api.list_models(author=namespace, cardData=True)
    assert [sibling.rfilename for sibling in full.siblings] == [".gitattributes", "README.md"]
    assert len(full.sha) == 40
    assert carded.card_data["license"] == "mit"
    assert carded.siblings is None
