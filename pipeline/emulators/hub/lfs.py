"""Git LFS batch API, the upload URLs it hands out, and upload verification.

Upload URLs stand in for the Hub's presigned storage URLs: they carry a random
token instead of credentials, accept one object of a known sha256 and size,
and stay valid so that the client can retry a PUT.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from typing import Any

from pipeline.emulators.base import Response
from pipeline.emulators.hub import serialize
from pipeline.emulators.hub.context import Context
from pipeline.emulators.hub.errors import HubError, bad_request, too_large
from pipeline.emulators.hub.state import PendingUpload, Repo

logger = logging.getLogger(__name__)

LFS_CONTENT_TYPE = "application/vnd.git-lfs+json"
SHA256 = re.compile(r"[0-9a-f]{64}")
UPLOAD_PREFIX = "/_lfs/upload/"


def batch(ctx: Context, kind: str | None, ns: str, name: str) -> Response:
    payload = ctx.json_body()
    if payload.get("operation") != "upload":
        raise HubError(422, f"operation: {payload.get('operation')!r} is not supported; only 'upload' is")
    objects = payload.get("objects")
    if not isinstance(objects, list):
        raise bad_request("objects: required list")
    with ctx.state.lock:
        repo = ctx.writable_repo(kind, ns, name)
        answers = [_batch_object(ctx, repo, item) for item in objects]
    return Response.json({"transfer": "basic", "objects": answers}, content_type=LFS_CONTENT_TYPE)


def _batch_object(ctx: Context, repo: Repo, item: Any) -> dict[str, Any]:
    """Build the batch entry of one object: no ``actions`` when stored, an error, or upload and verify URLs."""
    oid = item.get("oid") if isinstance(item, dict) else None
    size = item.get("size") if isinstance(item, dict) else None
    if not isinstance(oid, str) or not SHA256.fullmatch(oid) or not isinstance(size, int) or size < 0:
        return {"oid": str(oid), "size": size if isinstance(size, int) else 0,
                "error": {"code": 422, "message": "each object needs a lowercase hex sha256 oid and a size >= 0"}}
    if size > ctx.limits.max_lfs_object_bytes:
        return {"oid": oid, "size": size,
                "error": {"code": 422, "message": f"object is {size} bytes, over the limit of "
                                                  f"{ctx.limits.max_lfs_object_bytes} bytes"}}
    if oid in repo.lfs_oids:
        logger.debug("LFS object %s already stored in %s", oid, repo.repo_id)
        return {"oid": oid, "size": size}

    token = secrets.token_hex(16)
    ctx.state.uploads[token] = PendingUpload(repo.key, oid, size)
    verify_url = f"{serialize.repo_url(ctx.base_url, repo)}.git/info/lfs/objects/verify"
    return {"oid": oid, "size": size, "authenticated": True, "actions": {
        "upload": {"href": f"{ctx.base_url}{UPLOAD_PREFIX}{token}", "expires_in": 86400},
        "verify": {"href": verify_url},
    }}


def upload(ctx: Context, token: str) -> Response:
    """Store the body of a PUT to an upload URL after checking its size and sha256."""
    body = ctx.request.body
    with ctx.state.lock:
        pending = ctx.state.uploads.get(token)
    if pending is None:
        raise HubError(403, "Upload URL is unknown: request a new one from the LFS batch API")
    if len(body) > ctx.limits.max_lfs_object_bytes:
        raise too_large("LFS object", len(body), ctx.limits.max_lfs_object_bytes)
    if len(body) != pending.size:
        raise bad_request(f"LFS object {pending.oid}: received {len(body)} bytes, expected {pending.size}")
    digest = hashlib.sha256(body).hexdigest()
    if digest != pending.oid:
        raise bad_request(f"LFS object content has sha256 {digest}, expected {pending.oid}")

    with ctx.state.lock:
        repo = ctx.state.repos.get(pending.key)
        if repo is None:
            raise HubError(404, f"Repository {pending.key[1]} was deleted during the upload")
        ctx.state.lfs_objects.setdefault(digest, body)
        repo.lfs_oids.add(digest)
    logger.info("stored LFS object %s (%d bytes) for %s", digest, len(body), repo.repo_id)
    return Response(200, b"", {"ETag": f'"{hashlib.md5(body).hexdigest()}"'})


def verify(ctx: Context, kind: str | None, ns: str, name: str) -> Response:
    payload = ctx.json_body()
    oid, size = payload.get("oid"), payload.get("size")
    if not isinstance(oid, str) or not isinstance(size, int):
        raise bad_request("verify needs a string oid and an integer size")
    with ctx.state.lock:
        repo = ctx.writable_repo(kind, ns, name)
        stored = ctx.state.lfs_objects.get(oid) if oid in repo.lfs_oids else None
    if stored is None:
        raise HubError(404, f"LFS object {oid} was not uploaded to {repo.repo_id}")
    if len(stored) != size:
        raise bad_request(f"LFS object {oid} has {len(stored)} bytes, not {size}")
    return Response.json({"success": True})
