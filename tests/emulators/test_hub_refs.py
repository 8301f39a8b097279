"""Branches, tags, refs and commit history."""

from __future__ import annotations

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import BadRequestError, HfHubHTTPError, RemoteEntryNotFoundError, RevisionNotFoundError

from tests.emulators.hub_fixtures import (  # noqa: F401 - fixtures
    CLIENT_WARNINGS, api, hub, hub_server, namespace, repo,
)

pytestmark = CLIENT_WARNINGS


def test_create_branch_conflicts_unless_exist_ok(api: HfApi, repo: str) -> None:
    api.create_repo(repo)
    api.create_branch(repo, branch="dev")

    with pytest.raises(HfHubHTTPError) as raised:
        api.create_branch(repo, branch="dev")
    assert raised.value.response.status_code == 409
    api.create_branch(repo, branch="dev", exist_ok=True)
    with pytest.raises(HfHubHTTPError) as raised:
        api.create_branch(repo, branch="main")
    assert raised.value.response.status_code == 409


def test_create_tag_conflicts_unless_exist_ok(api: HfApi, repo: str) -> None:
    api.create_repo(repo)
    api.create_tag(repo, tag="v1.0")

    with pytest.raises(HfHubHTTPError) as raised:
        api.create_tag(repo, tag="v1.0")
    assert raised.value.response.status_code == 409
    api.create_tag(repo, tag="v1.0", exist_ok=True)


def test_list_refs_targets(api: HfApi, repo: str) -> None:
    api.create_repo(repo)
    first = api.upload_file(path_or_fileobj=b"one", path_in_repo="a.txt", repo_id=repo)
    api.create_tag(repo, tag="v1", tag_message="first release")
    api.create_branch(repo, branch="feat/x", revision=first.oid)
    second = api.upload_file(path_or_fileobj=b"two", path_in_repo="a.txt", repo_id=repo)

    refs = api.list_repo_refs(repo)
    branches = {ref.name: ref for ref in refs.branches}
    assert branches["main"].target_commit == second.oid
    assert branches["feat/x"].target_commit == first.oid
    assert branches["feat/x"].ref == "refs/heads/feat/x"
    assert [(tag.name, tag.target_commit) for tag in refs.tags] == [("v1", first.oid)]
    assert refs.converts == []


def test_branch_from_initial_commit(api: HfApi, repo: str) -> None:
    api.create_repo(repo)
    api.upload_file(path_or_fileobj=b"one", path_in_repo="a.txt", repo_id=repo)
    initial = api.list_repo_commits(repo)[-1]

    api.create_branch(repo, branch="empty", revision=initial.commit_id)
    assert api.list_repo_files(repo, revision="empty") == [".gitattributes"]


def test_list_commits_paginates_newest_first(api: HfApi, hub, repo: str) -> None:
    api.create_repo(repo)
    for index in range(4):
        api.upload_file(path_or_fileobj=f"v{index}".encode(), path_in_repo="a.txt", repo_id=repo,
                        commit_message=f"Edit {index}", commit_description=f"details {index}")
    hub.requests.clear()

    commits = api.list_repo_commits(repo)
    assert [commit.title for commit in commits] == ["Edit 3", "Edit 2", "Edit 1", "Edit 0", "initial commit"]
    assert commits[0].message == "details 3"
    assert commits[0].authors == ["emulator-user"]
    assert commits[0].created_at.tzinfo is not None
    assert hub.requests.count("GET", r"/commits/main$") == 3


def test_tag_on_missing_revision(api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    with pytest.raises(RevisionNotFoundError):
        api.create_tag(repo, tag="v1", revision="no-such-branch")


def test_invalid_names_rejected(api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    with pytest.raises(BadRequestError):
        api.create_tag(repo, tag="invalid tag")
    with pytest.raises(BadRequestError):
        api.create_branch(repo, branch="refs/pr/5")


def test_delete_branch_and_tag(api: HfApi, repo: str) -> None:
    api.create_repo(repo)
    api.create_branch(repo, branch="dev")
    api.create_tag(repo, tag="v1")

    api.delete_branch(repo, branch="dev")
    api.delete_tag(repo, tag="v1")
    refs = api.list_repo_refs(repo)
    assert [ref.name for ref in refs.branches] == ["main"]
    assert refs.tags == []
    with pytest.raises(RevisionNotFoundError):
        api.delete_tag(repo, tag="v1")
    with pytest.raises(HfHubHTTPError):
        api.delete_branch(repo, branch="main")


def test_missing_revision_on_info(api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    with pytest.raises(RevisionNotFoundError):
        api.model_info(repo, revision="nope")


def test_tree_unknown_path_is_entry_not_found(api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    with pytest.raises(RemoteEntryNotFoundError):
        list(api.list_repo_tree(repo, path_in_repo="missing"))


def test_paths_info(api: HfApi, repo: str) -> None:
    api.create_repo(repo)
    api.upload_file(path_or_fileobj=b"x", path_in_repo="dir/a.txt", repo_id=repo)

    infos = api.get_paths_info(repo, ["dir/a.txt", "dir", "missing.txt"])
    assert [(type(info).__name__, info.path) for info in infos] == [("RepoFile", "dir/a.txt"), ("RepoFolder", "dir")]


def test_commit_to_branch_with_slash(api: HfApi, repo: str) -> None:
    api.create_repo(repo)
    api.create_branch(repo, branch="feat/x")

    info = api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo, revision="feat/x")
    assert api.list_repo_files(repo, revision="feat/x") == [".gitattributes", "x.txt"]
    assert api.list_repo_files(repo) == [".gitattributes"]
    assert api.model_info(repo, revision="feat/x").sha == info.oid


def test_tree_next_link_is_absolute(api: HfApi, hub, repo: str) -> None:
    api.create_repo(repo)
    api.create_commit(repo, [CommitOperationAdd(f"f{index}.txt", b"x") for index in range(3)], commit_message="Add")

    first = httpx.get(f"{hub.url}/api/models/{repo}/tree/main?recursive=true&expand=false", trust_env=False)
    next_url = first.links["next"]["url"]
    second = httpx.get(next_url, trust_env=False)
    assert next_url.startswith(f"{hub.url}/api/models/{repo}/tree/main?")
    assert "recursive=true" in next_url
    assert [entry["path"] for entry in first.json() + second.json()] == [".gitattributes", "f0.txt", "f1.txt", "f2.txt"]
    assert "next" not in second.links
