"""The embedded ``local`` target: a registry of real git repositories, one per model.

Layout of ``REGISTRY/NAME.git`` (a bare repository):

- a commit per version holding exactly that version's artifacts and its
  rendered card (README.md), tagged ``vX.Y.Z`` with an annotated tag whose
  message carries the artifacts and card digests as trailers; its parent is
  the commit of the closest lower version, so ``git log`` reads as a history;
- a branch per channel (``dev``, ``staging``, ``stable``) pointing at the
  version's commit; HEAD is ``stable``, so a clone gets the stable version;
- a branch ``settings`` whose ``settings.json`` holds hardware and scaling per
  channel, one commit per change.

Every write is one atomic ref update (a tag creation or a compare-and-swap
``update-ref``), so a crash leaves at most unreferenced objects behind, and
re-running an action that is already done changes nothing. The state is always
read back from the repositories, never cached.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import filelock
import git
import semver

from pipeline.config import Project
from pipeline.errors import LockError, TargetError
from pipeline.manifest.schema import CHANNELS, Manifest
from pipeline.plan.model import Action, DesiredState, Kind, LiveState, LiveVersion, Resource
from pipeline.release import Release
from pipeline.targets.base import ActionResult, desired_state_of
from pipeline.versioning import compare, tag_name, version_of_tag

logger = logging.getLogger(__name__)

SETTINGS_BRANCH = "settings"
SETTINGS_FILE = "settings.json"
ARTIFACTS_TRAILER = "Artifacts-Digest"
CARD_TRAILER = "Card-Digest"
ZERO_OID = "0" * 40
IDENTITY = {
    "GIT_AUTHOR_NAME": "Model Release Pipeline",
    "GIT_AUTHOR_EMAIL": "mrp@localhost",
    "GIT_COMMITTER_NAME": "Model Release Pipeline",
    "GIT_COMMITTER_EMAIL": "mrp@localhost",
}
_REF_FORMAT = "%(refname)%00%(objecttype)%00%(objectname)%00%(*objectname)%00%(contents)%01"


class LocalTarget:
    name = "local"

    def __init__(self, project: Project) -> None:
        self.registry = project.registry

    def describes(self, manifest: Manifest) -> bool:
        return manifest.targets.local is not None

    def repository_path(self, manifest: Manifest) -> Path:
        local = manifest.targets.local
        name = (local.repository if local else None) or manifest.name
        return self.registry / f"{name}.git"

    def desired_state(self, release: Release) -> DesiredState:
        manifest = release.manifest
        settings = {
            f"hardware.{channel}": getattr(manifest.hardware, channel).model_dump()
            for channel in CHANNELS
            if getattr(manifest.hardware, channel) is not None
        }
        return desired_state_of(self.name, release, settings)

    # Reading

    def read(self, releases: Sequence[Release]) -> list[LiveState]:
        return [self._read_one(release) for release in releases]

    def _read_one(self, release: Release) -> LiveState:
        path = self.repository_path(release.manifest)
        if not path.exists():
            return LiveState(self.name, release.name, exists=False)
        with self._git_errors(release.name, "read the repository"):
            repo = self._open(path, release.name)
            refs = _parse_refs(repo.git.for_each_ref(f"--format={_REF_FORMAT}", "refs/tags", "refs/heads",
                                                      strip_newline_in_stdout=False))
            versions: dict[str, LiveVersion] = {}
            version_by_commit: dict[str, str] = {}
            for ref in refs:
                version = version_of_tag(ref["name"].removeprefix("refs/tags/")) if ref["name"].startswith("refs/tags/") else None
                if version is None:
                    continue
                trailers = _trailers(ref["contents"])
                versions[version] = LiveVersion(version, trailers.get(ARTIFACTS_TRAILER), trailers.get(CARD_TRAILER),
                                                ref["commit"])
                version_by_commit[ref["commit"]] = version

            heads = {ref["name"].removeprefix("refs/heads/"): ref["commit"] for ref in refs
                     if ref["name"].startswith("refs/heads/")}
            channels = {
                channel: version_by_commit.get(heads[channel], f"untagged commit {heads[channel][:12]}")
                for channel in CHANNELS
                if channel in heads
            }
            settings = self._read_settings(repo, heads.get(SETTINGS_BRANCH))
        return LiveState(self.name, release.name, exists=True, versions=versions, channels=channels,
                         settings=settings)

    def _read_settings(self, repo: git.Repo, commit: str | None) -> dict[str, Any]:
        if commit is None:
            return {}
        return json.loads(repo.git.show(f"{commit}:{SETTINGS_FILE}"))

    # Applying

    @contextmanager
    def lock(self, timeout_s: float) -> Iterator[None]:
        """Serialise applies on this registry; the OS releases the lock if the process dies."""
        self.registry.mkdir(parents=True, exist_ok=True)
        lock_path = self.registry / ".lock"
        try:
            with filelock.FileLock(str(lock_path), timeout=timeout_s):
                logger.info("holding the registry lock %s", lock_path)
                yield
        except filelock.Timeout as error:
            raise LockError(str(lock_path), timeout_s) from error

    def apply(self, action: Action, release: Release) -> ActionResult:
        with self._git_errors(release.name, action.describe()):
            if action.resource is Resource.REPOSITORY:
                return self._create_repository(release)
            repo = self._open(self.repository_path(release.manifest), release.name)
            if action.resource is Resource.VERSION:
                return self._create_version(repo, action, release)
            if action.resource is Resource.SETTING:
                return self._write_setting(repo, action)
            if action.resource is Resource.CHANNEL:
                return self._move_channel(repo, action, release.name)
        raise TargetError(self.name, release.name, f"cannot apply {action.resource} actions")

    def _create_repository(self, release: Release) -> ActionResult:
        path = self.repository_path(release.manifest)
        if path.exists():
            return ActionResult(str(path))
        self.registry.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=self.registry))
        git.Repo.init(staging, bare=True)
        (staging / "description").write_text(f"{release.manifest.description}\n", encoding="utf-8")
        try:
            os.rename(staging, path)  # atomic: the repository appears complete or not at all
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not path.exists():
                raise
        logger.info("created repository %s", path)
        return ActionResult(str(path))

    def _create_version(self, repo: git.Repo, action: Action, release: Release) -> ActionResult:
        expected = action.after or {}
        if expected.get("artifacts_digest") != release.artifacts.digest or expected.get("card_digest") != release.card_digest:
            raise TargetError(self.name, release.name,
                              f"the artifacts or card of {action.key} changed after the plan was computed "
                              f"(plan: {expected.get('artifacts_digest')}, now: {release.artifacts.digest}); "
                              "run mrp plan again")
        tag = tag_name(action.key)
        tree = self._write_tree(repo, release)
        existing = _resolve(repo, f"refs/tags/{tag}^{{commit}}")
        if existing is not None:
            existing_tree = repo.git.rev_parse(f"{existing}^{{tree}}")
            if existing_tree == tree:
                return ActionResult(existing)
            raise TargetError(self.name, release.name,
                              f"tag {tag} already exists on commit {existing} with other files (tree {existing_tree}); "
                              f"this version's files make tree {tree}. Released versions never change: "
                              "bump the version in the manifest")

        parent = self._closest_lower_version(repo, action.key)
        message = (f"Release {release.name} {action.key}\n\n"
                   f"{ARTIFACTS_TRAILER}: {release.artifacts.digest}\n{CARD_TRAILER}: {release.card_digest}\n")
        parents = ["-p", parent] if parent else []
        commit = repo.git.commit_tree(tree, *parents, "-m", message, env=IDENTITY)
        repo.git.tag("-a", tag, commit, "-m", message, env=IDENTITY)
        logger.info("released %s %s as commit %s", release.name, action.key, commit)
        return ActionResult(commit)

    def _write_tree(self, repo: git.Repo, release: Release) -> str:
        """Store the artifacts and the card as git objects and return the tree id."""
        with tempfile.TemporaryDirectory(prefix="mrp-tree-") as scratch:
            folder = Path(scratch)
            card = folder / "README.md"
            card.write_text(release.card, encoding="utf-8")
            entries = [(item.path, item.source) for item in release.artifacts.files] + [("README.md", card)]

            paths_file = folder / "paths"
            paths_file.write_text("".join(f"{source}\n" for _, source in entries), encoding="utf-8")
            with paths_file.open("rb") as paths:
                blobs = repo.git.hash_object("-w", "--no-filters", "--stdin-paths", istream=paths).split()

            index_info = folder / "index-info"
            index_info.write_text("".join(f"100644 {blob}\t{path}\n" for (path, _), blob in zip(entries, blobs)),
                                  encoding="utf-8")
            env = {"GIT_INDEX_FILE": str(folder / "index")}
            with index_info.open("rb") as info:
                repo.git.update_index("--add", "--index-info", istream=info, env=env)
            return repo.git.write_tree(env=env)

    def _closest_lower_version(self, repo: git.Repo, version: str) -> str | None:
        lower = [
            found for found in (version_of_tag(tag.name) for tag in repo.tags)
            if found is not None and compare(found, version) < 0
        ]
        if not lower:
            return None
        closest = max(lower, key=semver.Version.parse)
        return repo.git.rev_parse(f"refs/tags/{tag_name(closest)}^{{commit}}")

    def _write_setting(self, repo: git.Repo, action: Action) -> ActionResult:
        old_commit = _resolve(repo, f"refs/heads/{SETTINGS_BRANCH}")
        settings = self._read_settings(repo, old_commit)
        if action.kind is Kind.DELETE:
            settings.pop(action.key, None)
        elif settings.get(action.key) == action.after:
            return ActionResult(old_commit)
        else:
            settings[action.key] = action.after

        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
            json.dump(settings, handle, indent=2, sort_keys=True)
            handle.write("\n")
        try:
            blob = repo.git.hash_object("-w", "--no-filters", handle.name)
        finally:
            os.unlink(handle.name)
        with tempfile.TemporaryFile() as listing:
            listing.write(f"100644 blob {blob}\t{SETTINGS_FILE}\n".encode())
            listing.seek(0)
            tree = repo.git.mktree(istream=listing)
        parents = ["-p", old_commit] if old_commit else []
        commit = repo.git.commit_tree(tree, *parents, "-m", f"Set {action.key}", env=IDENTITY)
        repo.git.update_ref(f"refs/heads/{SETTINGS_BRANCH}", commit, old_commit or ZERO_OID)
        return ActionResult(commit)

    def _move_channel(self, repo: git.Repo, action: Action, model: str) -> ActionResult:
        target_commit = _resolve(repo, f"refs/tags/{tag_name(action.after)}^{{commit}}")
        if target_commit is None:
            raise TargetError(self.name, model, f"cannot move {action.key} to {action.after}: "
                                                f"tag {tag_name(action.after)} does not exist; run mrp apply again "
                                                "so the version is released first")
        current = _resolve(repo, f"refs/heads/{action.key}")
        if current == target_commit:
            return ActionResult(target_commit)
        expected = ZERO_OID
        if action.before is not None:
            expected = _resolve(repo, f"refs/tags/{tag_name(action.before)}^{{commit}}") or ZERO_OID
        if (current or ZERO_OID) != expected:
            raise TargetError(self.name, model,
                              f"channel {action.key} moved while this apply ran (expected {action.before}, "
                              f"found commit {current}); run mrp plan again")
        repo.git.update_ref(f"refs/heads/{action.key}", target_commit, expected)
        self._point_head_at_highest_channel(repo)
        logger.info("moved %s %s to %s", model, action.key, action.after)
        return ActionResult(target_commit)

    def _point_head_at_highest_channel(self, repo: git.Repo) -> None:
        """Make HEAD the highest channel that exists, so a plain clone checks out that version."""
        present = [channel for channel in CHANNELS if _resolve(repo, f"refs/heads/{channel}") is not None]
        if present:
            repo.git.symbolic_ref("HEAD", f"refs/heads/{present[-1]}")

    # Helpers

    def _open(self, path: Path, model: str) -> git.Repo:
        try:
            return git.Repo(path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as error:
            raise TargetError(self.name, model,
                              f"{path} exists but is not a git repository; move it out of the registry") from error

    @contextmanager
    def _git_errors(self, model: str, doing: str) -> Iterator[None]:
        """Translate git failures into a TargetError that names the model and the step."""
        try:
            yield
        except git.GitCommandError as error:
            detail = (error.stderr or str(error)).strip()
            raise TargetError(self.name, model, f"{doing} failed: {detail}") from error


def _resolve(repo: git.Repo, revision: str) -> str | None:
    try:
        return repo.git.rev_parse("--verify", "--quiet", revision)
    except git.GitCommandError:
        return None


def _parse_refs(output: str) -> list[dict[str, str]]:
    refs = []
    for record in output.split("\x01"):
        record = record.lstrip("\n")
        if not record:
            continue
        name, object_type, object_name, peeled, contents = record.split("\x00", 4)
        refs.append({"name": name, "commit": peeled if object_type == "tag" else object_name, "contents": contents})
    return refs


def _trailers(message: str) -> dict[str, str]:
    found = {}
    for line in message.splitlines():
        key, separator, value = line.partition(": ")
        if separator and key in (ARTIFACTS_TRAILER, CARD_TRAILER):
            found[key] = value.strip()
    return found
