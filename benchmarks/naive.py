"""The naive baseline: read every model's live state by hand, one model after another, with the plain clients.

This is the script a user writes without mrp: per model, ``model_info`` and
``list_repo_refs`` on the Hub, then ``models.get`` and one
``deployments.get`` per channel on Replicate. It reads less than a plan does
(no version digests), so it is a lower bound on what a sequential read costs.

Run as ``python benchmarks/naive.py MODELS.json``, where the file lists
``{"hub": [repo ids], "replicate": [owner/name]}``; the endpoints and tokens
come from HF_ENDPOINT, HF_TOKEN, REPLICATE_BASE_URL and REPLICATE_API_TOKEN.
Prints a JSON summary of what it found.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

CHANNELS = ("dev", "staging", "stable")


def main(models_file: str) -> int:
    import replicate
    from huggingface_hub import HfApi
    from replicate.exceptions import ReplicateError

    models = json.loads(Path(models_file).read_text(encoding="utf-8"))
    hub = HfApi(endpoint=os.environ["HF_ENDPOINT"], token=os.environ["HF_TOKEN"])
    client = replicate.Client(api_token=os.environ["REPLICATE_API_TOKEN"], base_url=os.environ["REPLICATE_BASE_URL"])
    found = {"hub_repos": 0, "hub_tags": 0, "replicate_models": 0, "deployments": 0}
    for repo_id, full_name in zip(models["hub"], models["replicate"], strict=True):
        hub.model_info(repo_id)
        found["hub_repos"] += 1
        found["hub_tags"] += len(hub.list_repo_refs(repo_id).tags)
        owner, name = full_name.split("/")
        client.models.get(owner, name)
        found["replicate_models"] += 1
        for channel in CHANNELS:
            try:
                client.deployments.get(f"{owner}/{name}-{channel}")
            except ReplicateError as error:
                if error.status != 404:
                    raise
                continue
            found["deployments"] += 1
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
