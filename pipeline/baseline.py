"""Find what a model's working tree is compared with: its last released snapshot.

The ledger is the record of releases, so its highest version is the baseline.
Where the ledger has no record of the model, git history is used instead. With
uncommitted changes to the model the baseline is the committed state (HEAD),
otherwise it is the newest commit whose manifest carries another version.
Nothing here runs model code: predictor files are parsed as text.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import semver

from pipeline.bump import Snapshot
from pipeline.config import Project
from pipeline.interface import InterfaceError, ModelInterface, read_model_interface
from pipeline.ledger import Ledger
from pipeline.manifest.load import LoadedManifest
from pipeline.manifest.yamlload import YamlProblem, load_yaml
from pipeline.release import card_inputs_digest
from pipeline.versioning import is_version

logger = logging.getLogger(__name__)
MAX_HISTORY = 200


@dataclass(frozen=True)
class Baseline:
    """The snapshot to compare with, and the files of every version known to be released."""

    snapshot: Snapshot | None
    released: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    source: str = "none"


def find_baseline(project: Project, loaded: LoadedManifest, ledger: Ledger,
                  history: GitHistory | None = None) -> Baseline:
    """Return the baseline of one model. Pass one ``history`` to every call of a run, so git is read once."""
    records = [record for record in ledger.records(loaded.name) if is_version(str(record.get("version")))]
    if records:
        return _from_ledger(records, max(records, key=lambda record: semver.Version.parse(str(record["version"]))))
    return _from_git(project, loaded, history or GitHistory(project.root))


class GitHistory:
    """The repository's uncommitted paths and the commits that touched each manifest, each read once.

    Before a first release every model falls back to git. A status per model
    would scan the whole working tree once per model, so this class reads the
    status and the log of the manifests folder once, on first use.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._opened = False
        self.repo = None
        self.top: PurePosixPath | None = None
        self._dirty: set[str] | None = None
        self._commits: dict[str, list[str]] = {}
        self._logged_folders: set[str] = set()
        self._entries: dict[tuple[str, str], dict] = {}
        self._commit_objects: dict[str, object] = {}

    def open(self) -> bool:
        """Open the repository, and return False when there is none or it has no commit yet."""
        if not self._opened:
            import git

            self._opened = True
            try:
                repo = git.Repo(self.root, search_parent_directories=True)
                repo.head.commit  # noqa: B018 - raises ValueError in a repository without commits
            except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
                return False
            self.repo = repo
            self.top = PurePosixPath(repo.working_tree_dir or self.root)
        return self.repo is not None

    def is_dirty(self, path: str) -> bool:
        """Return True when ``path``, or anything under it, differs from HEAD or is untracked."""
        if self._dirty is None:
            changed = set(self.repo.untracked_files)
            for diff in self.repo.head.commit.diff(None):  # HEAD against the working tree: staged or not
                changed.update(name for name in (diff.a_path, diff.b_path) if name)
            self._dirty = set()
            for file in changed:
                parts = PurePosixPath(file).parts
                self._dirty.update("/".join(parts[:end]) for end in range(1, len(parts) + 1))
        return path in self._dirty

    def entry(self, commit, path: str):
        """Return the blob or tree at ``path`` in ``commit``, or None, parsing each folder of a commit once.

        gitpython parses every subtree on the way again for each path lookup, so
        N lookups in a manifests folder of N files would cost N squared.
        """
        folder, _, name = path.rpartition("/")
        key = (commit.hexsha, folder)
        if key not in self._entries:
            self._entries[key] = {}
            try:
                tree = commit.tree / folder if folder else commit.tree
            except KeyError:
                tree = None
            if tree is not None and tree.type == "tree":
                self._entries[key] = {item.name: item for item in tree}
        return self._entries[key].get(name)

    def commits(self, manifest_path: str) -> list:
        """Return the newest commits, at most ``MAX_HISTORY``, that changed the manifest."""
        folder = str(PurePosixPath(manifest_path).parent)
        if folder not in self._logged_folders:
            self._logged_folders.add(folder)
            sha = None
            for line in self.repo.git.log("--format=%x01%H", "--name-only", "--no-renames", "--", folder).splitlines():
                if line.startswith("\x01"):
                    sha = line[1:]
                elif line and sha is not None:
                    shas = self._commits.setdefault(line, [])
                    if len(shas) < MAX_HISTORY:
                        shas.append(sha)
        return [self._commit(sha) for sha in self._commits.get(manifest_path, [])]

    def _commit(self, sha: str):
        if sha not in self._commit_objects:
            self._commit_objects[sha] = self.repo.commit(sha)
        return self._commit_objects[sha]


