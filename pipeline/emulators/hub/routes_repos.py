"""Account and repo routes: whoami, create, delete, settings, info, listing, card validation."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from pipeline.emulators.base import Response
from pipeline.emulators.hub import serialize
from pipeline.emulators.hub.accounts import authentication_required, whoami_payload
from pipeline.emulators.hub.cards import EMPTY_METADATA_WARNING, CardError, parse_front_matter, validate_metadata
from pipeline.emulators.hub.context import KIND_TO_TYPE, Context
from pipeline.emulators.hub.errors import HubError, bad_request
from pipeline.emulators.hub.names import check_repo_id
from pipeline.emulators.hub.pagination import page
from pipeline.emulators.hub.state import REPO_TYPES
from pipeline.emulators.hub.vocabulary import MODEL_EXPAND_PROPERTIES, REPO_EXPAND_PROPERTIES

logger = logging.getLogger(__name__)

LIST_DEFAULT_FIELDS = ("_id", "id", "likes", "trendingScore", "private", "downloads", "tags",
                       "pipeline_tag", "library_name", "createdAt", "modelId")
LIST_FULL_FIELDS = ("author", "sha", "lastModified", "gated", "disabled", "siblings")
SORT_FIELDS = ("lastModified", "trendingScore", "createdAt", "downloads", "likes")


def whoami(ctx: Context) -> Response:
    if ctx.caller is None:
        raise authentication_required("call whoami")
    return Response.json(whoami_payload(ctx.caller))


def agent_harnesses(ctx: Context) -> Response:
    return Response.json({"standardEnvVars": [], "harnesses": {}})


def xet_token(ctx: Context, kind: str, ns: str, name: str) -> Response:
    """Reject Xet token requests with the fix, because a client with Xet on cannot upload here."""
    raise HubError(501, "The Hub emulator has no Xet storage: set HF_HUB_DISABLE_XET=1 before importing "
                        "huggingface_hub, so that uploads use Git LFS")


def validate_yaml(ctx: Context) -> Response:
    """Check README metadata. The response is JSON even on errors, because the client parses it first."""
    payload = ctx.json_body()
    content = payload.get("content")
    if not isinstance(content, str):
        return Response.json({"errors": [{"message": "content: required string"}], "warnings": []}, status=400)
    errors, warnings = check_card(content)
    status = 400 if errors else 200
    return Response.json({"errors": [{"message": message} for message in errors],
                          "warnings": [{"message": message} for message in warnings]}, status=status)


def check_card(content: str) -> tuple[list[str], list[str]]:
    """Return ``(errors, warnings)`` for a README text."""
    try:
        metadata = parse_front_matter(content)
    except CardError as error:
        return [str(error)], []
    if not metadata:
        return [], [EMPTY_METADATA_WARNING]
    return validate_metadata(metadata), []


def create_repo(ctx: Context) -> Response:
    payload = ctx.json_body()
    name = payload.get("name")
    organization = payload.get("organization")
    repo_type = payload.get("type") or "model"
    if not isinstance(name, str) or not name:
        raise bad_request("name: required string")
    if organization is not None and not isinstance(organization, str):
        raise bad_request("organization: must be a string or null")
    if repo_type not in REPO_TYPES:
        raise bad_request(f"type: {repo_type!r} is not one of {', '.join(REPO_TYPES)}")
    private = _requested_privacy(payload, repo_type, default=False)

    if ctx.caller is None:
        raise authentication_required("create a repo")
    namespace = organization or ctx.caller.name
    repo_id = f"{namespace}/{name}"
    check_repo_id(repo_id)
    ctx.require_write(namespace, f"create a {repo_type} under the namespace {namespace!r}")

    with ctx.state.lock:
        existing = ctx.state.get(repo_type, repo_id)
        if existing is not None:
            url = serialize.repo_url(ctx.base_url, existing)
            raise HubError(409, f"You already created this {repo_type} repo", extra={"url": url})
        repo = ctx.state.create_repo(repo_type, repo_id, private)
    logger.info("created %s repo %s (private=%s)", repo_type, repo_id, private)
    return Response.json({"url": serialize.repo_url(ctx.base_url, repo), "name": repo_id,
                          "id": serialize.object_id(repo)})


def _requested_privacy(payload: dict[str, Any], repo_type: str, default: bool | None) -> bool | None:
    visibility = payload.get("visibility")
    if visibility is not None:
        allowed = ("public", "private", "protected") if repo_type == "space" else ("public", "private")
        if visibility not in allowed:
            raise bad_request(f"visibility: {visibility!r} is not one of {', '.join(allowed)}")
        return visibility != "public"
    if "private" in payload and payload["private"] is not None:
        if not isinstance(payload["private"], bool):
            raise bad_request(f"private: must be true or false, got {payload['private']!r}")
        return payload["private"]
    return default


def delete_repo(ctx: Context) -> Response:
    payload = ctx.json_body()
    name = payload.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request("name: required string")
    repo_type = payload.get("type") or "model"
    if repo_type not in REPO_TYPES:
        raise bad_request(f"type: {repo_type!r} is not one of {', '.join(REPO_TYPES)}")
    organization = payload.get("organization")
    if organization is not None and not isinstance(organization, str):
        raise bad_request("organization: must be a string or null")
    if ctx.caller is None:
        raise authentication_required("delete a repo")
    namespace = organization or ctx.caller.name
    kind = f"{repo_type}s"
    with ctx.state.lock:
        repo = ctx.writable_repo(kind, namespace, name)
        ctx.state.delete_repo(repo)
    logger.info("deleted %s repo %s", repo_type, repo.repo_id)
    return Response(200, b"OK", {"Content-Type": "text/plain; charset=utf-8"})


def update_settings(ctx: Context, kind: str, ns: str, name: str) -> Response:
    payload = ctx.json_body()
    with ctx.state.lock:
        repo = ctx.writable_repo(kind, ns, name)
        private = _requested_privacy(payload, repo.repo_type, default=None)
        gated = payload.get("gated", repo.gated)
        if gated not in (False, "auto", "manual"):
            raise bad_request(f"gated: {gated!r} is not one of false, 'auto', 'manual'")
        if private is None and "gated" not in payload:
            raise bad_request("Nothing to update: send gated, private or visibility")
        if private is not None:
            repo.private = private
        repo.gated = gated
    logger.info("updated settings of %s: private=%s gated=%s", repo.repo_id, repo.private, repo.gated)
    return Response.json({"private": repo.private, "gated": repo.gated})


def repo_info(ctx: Context, kind: str, ns: str, name: str, rev: str | None = None) -> Response:
    expand = ctx.request.query.get("expand", [])
    blobs = ctx.flag("blobs")
    if expand and (blobs or ctx.flag("securityStatus")):
        raise bad_request("expand cannot be combined with blobs or securityStatus")
    allowed = MODEL_EXPAND_PROPERTIES if KIND_TO_TYPE[kind] == "model" else REPO_EXPAND_PROPERTIES
    _check_expand(expand, allowed)

    with ctx.state.lock:
        repo = ctx.readable_repo(kind, ns, name)
        commit = repo.resolve(unquote(rev) if rev is not None else "main")
        info = serialize.repo_info(ctx.state, repo, commit, blobs=blobs)
    if expand:
        info = {"_id": info["_id"], "id": info["id"], **{key: info[key] for key in expand if key in info}}
    return Response.json(info)


def _check_expand(expand: list[str], allowed: frozenset[str]) -> None:
    unknown = [value for value in expand if value not in allowed]
    if unknown:
        raise bad_request(f"Invalid expand value(s) {', '.join(map(repr, unknown))}; "
                          f"allowed: {', '.join(sorted(allowed))}")


def list_repos(ctx: Context, kind: str) -> Response:
    query = ctx.request.query
    expand = query.get("expand", [])
    full = ctx.flag("full")
    with_card = ctx.flag("cardData")
    if expand and (full or with_card or ctx.flag("config")):
        raise bad_request("expand cannot be combined with full, cardData or config")
    allowed = MODEL_EXPAND_PROPERTIES if KIND_TO_TYPE[kind] == "model" else REPO_EXPAND_PROPERTIES
    _check_expand(expand, allowed)
    page_size = _page_size(ctx)

    with ctx.state.lock:
        repos = [repo for repo in ctx.state.repos.values()
                 if repo.repo_type == KIND_TO_TYPE[kind] and ctx.can_read(repo)]
        infos = [serialize.repo_info(ctx.state, repo, repo.resolve("main"), blobs=False) for repo in repos]
    infos = _sort(ctx, [info for info in infos if _matches(ctx, info)])

    items, headers = page(ctx.request, infos, page_size)
    return Response.json([_list_item(info, expand, full, with_card) for info in items], headers=headers)


def _page_size(ctx: Context) -> int:
    limit = ctx.request.first("limit")
    if limit is None:
        return ctx.pages.repos
    if not limit.isdigit() or int(limit) < 1:
        raise bad_request(f"limit: {limit!r} is not a positive integer")
    return min(int(limit), ctx.pages.repos)


def _matches(ctx: Context, info: dict[str, Any]) -> bool:
    """Apply the list filters that the emulator supports: author, search, filter, pipeline_tag, gated."""
    query = ctx.request.query
    author = ctx.request.first("author")
    if author is not None and info["author"].lower() != author.lower():
        return False
    search = ctx.request.first("search")
    if search is not None and search.lower() not in info["id"].lower():
        return False
    if any(tag not in info["tags"] for tag in query.get("filter", [])):
        return False
    pipeline_tag = ctx.request.first("pipeline_tag")
    if pipeline_tag is not None and info.get("pipeline_tag") != pipeline_tag:
        return False
    gated = ctx.request.first("gated")
    if gated is not None and (info["gated"] is not False) != (gated.lower() == "true"):
        return False
    return True


def _sort(ctx: Context, infos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort by ``sort`` (descending, like the Hub) or by repo id when no sort is given."""
    sort = ctx.request.first("sort")
    if sort is None:
        return sorted(infos, key=lambda info: info["id"].lower())
    if sort not in SORT_FIELDS:
        raise bad_request(f"sort: {sort!r} is not one of {', '.join(SORT_FIELDS)}")
    return sorted(infos, key=lambda info: (info[sort], info["id"].lower()), reverse=True)


def _list_item(info: dict[str, Any], expand: list[str], full: bool, with_card: bool) -> dict[str, Any]:
    if expand:
        return {"_id": info["_id"], "id": info["id"], **{key: info[key] for key in expand if key in info}}
    fields = LIST_DEFAULT_FIELDS + (LIST_FULL_FIELDS if full else ())
    item = {key: info[key] for key in fields if key in info}
    if with_card and "cardData" in info:
        item["cardData"] = info["cardData"]
    return item
