"""Versioned model artifacts with a model card, saved with skops (never pickle).

    <data dir>/models/<model>/<version>/model.skops   the fitted estimator(s)
    <data dir>/models/<model>/<version>/card.json     training window, rows, sha256 of the
                                                      training data, library versions, features,
                                                      backtest metrics
    <data dir>/models/<model>/current                 text file: the version in service

skops stores objects as a schema of known types instead of pickle's arbitrary code, and refuses to
load a type it was not told to trust; `load` trusts only `TRUSTED_TYPES` and what the caller names.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from city_pipeline.lake import write_bytes_atomic

ARTIFACT = "model.skops"
CARD = "card.json"
CURRENT = "current"
# Types skops does not trust by default that every stored model may hold. A model with more
# (e.g. a tree ensemble's internals) names them at `load(trusted=...)`; anything else is refused.
TRUSTED_TYPES: tuple[str, ...] = ()


class ModelStoreError(RuntimeError):
    pass


@dataclass
class ModelCard:
    model: str
    version: str
    created_at: str
    training_window: dict[str, str | None]
    rows: int
    training_sha256: str
    features: list[str]
    metrics: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)


def library_versions() -> dict[str, str]:
    import numpy
    import sklearn
    import skops

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
    }


def frame_sha256(data: pd.DataFrame) -> str:
    """Content hash of the training rows, independent of the frame's index (for the card)."""
    hashed = pd.util.hash_pandas_object(data.reset_index(drop=True), index=False)
    return hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()


def new_version(now: datetime | None = None) -> str:
    return f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%SZ}"


def model_dir(models_dir: Path, model: str) -> Path:
    return models_dir / model


def save(models_dir: Path, card: ModelCard, estimator: Any, make_current: bool = False) -> Path:
    """Write the artifact and its card under a new version directory (never overwritten)."""
    import skops.io as sio

    directory = model_dir(models_dir, card.model) / card.version
    if directory.exists():
        raise ModelStoreError(f"model {card.model} version {card.version} already exists")
    directory.mkdir(parents=True)
    sio.dump(estimator, directory / ARTIFACT)
    card.libraries = card.libraries or library_versions()
    write_bytes_atomic(
        directory / CARD, json.dumps(asdict(card), ensure_ascii=False, indent=1).encode()
    )
    if make_current:
        set_current(models_dir, card.model, card.version)
    return directory


def load(
    models_dir: Path, model: str, version: str | None = None, trusted: tuple[str, ...] = ()
) -> tuple[Any, ModelCard]:
    """The estimator and card of `version` (default: current), trusting only skops' defaults,
    TRUSTED_TYPES and the `trusted` types the caller's model is known to need."""
    import skops.io as sio

    version = version or current_version(models_dir, model)
    if version is None:
        raise ModelStoreError(f"model {model}: no version in service under {models_dir}")
    directory = model_dir(models_dir, model) / version
    artifact = directory / ARTIFACT
    if not artifact.exists():
        raise ModelStoreError(f"model {model} version {version}: {artifact} is missing")
    allowed = {*TRUSTED_TYPES, *trusted}
    unknown = [t for t in sio.get_untrusted_types(file=artifact) if t not in allowed]
    if unknown:
        raise ModelStoreError(f"{artifact}: refusing untrusted types {', '.join(unknown)}")
    estimator = sio.load(artifact, trusted=sorted(allowed))
    return estimator, read_card(directory / CARD)


def read_card(path: Path) -> ModelCard:
    return ModelCard(**json.loads(path.read_text(encoding="utf-8")))


def set_current(models_dir: Path, model: str, version: str) -> None:
    if not (model_dir(models_dir, model) / version / ARTIFACT).exists():
        raise ModelStoreError(f"model {model}: no version {version} to put in service")
    write_bytes_atomic(model_dir(models_dir, model) / CURRENT, version.encode())


def current_version(models_dir: Path, model: str) -> str | None:
    pointer = model_dir(models_dir, model) / CURRENT
    return pointer.read_text(encoding="utf-8").strip() if pointer.exists() else None


def list_versions(models_dir: Path, model: str) -> list[ModelCard]:
    """Every stored version's card, oldest first."""
    directory = model_dir(models_dir, model)
    cards = [read_card(p) for p in sorted(directory.glob(f"*/{CARD}"))]
    return sorted(cards, key=lambda c: c.version)


def compare(old: ModelCard | None, new: ModelCard, metric: str = "mae") -> dict[str, Any]:
    """The new version's metric against the one it would replace (lower is better)."""
    new_value = new.metrics.get(metric)
    old_value = old.metrics.get(metric) if old else None
    worse = old_value is not None and new_value is not None and new_value > old_value
    return {
        "metric": metric,
        "new_version": new.version,
        "new": new_value,
        "old_version": old.version if old else None,
        "old": old_value,
        "worse": worse,
    }