def _from_ledger(records: list[dict], latest: dict | None) -> Baseline:
    released = {str(record["version"]): record["files"] for record in records if record.get("files")}
    if latest is None:
        return Baseline(None, released, "ledger")
    snapshot = Snapshot(
        version=str(latest["version"]),
        files=latest.get("files") or {},
        interface=latest.get("interface") or {},
        task=latest.get("task"),
        card_inputs=latest.get("card_inputs"),
    )
    if not latest.get("files"):
        # NOTE: records written before files were kept cannot tell weights from code; they compare as empty.
        logger.warning("ledger record %s %s has no file list; comparing interface only",
                       latest.get("model"), latest["version"])
    return Baseline(snapshot, released, "ledger")


def _from_git(project: Project, loaded: LoadedManifest, history: GitHistory) -> Baseline:
    if not history.open():
        return Baseline(None)

    manifest_path = str(PurePosixPath(loaded.file).relative_to(history.top))
    artifacts_path = str((PurePosixPath(project.root) / loaded.manifest.artifacts.path).relative_to(history.top))
    current_version = loaded.manifest.release_version

    dirty = history.is_dirty(manifest_path) or history.is_dirty(artifacts_path)
    for index, commit in enumerate(history.commits(manifest_path)):
        if index == 0 and not dirty:
            continue  # HEAD contains the working tree's manifest, so its version is the current one
        snapshot = _snapshot_at(history, commit, manifest_path)
        if snapshot is None:
            continue
        if index == 0 or snapshot.version != current_version:
            return Baseline(snapshot, {snapshot.version: snapshot.files}, f"git {commit.hexsha[:12]}")
    return Baseline(None, {}, "git")


def _snapshot_at(history: GitHistory, commit, manifest_path: str) -> Snapshot | None:
    """Build the snapshot of a model as committed, or None when the manifest cannot be read there."""
    from pipeline.manifest.schema import Manifest

    manifest_blob = history.entry(commit, manifest_path)
    if manifest_blob is None or manifest_blob.type != "blob":
        return None
    try:
        data, _ = load_yaml(manifest_blob.data_stream.read().decode("utf-8-sig"))
        version = str(data["version"])
        artifacts_path = str(data["artifacts"]["path"]).strip("/")
    except (KeyError, TypeError, UnicodeDecodeError, YamlProblem):
        return None
    if not is_version(version):
        return None

    folder = history.entry(commit, artifacts_path)
    if folder is None or folder.type != "tree":
        return Snapshot(version, {}, {}, None, None)
    blobs = {}
    for item in folder.traverse():
        if item.type == "blob":
            blobs[str(PurePosixPath(item.path).relative_to(folder.path))] = item.data_stream.read()
    files = {path: hashlib.sha256(data_bytes).hexdigest() for path, data_bytes in blobs.items()}

    interface_settings = data.get("interface") or {}
    try:
        interface = read_model_interface(
            lambda path: blobs[path].decode("utf-8") if path in blobs else None,
            interface_settings.get("predictor"), interface_settings.get("config"))
    except (InterfaceError, UnicodeDecodeError):
        interface = ModelInterface()
    try:
        card_inputs = card_inputs_digest(Manifest.model_validate(data))
    except ValueError:
        card_inputs = None
    task = (data.get("card") or {}).get("pipeline_tag")
    return Snapshot(version, files, interface.to_json(), task, card_inputs)
