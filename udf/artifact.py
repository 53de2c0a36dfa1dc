"""The model artifact: one directory that training writes and the UDF runtime loads.

Layout: `model.safetensors` (encoder and head weights; never pickle), `config.json` (encoder
architecture), tokenizer files, and `duckbert.json` (what the model is, how its threshold was
chosen, its test metrics, where its training data came from). Saving writes a hidden sibling
directory first and renames it into place, so a reader never sees a half-written artifact.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

META_FILE = "duckbert.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1
REQUIRED_META = ("format_version", "name", "version", "base_model", "training_mode", "head",
                 "threshold", "weights_sha256")


class ArtifactError(ValueError):
    """An artifact directory is missing, incomplete, corrupt or of an unknown format."""


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def new_version(now: dt.datetime | None = None) -> str:
    """A sortable, unique version id such as 20261201T101500Z-3fa9c2."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def read_meta(model_dir: str | Path) -> dict:
    """duckbert.json of an artifact, checked for the fields every reader relies on."""
    model_dir = Path(model_dir)
    meta_path = model_dir / META_FILE
    if not model_dir.is_dir():
        raise ArtifactError(f"model directory {model_dir} does not exist")
    if not meta_path.exists():
        from udf.base_models import check_safetensors_dir

        check_safetensors_dir(model_dir)  # explains a pickle-only folder first
        raise ArtifactError(
            f"{model_dir} is not a duckbert model (no {META_FILE}); train one with "
            "`duckbert train`"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{meta_path} is not valid JSON: {exc}") from exc
    missing = [key for key in REQUIRED_META if key not in meta]
    if missing:
        raise ArtifactError(f"{meta_path} lacks {', '.join(missing)}")
    if meta["format_version"] > FORMAT_VERSION:
        raise ArtifactError(
            f"{meta_path} has format {meta['format_version']}; this duckbert reads up to "
            f"{FORMAT_VERSION}: upgrade duckbert"
        )
    return meta


def verify_weights(model_dir: str | Path, meta: dict) -> None:
    """Fail clearly when the weights file is missing, truncated or altered."""
    from udf.base_models import ModelNotFoundError, check_safetensors_dir

    model_dir = Path(model_dir)
    weights = model_dir / WEIGHTS_FILE
    # A pickle-only folder is explained (UnsafeModelError); no weights at all is reported
    # below as an ArtifactError, like any other damage to the artifact.
    with contextlib.suppress(ModelNotFoundError):
        check_safetensors_dir(model_dir)
    if not weights.exists():
        raise ArtifactError(f"{model_dir} has no {WEIGHTS_FILE}; retrain or restore the file")
    actual = file_sha256(weights)
    if actual != meta["weights_sha256"]:
        raise ArtifactError(
            f"{weights} is corrupt or was changed after training (sha256 {actual[:12]}..., "
            f"expected {meta['weights_sha256'][:12]}...); retrain or restore the file"
        )


def load_model(model_dir: str | Path):
    """(AnomalyModel, meta) from an artifact directory, verified before anything is parsed."""
    from udf.model import AnomalyModel

    meta = read_meta(model_dir)
    verify_weights(model_dir, meta)
    try:
        model = AnomalyModel.from_artifact_dir(model_dir, meta["model"])
    except ArtifactError:
        raise
    except Exception as exc:
        raise ArtifactError(f"cannot load the model in {model_dir}: {exc}") from exc
    return model, meta


def _head_words(head: dict) -> str:
    if head.get("kind") == "knn":
        return f"k-nearest-neighbour distance (k={head.get('k')}), no labels"
    units = int(head.get("hidden_units") or 0)
    return "one fully connected layer" if not units else f"MLP with one hidden layer of {units}"


def served_model(meta: dict) -> dict:
    """What the served model is: encoder frozen or fine-tuned (how many layers), which head,
    lexical term on or off. From duckbert.json's `served` block, or derived from its mode and
    head for artifacts written before that block existed."""
    head = meta.get("head") or {}
    stored = dict(meta.get("served") or {})
    if "encoder" not in stored:
        mode = meta.get("training_mode")
        layers = (meta.get("model") or {}).get("encoder_layers")
        trained = {"full": layers, "lora": layers}.get(mode, 0)
        stored.update(encoder="fine-tuned" if mode in ("full", "lora", "top") else "frozen",
                      layers_trained=trained, encoder_layers=layers)
    stored.setdefault("head", _head_words(head))
    stored.setdefault("lexical_term", int(head.get("lexical_size") or 0) > 0)
    if stored["encoder"] == "frozen":
        encoder = "frozen encoder"
    else:
        total = stored.get("encoder_layers")
        trained = stored.get("layers_trained")
        encoder = (f"fine-tuned encoder (top {trained} of {total} layers)"
                   if trained and total and trained < total else
                   "fine-tuned encoder (all layers)")
    lexical = "lexical n-gram term on" if stored["lexical_term"] else "no lexical term"
    stored["description"] = f"{encoder}, head: {stored['head']}, {lexical}"
    return stored


def model_info(meta: dict, model_dir: str | Path) -> dict:
    """What `anomaly_model()` and `duckbert score` report about a model, from duckbert.json."""
    return {
        "name": meta["name"],
        "version": meta["version"],
        "base_model": meta["base_model"],
        "training_mode": meta["training_mode"],
        "text_format": meta.get("text_format"),
        "threshold": float(meta["threshold"]),
        "threshold_policy": meta.get("threshold_policy"),
        "served": served_model(meta),
        "path": str(model_dir),
    }


def library_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("duckbert", "torch", "transformers", "tokenizers", "duckdb", "safetensors"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def save_model(model, out_dir: str | Path, meta: dict, base_dir: str | Path | None = None,
               finalize=None) -> Path:
    """Write `model` and `meta` as an artifact at `out_dir` (which must not exist yet).

    Everything goes to a hidden sibling first; the final rename is atomic on one filesystem.
    `finalize(tmp_dir)`, if given, runs on the complete hidden artifact before the rename (the
    runtime can load it there) and returns entries to add to duckbert.json: training's
    decision check exports the ONNX encoders into it and records what it measured.
    """
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    if out_dir.exists():
        raise ArtifactError(f"{out_dir} already exists; artifacts are never overwritten")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        weights = tmp / WEIGHTS_FILE
        save_file(model.state_for_save(), str(weights), metadata={"format": "pt"})
        model.encoder.config.to_json_file(str(tmp / "config.json"))
        model.tokenizer.save(tmp)
        if base_dir is not None:
            for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
                if (Path(base_dir) / name).exists():
                    shutil.copy2(Path(base_dir) / name, tmp / name)
        full = {
            "format_version": FORMAT_VERSION,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "library_versions": library_versions(),
            **meta,
            "model": model.config(),
            "head": model.head.config(),
            "weights_sha256": file_sha256(weights),
        }
        (tmp / META_FILE).write_text(json.dumps(full, indent=2, sort_keys=True, default=str))
        if finalize is not None:
            full.update(finalize(tmp) or {})
            (tmp / META_FILE).write_text(json.dumps(full, indent=2, sort_keys=True,
                                                    default=str))
        for path in tmp.rglob("*"):
            if not path.is_file():
                continue
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
