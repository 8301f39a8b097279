"""The card checks and the cog.yaml reader on real files written by people who publish models.

The files live beside the repository in ../shared/real-inputs; these tests skip where it is absent.
"""

from __future__ import annotations

import pytest

from pipeline.interface import read_cog_config
from pipeline.targets.huggingface.cardcheck import card_metadata, check_card_metadata
from tests.conftest import SHARED

REAL = SHARED / "real-inputs"
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real-inputs is not present")

# File name fragment -> the problems the card check must report (an empty list: the card is valid).
CARD_EXPECTATIONS = {
    "CoralReefFish__nb-whisper-small-beta": [],
    "JazibEijaz_bert-base-uncased": ["model-index: must be a list of models with name and results"],
    "abhishek_autonlp-hindi-asr": ["language: {'language': None} is not a lowercase ISO 639-1 or 639-3 code"],
    "NexaAIDev_Octopus-v2": [],
    "TheBloke_CodeLlama-7B-Instruct-GGUF": [],
    "bartowski_Mistral-Small-Instruct-2409-GGUF": [],
    "elyza_ELYZA-japanese-Llama-2-7b-fast-instruct": [],
    "facebook_nllb-200-distilled-600M": [],
    "rinna_japanese-gpt-1b": [],
    "sample_invalid_card_data": ["(front matter): the card's metadata block must be a YAML mapping"],
    "sample_invalid_model_index": ["model-index[0].results[0].dataset: required mapping with type and name"],
    "sample_no_metadata": [],
    "sample_simple_model_index": [],
    "sample_windows_line_breaks": [],
}


def _card(fragment: str) -> str:
    (path,) = [path for path in (REAL / "modelcards").iterdir() if fragment in path.name]
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


@pytest.mark.parametrize("fragment", sorted(CARD_EXPECTATIONS))
def test_real_card_checked(fragment):
    problems = check_card_metadata(card_metadata(_card(fragment)))

    expected = CARD_EXPECTATIONS[fragment]
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected):
        assert problem.startswith(start), problem


def test_real_card_with_tabs_is_a_clear_error():
    with pytest.raises(ValueError, match=r"front matter is not valid YAML at line \d+"):
        card_metadata(_card("lighteternal_stsb-xlm-r-greek-transfer"))


def test_crlf_card_keeps_metadata():
    metadata = card_metadata(_card("sample_windows_line_breaks"))

    assert metadata["language"] == "eo"


def test_every_real_card_has_an_expectation():
    names = {path.name for path in (REAL / "modelcards").iterdir()}
    covered = {name for name in names for fragment in CARD_EXPECTATIONS if fragment in name}

    assert names - covered == {path.name for path in (REAL / "modelcards").iterdir()
                               if "lighteternal" in path.name}


# File name fragment -> (predictor reference, training reference, python_version as written, gpu)
COG_EXPECTATIONS = {
    "2feet6inches__cog-japanese-stable-diffusion": ("predict.py:Predictor", None, "3.10", True),
    "Arboreal-AI__llama-2-7b-chat": ("predict.py:Predictor", None, "3.11", True),
    "ArielReplicate__Attend-and-Excite": ("predict.py:Predictor", None, "3.8", True),
    "hello-concurrency": ("predict.py:Predictor", None, "3.12", False),
    "hello-context": ("predict.py:run", None, "3.11", False),
    "hello-train": ("predict.py:Predictor", "train.py:train", "3.12", False),
    "z-image-turbo": ("predict.py:Predictor", None, "3.13", True),
    "replicate__cog-flux": ("predict.py:Predictor", None, "3.11", True),
    "cog-llama-template": ("predict.py:Predictor", "train.py:train", "3.11", True),
    "replicate__cog-sdxl": ("predict.py:Predictor", "train.py:train", "3.9", True),
}


@pytest.mark.parametrize("fragment", sorted(COG_EXPECTATIONS))
def test_real_cog_yaml(fragment):
    (path,) = [path for path in (REAL / "cog").iterdir() if fragment in path.name]

    config = read_cog_config(path.read_text(encoding="utf-8"), path.name)

    assert (config.predict, config.train, config.python_version, config.gpu) == COG_EXPECTATIONS[fragment]
