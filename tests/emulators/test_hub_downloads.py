"""Downloads through ``/resolve`` with ``hf_hub_download`` and ``snapshot_download``."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import EntryNotFoundError, GatedRepoError

from tests.emulators.hub_fixtures import (  # noqa: F401 - fixtures
    CLIENT_WARNINGS, TOKEN, api, hub, hub_server, namespace, repo,
)

pytestmark = CLIENT_WARNINGS

WEIGHTS = b"\x00\x01\x02\x03" * 300
CONFIG = b'{"layers": 2}\n'


def _publish(api: HfApi, repo: str) -> str:
    api.create_repo(repo)
    return api.create_commit(repo, [CommitOperationAdd("model.safetensors", WEIGHTS),
                                    CommitOperationAdd("conf/config.json", CONFIG)],
                             commit_message="Publish").oid


def test_download_regular_and_lfs_files(api: HfApi, hub, repo: str, tmp_path) -> None:
    _publish(api, repo)

    config = hf_hub_download(repo, "conf/config.json", cache_dir=tmp_path, endpoint=hub.url, token=TOKEN)
    weights = hf_hub_download(repo, "model.safetensors", cache_dir=tmp_path, endpoint=hub.url, token=TOKEN)
    with open(config, "rb") as handle:
        assert handle.read() == CONFIG
    with open(weights, "rb") as handle:
        assert handle.read() == WEIGHTS


def test_resolve_headers(api: HfApi, hub, repo: str) -> None:
    commit = _publish(api, repo)

    lfs = httpx.head(f"{hub.url}/{repo}/resolve/main/model.safetensors", trust_env=False)
    regular = httpx.head(f"{hub.url}/{repo}/resolve/main/conf/config.json", trust_env=False)
    assert lfs.status_code == 200
    assert lfs.headers["X-Repo-Commit"] == commit
    assert lfs.headers["ETag"] == f'"{hashlib.sha256(WEIGHTS).hexdigest()}"'
    assert lfs.headers["X-Linked-Size"] == str(len(WEIGHTS))
    config_blob_id = hashlib.sha1(b"blob %d\0" % len(CONFIG) + CONFIG).hexdigest()
    assert regular.headers["ETag"] == f'"{config_blob_id}"'
    assert not [name for name in lfs.headers if name.lower().startswith("x-xet")]


def test_resolve_range_request(api: HfApi, hub, repo: str) -> None:
    _publish(api, repo)

    response = httpx.get(f"{hub.url}/{repo}/resolve/main/model.safetensors", headers={"Range": "bytes=4-"},
                         trust_env=False)
    assert response.status_code == 206
    assert response.content == WEIGHTS[4:]


def test_download_missing_file(api: HfApi, hub, repo: str, tmp_path) -> None:
    _publish(api, repo)

    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo, "absent.bin", cache_dir=tmp_path, endpoint=hub.url, token=TOKEN)


def test_download_at_tag(api: HfApi, hub, repo: str, tmp_path) -> None:
    _publish(api, repo)
    api.create_tag(repo, tag="v1")
    api.upload_file(path_or_fileobj=b'{"layers": 3}\n', path_in_repo="conf/config.json", repo_id=repo)

    path = hf_hub_download(repo, "conf/config.json", revision="v1", cache_dir=tmp_path, endpoint=hub.url,
                           token=TOKEN)
    with open(path, "rb") as handle:
        assert handle.read() == CONFIG


def test_snapshot_download(api: HfApi, hub, repo: str, tmp_path) -> None:
    _publish(api, repo)

    folder = snapshot_download(repo, cache_dir=tmp_path, endpoint=hub.url, token=TOKEN)
    with open(f"{folder}/conf/config.json", "rb") as handle:
        assert handle.read() == CONFIG
    with open(f"{folder}/model.safetensors", "rb") as handle:
        assert handle.read() == WEIGHTS


def test_gated_repo_refuses_anonymous_download(api: HfApi, hub, repo: str, tmp_path) -> None:
    _publish(api, repo)
    api.update_repo_settings(repo, gated="auto")

    with pytest.raises(GatedRepoError):
        hf_hub_download(repo, "model.safetensors", cache_dir=tmp_path, endpoint=hub.url, token=False)
    owner_copy = hf_hub_download(repo, "model.safetensors", cache_dir=tmp_path / "owner", endpoint=hub.url,
                                 token=TOKEN)
    with open(owner_copy, "rb") as handle:
        assert handle.read() == WEIGHTS


def test_download_path_with_space_and_unicode(api: HfApi, hub, repo: str, tmp_path) -> None:
    api.create_repo(repo)
    api.upload_file(path_or_fileobj="données\n".encode(), path_in_repo="my dir/café.txt", repo_id=repo)

    path = hf_hub_download(repo, "my dir/café.txt", cache_dir=tmp_path, endpoint=hub.url, token=TOKEN)
    with open(path, "rb") as handle:
        assert handle.read() == "données\n".encode()
    assert [entry.path for entry in api.list_repo_tree(repo, "my dir")] == ["my dir/café.txt"]
