"""``HubApp``: the route table of the Hub emulator and its error format.

Routes match the raw request path, before percent-decoding, because the client
sends revisions and tree paths with ``/`` encoded as ``%2F`` (``refs%2Fpr%2F1``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping

from pipeline.emulators.base import Request, Response
from pipeline.emulators.hub import commits, downloads, lfs, routes_git, routes_repos
from pipeline.emulators.hub.accounts import Account, Accounts
from pipeline.emulators.hub.context import Context, Limits, PageSizes
from pipeline.emulators.hub.errors import HubError, repo_not_found
from pipeline.emulators.hub.state import HubState

logger = logging.getLogger(__name__)

Handler = Callable[..., Response]

API_REPO = r"/api/(?P<kind>models|datasets|spaces)/(?P<ns>[^/]+)/(?P<name>[^/]+)"
GIT_REPO = r"/(?:(?P<kind>datasets|spaces)/)?(?P<ns>[^/]+)/(?P<name>[^/]+?)\.git"
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", r"/api/whoami-v2", routes_repos.whoami),
    ("GET", r"/api/agent-harnesses", routes_repos.agent_harnesses),
    ("POST", r"/api/validate-yaml", routes_repos.validate_yaml),
    ("POST", r"/api/repos/create", routes_repos.create_repo),
    ("DELETE", r"/api/repos/delete", routes_repos.delete_repo),
    ("GET", r"/api/(?P<kind>models|datasets|spaces)", routes_repos.list_repos),
    ("GET", API_REPO, routes_repos.repo_info),
    ("GET", API_REPO + r"/revision/(?P<rev>[^/]+)", routes_repos.repo_info),
    ("PUT", API_REPO + r"/settings", routes_repos.update_settings),
    ("GET", API_REPO + r"/refs", routes_git.list_refs),
    ("GET", API_REPO + r"/commits/(?P<rev>[^/]+)", routes_git.list_commits),
    ("GET", API_REPO + r"/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?", routes_git.list_tree),
    ("POST", API_REPO + r"/paths-info/(?P<rev>[^/]+)", routes_git.paths_info),
    ("POST", API_REPO + r"/branch/(?P<branch>[^/]+)", routes_git.create_branch),
    ("DELETE", API_REPO + r"/branch/(?P<branch>[^/]+)", routes_git.delete_branch),
    ("POST", API_REPO + r"/tag/(?P<rev>[^/]+)", routes_git.create_tag),
    ("DELETE", API_REPO + r"/tag/(?P<tag>[^/]+)", routes_git.delete_tag),
    ("POST", API_REPO + r"/preupload/(?P<rev>[^/]+)", commits.preupload),
    ("POST", API_REPO + r"/commit/(?P<rev>[^/]+)", commits.commit),
    ("GET", API_REPO + r"/xet-(?:read|write)-token(?:/.*)?", routes_repos.xet_token),
    ("POST", GIT_REPO + r"/info/lfs/objects/batch", lfs.batch),
    ("POST", GIT_REPO + r"/info/lfs/objects/verify", lfs.verify),
    ("PUT", lfs.UPLOAD_PREFIX + r"(?P<token>[0-9a-f]+)", lfs.upload),
    ("GET", r"/(?:(?P<kind>datasets|spaces)/)?(?P<ns>[^/]+)/(?P<name>[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)",
     downloads.resolve),
    ("HEAD", r"/(?:(?P<kind>datasets|spaces)/)?(?P<ns>[^/]+)/(?P<name>[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)",
     downloads.resolve),
]
# A repo id without a namespace, which this emulator never creates.
BARE_REPO = re.compile(r"/api/(?:models|datasets|spaces)/(?P<name>[^/]+)(?:/.*)?")
COMPILED = [(method, re.compile(pattern), handler) for method, pattern, handler in ROUTES]


class HubApp:
    """Emulate the Hugging Face Hub HTTP API that ``huggingface_hub`` 2.4.0 uses.

    ``tokens`` maps bearer tokens to accounts; without it every non-empty token
    is ``emulator-user``, who may write to every namespace. ``page_size`` sets
    one page size for every paginated route (tests use a small one).
    """

    def __init__(self, tokens: Mapping[str, Account] | None = None, *, page_size: int | None = None,
                 limits: Limits | None = None) -> None:
        self.state = HubState()
        self.accounts = Accounts(tokens)
        self.pages = PageSizes.uniform(page_size) if page_size is not None else PageSizes()
        self.limits = limits or Limits()

    def handle(self, request: Request) -> Response:
        try:
            return self._dispatch(request)
        except HubError as error:
            logger.info("%s %s -> %d %s", request.method, request.raw_path, error.status, error.message)
            return error.to_response()

    def _dispatch(self, request: Request) -> Response:
        path = request.raw_path
        method_allowed = False
        for method, pattern, handler in COMPILED:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if method != request.method:
                method_allowed = True
                continue
            context = Context(request, self.state, self.accounts.caller(request), self.limits, self.pages)
            # An absent optional group is dropped, except ``kind``, whose absence means a model repo.
            params = {name: value for name, value in match.groupdict().items()
                      if value is not None or name == "kind"}
            return handler(context, **params)

        if method_allowed:
            raise HubError(405, f"Method {request.method} is not allowed on {path}")
        bare = BARE_REPO.fullmatch(path)
        if bare is not None:
            caller = self.accounts.caller(request)
            raise repo_not_found(bare.group("name"), authenticated=caller is not None)
        raise HubError(404, f"No route for {request.method} {path} in the Hub emulator")

    def fault_response(self, status: int, retry_after: int | None) -> Response:
        """Format an injected error the way the Hub formats its own: a JSON ``error`` and headers."""
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        message = {429: "You have exceeded the rate limit. Retry later.",
                   503: "Service temporarily unavailable."}.get(status, f"Injected error {status}")
        return Response.json({"error": message}, status=status, headers=headers)
