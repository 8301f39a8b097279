"""Policy gates: static checks of a manifest and its artifacts, with no model run and no network.

- license against pricing: a non-commercial license cannot carry a paid tier;
- base model: a derivative keeps the conditions of its base model's license;
- pricing tiers: ``up_to`` strictly increasing, only the last tier unbounded,
  per-run prices never rising with volume;
- price against cost: every channel's cheapest per-run price covers the
  hardware price per second times the measured p95 latency, plus the margin;
- unsafe pickles: every pickle-based artifact is scanned and a dangerous
  import fails (safetensors files cannot run code and pass);
- card completeness: description, intended use, limitations, how to use,
  license and evaluation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import PurePosixPath

from pipeline.gates.results import GateResult, Status
from pipeline.manifest.licenses import NON_COMMERCIAL_LICENSES
from pipeline.manifest.load import LoadedManifest

logger = logging.getLogger(__name__)

PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib"}
# License families whose conditions carry over to derivatives: the derivative must keep the same license.
CONDITIONAL_FAMILIES = ("llama", "gemma", "openrail", "bigscience", "bigcode", "creativeml")


def policy_gates(loaded: LoadedManifest, p95_latency_ms: float | None, prices: dict) -> list[GateResult]:
    """Run every policy gate; ``p95_latency_ms`` comes from benchmark evidence, None when there is none."""
    return [
        _license_pricing(loaded),
        _base_model(loaded),
        _pricing_tiers(loaded),
        *_price_cost(loaded, p95_latency_ms, prices),
        _pickles(loaded),
        _card_complete(loaded),
    ]


def _license_pricing(loaded: LoadedManifest) -> GateResult:
    manifest = loaded.manifest
    paid = [tier.per_run for tier in manifest.pricing.tiers if tier.per_run > 0] if manifest.pricing else []
    if manifest.license in NON_COMMERCIAL_LICENSES and paid:
        return GateResult("license-pricing", Status.FAIL,
                          f"license {manifest.license} forbids commercial use, but pricing has paid tiers "
                          f"(per_run {paid[0]}); make every tier free or choose a commercial license",
                          "pricing.tiers")
    return GateResult("license-pricing", Status.PASS, f"license {manifest.license} allows this pricing")


def _base_model(loaded: LoadedManifest) -> GateResult:
    card = loaded.manifest.card
    license_id = loaded.manifest.license
    base_license = card.base_model_license
    if card.base_model is None or base_license is None:
        return GateResult("base-model-license", Status.PASS, "no base model with a license declared")
    if base_license in NON_COMMERCIAL_LICENSES and license_id not in NON_COMMERCIAL_LICENSES:
        return GateResult("base-model-license", Status.FAIL,
                          f"base model {card.base_model} is licensed {base_license} (non-commercial), but this model "
                          f"declares {license_id}; a derivative of a non-commercial model must stay non-commercial",
                          "license")
    family = next((name for name in CONDITIONAL_FAMILIES if base_license.startswith(name)), None)
    if family is not None and license_id != base_license:
        return GateResult("base-model-license", Status.FAIL,
                          f"base model {card.base_model} is licensed {base_license}, whose conditions carry over to "
                          f"derivatives, but this model declares {license_id}; declare license: {base_license}",
                          "license")
    return GateResult("base-model-license", Status.PASS, f"{license_id} is compatible with {base_license}")


def _pricing_tiers(loaded: LoadedManifest) -> GateResult:
    pricing = loaded.manifest.pricing
    if pricing is None:
        return GateResult("pricing-tiers", Status.PASS, "no pricing")
    tiers = pricing.tiers
    for index, tier in enumerate(tiers[:-1]):
        if tier.up_to is None:
            return GateResult("pricing-tiers", Status.FAIL,
                              f"tier {index} has no up_to but is not the last tier; only the last tier is unbounded",
                              f"pricing.tiers[{index}].up_to")
    if tiers[-1].up_to is not None:
        return GateResult("pricing-tiers", Status.FAIL,
                          f"the last tier stops at up_to {tiers[-1].up_to}; remove up_to so it covers every run "
                          "beyond", f"pricing.tiers[{len(tiers) - 1}].up_to")
    for index in range(1, len(tiers)):
        previous, tier = tiers[index - 1], tiers[index]
        if index < len(tiers) - 1 and tier.up_to <= previous.up_to:
            return GateResult("pricing-tiers", Status.FAIL,
                              f"up_to must increase: tier {index} has {tier.up_to} after {previous.up_to}",
                              f"pricing.tiers[{index}].up_to")
        if tier.per_run > previous.per_run:
            return GateResult("pricing-tiers", Status.FAIL,
                              f"tier {index} charges {tier.per_run} per run, more than {previous.per_run} in the tier "
                              "before; prices must not rise with volume", f"pricing.tiers[{index}].per_run")
    return GateResult("pricing-tiers", Status.PASS, f"{len(tiers)} tiers in {pricing.currency}")


def _price_cost(loaded: LoadedManifest, p95_latency_ms: float | None, prices: dict) -> Iterable[GateResult]:
    manifest = loaded.manifest
    if manifest.pricing is None:
        return
    cheapest = min(tier.per_run for tier in manifest.pricing.tiers)
    for channel in ("dev", "staging", "stable"):
        settings = getattr(manifest.hardware, channel)
        if settings is None:
            continue
        gate = f"price-cost:{channel}"
        if p95_latency_ms is None:
            yield GateResult(gate, Status.MISSING,
                             f"no measured p95 latency yet; run `mrp bench {manifest.name}`", f"hardware.{channel}")
            continue
        if manifest.pricing.currency != prices.get("currency", "USD"):
            yield GateResult(gate, Status.FAIL,
                             f"pricing is in {manifest.pricing.currency} but hardware prices are in "
                             f"{prices.get('currency')}; price in {prices.get('currency')} or override the price table",
                             "pricing.currency")
            continue
        per_second = prices["hardware"][settings.sku]["usd_per_second"]
        floor = per_second * p95_latency_ms / 1000 * (1 + manifest.pricing.margin)
        numbers = (f"cheapest per_run {cheapest:g} vs {settings.sku} {per_second:g}/s x p95 {p95_latency_ms:.3g} ms "
                   f"x (1 + margin {manifest.pricing.margin:g}) = {floor:.3g}")
        status = Status.PASS if cheapest >= floor else Status.FAIL
        hint = "" if status is Status.PASS else "; raise the price or use cheaper hardware"
        yield GateResult(gate, status, numbers + hint, "pricing.tiers")


def _pickles(loaded: LoadedManifest) -> GateResult:
    from picklescan.scanner import SafetyLevel, scan_file_path

    scanned = 0
    for item in loaded.artifacts.files:
        if PurePosixPath(item.path).suffix not in PICKLE_SUFFIXES:
            continue
        scanned += 1
        result = scan_file_path(str(item.source))
        dangerous = [f"{found.module}.{found.name}" for found in result.globals
                     if found.safety is SafetyLevel.Dangerous]
        if dangerous:
            return GateResult("pickle-scan", Status.FAIL,
                              f"{item.path} imports {', '.join(sorted(set(dangerous)))} when loaded, which can run "
                              "code; convert the weights to safetensors", "artifacts.path")
        if result.scan_err:
            return GateResult("pickle-scan", Status.FAIL,
                              f"{item.path} could not be scanned as a pickle; convert it to safetensors",
                              "artifacts.path")
    return GateResult("pickle-scan", Status.PASS, f"{scanned} pickle-based files scanned, none unsafe")


def _card_complete(loaded: LoadedManifest) -> GateResult:
    card = loaded.manifest.card
    missing = [name for name, value in (("card.evaluation", card.evaluation),) if not value]
    if missing:
        return GateResult("card-complete", Status.FAIL,
                          f"{', '.join(missing)} is missing; say how the model is evaluated", missing[0])
    return GateResult("card-complete", Status.PASS, "description, intended use, limitations, how to use, license "
                                                    "and evaluation present")
