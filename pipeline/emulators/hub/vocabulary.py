"""Fixed vocabularies the Hub checks values against.

Licenses: ``huggingface/hub-docs`` ``docs/hub/repositories-licenses.md``
(snapshot of 2026-08-22). Tasks: the pipeline types of ``huggingface.js``
(``packages/tasks/src/pipelines.ts``) as listed from memory, so a recently
added task may be missing here. Expand properties: ``ExpandModelProperty_T``
in ``huggingface_hub`` 2.4.0.
"""

from __future__ import annotations

LICENSES = frozenset("""
apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0
bigcode-openrail-m afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear
c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0
cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0
cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0 cdla-permissive-1.0 cdla-permissive-2.0 wtfpl
ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl
lgpl-2.1 lgpl-3.0 isc h-research intel-research lppl-1.3c ms-pl apple-ascl apple-amlr mpl-2.0
odc-by odbl openmdw-1.0 openmdw-1.1 openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib
pddl lgpl-lr deepfloyd-if-license fair-noncommercial-research-license llama2 llama3 llama3.1
llama3.2 llama3.3 llama4 grok2-community gemma unknown other
""".split())

# NOTE: listed from memory of huggingface.js, not copied from a stored file.
PIPELINE_TAGS = frozenset("""
text-classification token-classification table-question-answering question-answering
zero-shot-classification translation summarization feature-extraction text-generation
text2text-generation fill-mask sentence-similarity text-to-speech text-to-audio
automatic-speech-recognition audio-to-audio audio-classification audio-text-to-text
voice-activity-detection depth-estimation image-classification object-detection
image-segmentation text-to-image image-to-text image-to-image image-to-video
unconditional-image-generation video-classification reinforcement-learning robotics
tabular-classification tabular-regression tabular-to-text table-to-text multiple-choice
text-ranking text-retrieval time-series-forecasting text-to-video image-text-to-text
image-text-to-image image-text-to-video visual-question-answering document-question-answering
zero-shot-image-classification graph-ml mask-generation zero-shot-object-detection text-to-3d
image-to-3d image-feature-extraction video-text-to-text keypoint-detection
visual-document-retrieval any-to-any video-to-video other
""".split())

MODEL_EXPAND_PROPERTIES = frozenset("""
author baseModels cardData childrenModelCount config createdAt disabled downloads
downloadsAllTime evalResults gated gguf inference inferenceProviderMapping lastModified
library_name likes mask_token model-index pipeline_tag private resourceGroup safetensors sha
siblings spaces tags transformersInfo trendingScore usedStorage widgetData
""".split())

# Dataset and Space repos accept the model properties that make sense for any repo.
REPO_EXPAND_PROPERTIES = frozenset("""
author cardData createdAt disabled downloads downloadsAllTime gated lastModified likes
private resourceGroup sha siblings tags trendingScore usedStorage
""".split())
