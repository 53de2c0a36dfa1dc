"""Which model a SQL call means: the warehouse's current one, DUCKBERT_MODEL, or a named one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from udf.registry import ModelRef, current_model, env_model, known_models


class NoModelError(LookupError):
    """No model is configured for this warehouse."""


@dataclass
class Binding:
    """The models one database can call: a default and every name it knows."""

    default: str | None = None  # artifact directory
    known: dict[str, str] = field(default_factory=dict)  # name or name@version -> directory
    source: str = "none"

    def default_dir(self) -> str:
        if self.default is None:
            raise NoModelError(
                "no duckbert model: train one with `duckbert train --db PATH` (it becomes the "
                "warehouse's current model), or set DUCKBERT_MODEL to a model directory"
            )
        return self.default

    def lookup(self, name: str) -> str:
        """Directory for a model name, name@version, version or path; clear error if unknown."""
        if name in self.known:
            return self.known[name]
        path = Path(name).expanduser()
        if (path / "duckbert.json").exists():
            return str(path.resolve())
        names = sorted({k.split("@", 1)[0] for k in self.known if "@" in k})  # not versions
        listing = ", ".join(names) if names else "none (train one with `duckbert train`)"
        raise LookupError(f"unknown duckbert model {name!r}; known models: {listing}")


def _add(known: dict[str, str], ref: ModelRef) -> None:
    known.setdefault(ref.name, ref.path)  # newest first, so the name means its newest
    if ref.is_current:
        known[ref.name] = ref.path
    known[ref.label] = ref.path
    known[ref.version] = ref.path


def resolve_binding(con, model: str | None = None) -> Binding:
    """Binding for `con`: `model` if given, else current in duckbert_models, else env."""
    known: dict[str, str] = {}
    refs = known_models(con)
    for ref in refs:
        _add(known, ref)
    probe = Binding(known=known)
    if model is not None:
        return Binding(default=probe.lookup(model), known=known, source="argument")
    current = current_model(con)
    if current is not None:
        return Binding(default=current.path, known=known, source="warehouse")
    from_env = env_model()
    if from_env is not None:
        return Binding(default=probe.lookup(from_env), known=known, source="DUCKBERT_MODEL")
    return Binding(known=known)
