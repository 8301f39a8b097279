"""Commits through preupload, LFS batch/upload/verify and the NDJSON commit route."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationCopy, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError, RemoteEntryNotFoundError, RevisionNotFoundError

from pipeline.emulators.hub import HubApp, Limits
from tests.emulators.hub_fixtures import (  # noqa: F401 - fixtures
    CLIENT_WARNINGS, api, file_line, header_line, hub, hub_server, namespace, raw_commit, repo, serve,
)

pytestmark = CLIENT_WARNINGS

WEIGHTS = bytes(range(256)) * 64  # binary, and *.safetensors is an LFS pattern of the default .gitattributes
CONFIG = b'{"hidden": 16}\n'
LFS_UPLOAD = r"^/_lfs/upload/"


def _upload_model(api: HfApi, repo: str):
    api.create_repo(repo, exist_ok=True)
    return api.create_commit(repo, [
        CommitOperationAdd("model.safetensors", WEIGHTS),
        CommitOperationAdd("config/config.json", CONFIG),
    ], commit_message="Add model")


def test_commit_lists_sizes_and_sha256(api: HfApi, repo: str) -> None:
    info = _upload_model(api, repo)

    tree = {entry.path: entry for entry in api.list_repo_tree(repo, recursive=True)}
    assert set(tree) == {".gitattributes", "config", "config/config.json", "model.safetensors"}
    assert tree["model.safetensors"].size == len(WEIGHTS)
    assert tree["model.safetensors"].lfs.sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    assert tree["config/config.json"].size == len(CONFIG)
    assert tree["config/config.json"].lfs is None
    assert tree["config/config.json"].blob_id == hashlib.sha1(b"blob %d\0" % len(CONFIG) + CONFIG).hexdigest()

    siblings = {sibling.rfilename: sibling for sibling in api.model_info(repo, files_metadata=True).siblings}
    assert siblings["model.safetensors"].size == len(WEIGHTS)
    assert siblings["model.safetensors"].lfs.sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    assert siblings["config/config.json"].size == len(CONFIG)
    assert api.model_info(repo).sha == info.oid


def test_commit_uploads_lfs_once(api: HfApi, hub, repo: str) -> None:
    _upload_model(api, repo)

    assert hub.requests.count("PUT", LFS_UPLOAD) == 1
    assert hub.requests.count("POST", r"/info/lfs/objects/verify$") == 1


def test_identical_upload_makes_no_commit(api: HfApi, hub, repo: str) -> None:
    first = _upload_model(api, repo)
    hub.requests.clear()

    second = _upload_model(api, repo)
    assert second.oid == first.oid
    assert len(api.list_repo_commits(repo)) == 2
    assert hub.requests.count("POST", r"/commit/") == 0
    assert hub.requests.count("PUT", LFS_UPLOAD) == 0


def test_copy_lfs_to_branch_uploads_nothing(api: HfApi, hub, repo: str) -> None:
    _upload_model(api, repo)
    api.create_branch(repo, branch="release")
    hub.requests.clear()

    api.create_commit(repo, [CommitOperationCopy("model.safetensors", "weights/copy.safetensors", src_revision="main")],
                      commit_message="Copy weights", revision="release")
    tree = {entry.path: entry for entry in api.list_repo_tree(repo, "weights", revision="release")}
    assert tree["weights/copy.safetensors"].lfs.sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    assert tree["weights/copy.safetensors"].size == len(WEIGHTS)
    assert hub.requests.count("PUT", LFS_UPLOAD) == 0
    assert hub.requests.count("POST", r"/info/lfs/objects/batch$") == 0


def test_stale_parent_commit_is_412(api: HfApi, repo: str) -> None:
    first = _upload_model(api, repo)
    api.upload_file(path_or_fileobj=b"v2", path_in_repo="notes.txt", repo_id=repo)

    with pytest.raises(HfHubHTTPError) as raised:
        api.create_commit(repo, [CommitOperationAdd("notes.txt", b"v3")], commit_message="Late",
                          parent_commit=first.oid)
    assert raised.value.response.status_code == 412
    assert "updated since" in str(raised.value)


def test_current_parent_commit_accepted(api: HfApi, repo: str) -> None:
    first = _upload_model(api, repo)

    second = api.create_commit(repo, [CommitOperationAdd("notes.txt", b"ok")], commit_message="On time",
                               parent_commit=first.oid[:7])
    assert api.model_info(repo).sha == second.oid


def test_delete_missing_file_is_entry_not_found(api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    with pytest.raises(RemoteEntryNotFoundError) as raised:
        api.create_commit(repo, [CommitOperationDelete("absent.txt")], commit_message="Delete")
    assert "A file with this name doesn't exist" in str(raised.value)


def test_delete_folder(api: HfApi, repo: str) -> None:
    _upload_model(api, repo)

    api.delete_folder("config", repo_id=repo)
    assert api.list_repo_files(repo) == [".gitattributes", "model.safetensors"]


def test_commit_to_missing_branch(api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    with pytest.raises(RevisionNotFoundError):
        api.create_commit(repo, [CommitOperationAdd("a.txt", b"a")], commit_message="x", revision="nope")


def test_unsafe_path_is_422(api: HfApi, hub, repo: str) -> None:
    api.create_repo(repo)

    for path in ("../escape.txt", "..\\ddd", "a//b", ".git/config"):
        response = raw_commit(hub.url, repo, [header_line(), file_line(path, b"x")])
        assert response.status_code == 422, path
    assert api.list_repo_files(repo) == [".gitattributes"]


def test_binary_regular_file_rejected(api: HfApi, hub, repo: str) -> None:
    api.create_repo(repo)

    response = raw_commit(hub.url, repo, [header_line(), file_line("blob.dat", b"\x00\xff" * 10)])
    assert response.status_code == 400
    assert "Git LFS" in response.json()["error"]


def test_lfs_file_not_uploaded_rejected(api: HfApi, hub, repo: str) -> None:
    api.create_repo(repo)

    line = {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "ab" * 32, "size": 3}}
    response = raw_commit(hub.url, repo, [header_line(), line])
    assert response.status_code == 400
    assert "ab" * 32 in response.json()["error"]


def test_commit_response_fields(api: HfApi, hub, repo: str) -> None:
    api.create_repo(repo)

    response = raw_commit(hub.url, repo, [header_line("Add readme"), file_line("notes.txt", b"hello\n")])
    body = response.json()
    assert response.status_code == 200
    assert body["success"] is True
    assert body["commitUrl"] == f"{hub.url}/{repo}/commit/{body['commitOid']}"
    assert api.list_repo_commits(repo)[0].title == "Add readme"


def test_preupload_modes(api: HfApi, hub, repo: str) -> None:
    _upload_model(api, repo)

    payload = {"files": [
        {"path": "model.safetensors", "sample": "", "size": len(WEIGHTS)},
        {"path": "notes.txt", "sample": "aGVsbG8=", "size": 5},
        {"path": "big.txt", "sample": "aGVsbG8=", "size": 10 * 1024 * 1024},
        {"path": "blob.dat", "sample": "AAEC", "size": 3},
    ]}
    response = httpx.post(f"{hub.url}/api/models/{repo}/preupload/main", json=payload, trust_env=False,
                          headers={"Authorization": "Bearer token"})
    files = {item["path"]: item for item in response.json()["files"]}
    assert files["model.safetensors"]["uploadMode"] == "lfs"
    assert files["model.safetensors"]["oid"] == hashlib.sha256(WEIGHTS).hexdigest()
    assert files["notes.txt"]["uploadMode"] == "regular"
    assert "oid" not in files["notes.txt"]
    assert files["big.txt"]["uploadMode"] == "lfs"
    assert files["blob.dat"]["uploadMode"] == "lfs"
    assert all(item["shouldIgnore"] is False for item in files.values())


def test_create_pr_commit(api: HfApi, repo: str) -> None:
    api.create_repo(repo)

    info = api.create_commit(repo, [CommitOperationAdd("a.txt", b"a")], commit_message="Proposal", create_pr=True)
    assert info.pr_revision == "refs/pr/1"
    assert api.list_repo_files(repo) == [".gitattributes"]
    assert api.list_repo_files(repo, revision="refs/pr/1") == [".gitattributes", "a.txt"]
    refs = api.list_repo_refs(repo, include_pull_requests=True)
    assert [ref.ref for ref in refs.pull_requests] == ["refs/pr/1"]


def test_lfs_upload_checks_content(api: HfApi, hub, repo: str) -> None:
    api.create_repo(repo)
    data = b"weights" * 10
    batch = httpx.post(f"{hub.url}/{repo}.git/info/lfs/objects/batch", trust_env=False,
                       headers={"Authorization": "Bearer token"},
                       json={"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
                             "objects": [{"oid": hashlib.sha256(data).hexdigest(), "size": len(data)}]})
    href = batch.json()["objects"][0]["actions"]["upload"]["href"]

    assert httpx.put(href, content=data[:-1] + b"X", trust_env=False).status_code == 400
    assert httpx.put(href, content=data + b"more", trust_env=False).status_code == 400
    assert httpx.put(href, content=data, trust_env=False).status_code == 200
    again = httpx.post(f"{hub.url}/{repo}.git/info/lfs/objects/batch", trust_env=False,
                       headers={"Authorization": "Bearer token"},
                       json={"operation": "upload", "objects": [{"oid": hashlib.sha256(data).hexdigest(),
                                                                  "size": len(data)}]})
    assert "actions" not in again.json()["objects"][0]


def test_oversized_commit_is_413(monkeypatch, tmp_path) -> None:
    app = HubApp(limits=Limits(max_commit_bytes=1000))
    with serve(app, monkeypatch, tmp_path) as emulator:
        api = HfApi(endpoint=emulator.url, token="token")
        api.create_repo("acme/small")

        with pytest.raises(HfHubHTTPError) as raised:
            api.create_commit("acme/small", [CommitOperationAdd("notes.txt", b"a" * 2000)], commit_message="Big")
        assert raised.value.response.status_code == 413


def test_anonymous_commit_is_401(api: HfApi, hub, repo: str) -> None:
    api.create_repo(repo)
    anonymous = HfApi(endpoint=hub.url, token=False)

    with pytest.raises(HfHubHTTPError) as raised:
        anonymous.create_commit(repo, [CommitOperationAdd("a.txt", b"a")], commit_message="Add")
    assert raised.value.response.status_code == 401


def test_upload_folder_to_dataset(api: HfApi, namespace: str, tmp_path) -> None:
    repo_id = f"{namespace}/data"
    folder = tmp_path / "upload"
    (folder / "splits").mkdir(parents=True)
    (folder / "splits" / "train.csv").write_text("x,y\n1,2\n")
    (folder / "data.bin").write_bytes(b"\x00" * 100)
    url = api.create_repo(repo_id, repo_type="dataset")

    api.upload_folder(folder_path=folder, repo_id=repo_id, repo_type="dataset")
    tree = {entry.path: entry for entry in api.list_repo_tree(repo_id, repo_type="dataset", recursive=True)}
    assert url.endswith(f"/datasets/{repo_id}")
    assert tree["splits/train.csv"].lfs is None
    assert tree["data.bin"].lfs.size == 100
    assert api.dataset_info(repo_id).id == repo_id


def test_xet_token_rejected_with_fix(api: HfApi, hub, repo: str) -> None:
    api.create_repo(repo)

    response = httpx.get(f"{hub.url}/api/models/{repo}/xet-write-token/main", trust_env=False,
                         headers={"Authorization": "Bearer token"})
    assert response.status_code == 501
    assert "HF_HUB_DISABLE_XET=1" in response.json()["error"]


def test_concurrent_commits_one_wins(api: HfApi, repo: str) -> None:
    api.create_repo(repo)
    head = api.model_info(repo).sha

    def commit(index: int) -> int:
        try:
            api.create_commit(repo, [CommitOperationAdd(f"f{index}.txt", b"x")], commit_message=f"Writer {index}",
                              parent_commit=head)
        except HfHubHTTPError as error:
            return error.response.status_code
        return 200

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(commit, range(4)))
    assert statuses == [200, 412, 412, 412]
    assert len(api.list_repo_commits(repo)) == 2
