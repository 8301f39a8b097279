"""The ``huggingface`` target: publish models to the Hugging Face Hub through ``huggingface_hub``.

One repo per model (``targets.huggingface.repo``):

- ``releases``: a branch holding only versions, one commit per version, each
  tagged ``vX.Y.Z``, with the digests as commit trailers (``publish``);
- ``main`` serves ``stable``, branches ``staging`` and ``dev`` the other
  channels; a move is one copy commit whose tree equals the version's tree;
- ``private`` and ``gated`` are repo settings, tightened before an upload and
  opened only after it (``target``).

Modules: ``target`` (the protocol), ``read`` (live state), ``publish``
(commits, tags, branches), ``cardcheck`` (card metadata), ``hub`` (client,
errors, retries).
"""

from pipeline.targets.huggingface.target import HuggingFaceTarget

__all__ = ["HuggingFaceTarget"]
