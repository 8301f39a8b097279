"""Find the models a range of commits touched: their manifest, artifacts or eval set.

``mrp plan --changed-since REF`` plans only these, so a pull request's plan
shows what the pull request changes. The diff runs from the merge base of REF
and HEAD to the working tree, so uncommitted edits count too; renames count
under the new path, and a deleted manifest is reported, not planned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from pipeline.config import Project
from pipeline.errors import MrpError
from pipeline.manifest.load import LoadedManifest


@dataclass(frozen=True)
class ChangedModels:
    names: frozenset[str]
    deleted: frozenset[str] = field(default_factory=frozenset)
    head: str = "HEAD"  # the branch, or the commit when HEAD is detached


def changed_models(project: Project, ref: str, loaded: Iterable[LoadedManifest]) -> ChangedModels:
    import git

    try:
        repo = git.Repo(project.root, search_parent_directories=True)
        base = repo.merge_base(ref, "HEAD")
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as error:
        raise MrpError(f"--changed-since needs a git repository at {project.root}") from error
    except git.GitCommandError as error:
        raise MrpError(f"--changed-since {ref}: not a commit or branch this repository knows; fetch it first "
                       "(for example git fetch origin main) and pass origin/main") from error
    if not base:
        raise MrpError(f"--changed-since {ref}: it shares no history with HEAD")

    top = PurePosixPath(repo.working_tree_dir)
    paths: set[str] = set()
    deleted_manifests: set[str] = set()
    for diff in base[0].diff(None):
        if diff.a_path and (diff.change_type == "D" or (diff.change_type == "R" and diff.a_path != diff.b_path)):
            deleted_manifests.add(diff.a_path)
        paths.update(path for path in (diff.a_path, diff.b_path) if path)
    paths.update(repo.untracked_files)

    names: set[str] = set()
    for item in loaded:
        watched = _watched_paths(project, item, top)
        if any(_under(path, prefix) for path in paths for prefix in watched):
            names.add(item.name)

    models_dir = str(PurePosixPath(project.models_dir).relative_to(top))
    deleted = {PurePosixPath(path).stem for path in deleted_manifests
               if str(PurePosixPath(path).parent) == models_dir and PurePosixPath(path).suffix in (".yaml", ".yml")}
    head = repo.head.commit.hexsha[:12] if repo.head.is_detached else repo.active_branch.name
    return ChangedModels(frozenset(names), frozenset(deleted - names), head)


def _watched_paths(project: Project, item: LoadedManifest, top: PurePosixPath) -> list[str]:
    root = PurePosixPath(project.root)
    watched = [str(PurePosixPath(item.file).relative_to(top)),
               str((root / item.manifest.artifacts.path).relative_to(top))]
    benchmark = item.manifest.gates.benchmark
    if benchmark is not None:
        watched.append(str((root / benchmark.dataset).relative_to(top)))
    return watched


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")
