"""Which model a SQL call means: the warehouse's current one, DUCKBERT_MODEL, or a named one.

SQL's two-argument `anomaly_score(text, model)` takes a registered model (name,
name@version or version in `duckbert_models`) or a model directory inside a models
directory (the `models/` folder next to the warehouse, or the folder holding the registered
models' name folders); any other directory only with DUCKBERT_ALLOW_MODEL_PATHS=1, so a SQL
caller cannot make a long-lived process load whatever directory holds a duckbert.json.
Python callers (`udf.register(con, model=...)`) and the CLI's --model choose freely.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from udf.registry import ModelRef, current_model, env_model, known_models

ALLOW_PATHS_ENV = "DUCKBERT_ALLOW_MODEL_PATHS"


class NoModelError(LookupError):
    """No model is configured for this warehouse."""


class ModelPathNotAllowed(LookupError):
    """A SQL call named a model directory outside the registered models and models dirs."""


def paths_allowed() -> bool:
    return os.environ.get(ALLOW_PATHS_ENV, "").strip().lower() in ("1", "true", "yes")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


@dataclass
class Binding:
    """The models one database can call: a default and every name it knows."""

    default: str | None = None  # artifact directory
    known: dict[str, str] = field(default_factory=dict)  # name or name@version -> directory
    source: str = "none"
    roots: tuple[str, ...] = ()  # models directories whose artifacts SQL may name by path

    def default_dir(self) -> str:
        if self.default is None:
            raise NoModelError(
                "no duckbert model: train one with `duckbert train --db PATH` (it becomes the "
                "warehouse's current model), or set DUCKBERT_MODEL to a model directory"
            )
        return self.default

    def lookup(self, name: str, from_sql: bool = False) -> str:
        """Directory for a model name, name@version, version or path; clear error if unknown.

        `from_sql`: a path must be a registered model, the default, or lie inside one of
        `roots`, unless DUCKBERT_ALLOW_MODEL_PATHS=1."""
        if name in self.known:
            return self.known[name]
        path = Path(name).expanduser()
        if (path / "duckbert.json").exists():
            resolved = path.resolve()
            if from_sql and not paths_allowed() and not self._allowed(resolved):
                roots = ", ".join(self.roots) or "none (no warehouse file)"
                raise ModelPathNotAllowed(
                    f"model directory {name!r} is not a registered model and not inside a "
                    f"models directory ({roots}); name a registered model (name, "
                    "name@version or version), or set DUCKBERT_ALLOW_MODEL_PATHS=1 to let "
                    "SQL load any model directory")
            return str(resolved)
        names = sorted({k.split("@", 1)[0] for k in self.known if "@" in k})  # not versions
        listing = ", ".join(names) if names else "none (train one with `duckbert train`)"
        raise LookupError(f"unknown duckbert model {name!r}; known models: {listing}")


    def _allowed(self, path: Path) -> bool:
        registered = {Path(p).resolve() for p in (*self.known.values(), self.default) if p}
        return path in registered or any(_inside(path, Path(root)) for root in self.roots)


def _roots(con, refs: list[ModelRef]) -> tuple[str, ...]:
    """Models directories: `models/` next to the warehouse file, and the folder above each
    registered model's name folder (`<models_dir>/<name>/<version>`)."""
    roots = {str(Path(ref.path).resolve().parent.parent) for ref in refs}
    try:
        rows = con.execute("select path from duckdb_databases() "
                           "where database_name = current_database()").fetchall()
    except Exception:  # an old duckdb without the column: registered roots only
        rows = []
    if rows and rows[0][0]:
        roots.add(str(Path(rows[0][0]).resolve().parent / "models"))
    return tuple(sorted(roots))


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
    roots = _roots(con, refs)
    probe = Binding(known=known, roots=roots)
    if model is not None:
        return Binding(default=probe.lookup(model), known=known, source="argument",
                       roots=roots)
    current = current_model(con)
    if current is not None:
        return Binding(default=current.path, known=known, source="warehouse", roots=roots)
    from_env = env_model()
    if from_env is not None:
        return Binding(default=probe.lookup(from_env), known=known, source="DUCKBERT_MODEL",
                       roots=roots)
    return Binding(known=known, roots=roots)
