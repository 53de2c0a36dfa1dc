"""Register duckbert's SQL surface on a DuckDB connection.

Python UDFs live in the database instance, so every cursor and thread of it sees them;
`anomaly_score` has a one- and a two-argument form, which DuckDB allows only for macros, so
it is a temporary macro over two Python functions and is created on each connection/cursor
(`create_macros`). Models load lazily on the first call, once per process.

SQL surface:
  anomaly_score(session_text) -> DOUBLE           probability in [0, 1], NULL in -> NULL out
  anomaly_score(session_text, model) -> DOUBLE    a named or pinned model version
  anomaly_flag(session_text) -> BOOLEAN           score >= the model's calibrated threshold
  anomaly_threshold() -> DOUBLE                   that threshold
  anomaly_model() -> VARCHAR                      JSON: name, version, base model, mode, ...
  anomaly_explain(session_text) -> VARCHAR        JSON: the events that drove the score
  anomaly_reasons(explanation, items) -> VARCHAR  that JSON with reasons in plain words, told
                                                  from the session's rows (udf/reasons.py)
  duckbert_progress_expect(n) -> BIGINT           a scoring run of n rows starts: progress
                                                  lines get an estimate (udf/progress.py)
"""

from __future__ import annotations

import json
import threading
import uuid

from udf.resolve import Binding, resolve_binding

SCORE_DEFAULT = "anomaly_score_default"
SCORE_NAMED = "anomaly_score_named"
INSTANCE_FN = "duckbert_instance_id"

_BINDINGS: dict[str, Binding] = {}
# The Python callables behind each instance's functions. DuckDB's catalog keeps only a
# borrowed pointer; the owning reference belongs to the connection or cursor that registered
# them and is dropped when that one closes, after which a call would crash the process.
_KEEPALIVE: dict[str, tuple] = {}
_LOCK = threading.Lock()


def _scorer_for(binding: Binding, name: str | None = None):
    from udf.scorer import get_scorer

    return get_scorer(binding.default_dir() if name is None else
                      binding.lookup(name, from_sql=True))


def _functions(instance: str):
    """The Python callables, bound to one database instance's (replaceable) Binding."""
    import pyarrow as pa

    def binding() -> Binding:
        return _BINDINGS[instance]

    def score_default(texts):
        if texts.null_count == len(texts):
            return pa.nulls(len(texts), type=pa.float64())
        return _scorer_for(binding()).score_arrow(texts)

    def score_named(texts, models):
        values = texts.to_pylist()
        names = models.to_pylist()
        out = [None] * len(values)
        groups: dict[str, list[int]] = {}
        for i, (text, name) in enumerate(zip(values, names, strict=True)):
            if text is not None and name is not None:
                groups.setdefault(name, []).append(i)
        for name, rows in groups.items():
            scores = _scorer_for(binding(), name).score([values[i] for i in rows])
            for i, score in zip(rows, scores, strict=True):
                out[i] = score
        return pa.array(out, type=pa.float64())

    def flag(texts):
        scorer = _scorer_for(binding())
        scores = scorer.score(texts.to_pylist())
        return pa.array([None if s is None else s >= scorer.threshold for s in scores],
                        type=pa.bool_())

    def explain(texts):
        import json

        from udf.explain import explain_many

        scorer = _scorer_for(binding())
        results = explain_many(scorer, texts.to_pylist())
        return pa.array([None if r is None else json.dumps(r) for r in results],
                        type=pa.string())

    def threshold():
        return _scorer_info(binding())["threshold"]

    def model_info():
        return json.dumps(_scorer_info(binding()), sort_keys=True)

    return score_default, score_named, flag, explain, threshold, model_info


def _scorer_info(binding: Binding) -> dict:
    """Model facts from duckbert.json (no weights loaded), and what serves it and why."""
    from udf.artifact import model_info, read_meta
    from udf.scorer import serving_info

    path = binding.default_dir()
    meta = read_meta(path)
    return {**model_info(meta, path), **serving_info(path, meta)}


def _instance_id(con) -> str | None:
    exists = con.execute(
        "select count(*) from duckdb_functions() where function_name = ?", [INSTANCE_FN]
    ).fetchall()[0][0]
    if not exists:
        return None
    return con.execute(f"select {INSTANCE_FN}()").fetchall()[0][0]


def _register_progress(con) -> None:
    """duckbert_progress_expect(n): a scoring run of n rows starts (udf/progress.py)."""
    from duckdb.sqltypes import BIGINT

    from udf.progress import PROGRESS

    con.create_function("duckbert_progress_expect", PROGRESS.expect, [BIGINT], BIGINT,
                        null_handling="special", side_effects=True)


def _register_reasons(con) -> None:
    """anomaly_reasons: needs no model, only the explanation and the session's rows."""
    from duckdb.sqltypes import VARCHAR

    from udf.reasons import with_reasons_json

    con.create_function("anomaly_reasons", with_reasons_json, [VARCHAR, VARCHAR], VARCHAR,
                        null_handling="special")


def create_macros(con) -> None:
    """Per-connection macros: the two forms of anomaly_score (safe to call repeatedly)."""
    con.execute(
        f"create or replace temp macro anomaly_score(session_text) as "
        f"{SCORE_DEFAULT}(session_text), (session_text, model) as "
        f"{SCORE_NAMED}(session_text, model)"
    )


def register(con, model: str | None = None) -> Binding:
    """Register the SQL surface on `con`; calling it again rebinds the default model.

    `model` pins a model directory, name or name@version; otherwise the warehouse's current
    model (duckbert_models) is used, else DUCKBERT_MODEL. Resolution happens now; weights
    load on the first scoring call. Returns the resolved Binding.
    """
    from duckdb.sqltypes import BOOLEAN, DOUBLE, VARCHAR

    binding = resolve_binding(con, model)
    with _LOCK:
        instance = _instance_id(con)
        if instance is not None and instance in _BINDINGS:
            _BINDINGS[instance] = binding
        else:
            instance = uuid.uuid4().hex
            _BINDINGS[instance] = binding
            functions = _functions(instance)
            score_default, score_named, flag, explain, threshold, model_info = functions

            def instance_fn():
                return instance

            _KEEPALIVE[instance] = (*functions, instance_fn)
            arrow = {"type": "arrow", "null_handling": "special"}
            con.create_function(SCORE_DEFAULT, score_default, [VARCHAR], DOUBLE, **arrow)
            con.create_function(SCORE_NAMED, score_named, [VARCHAR, VARCHAR], DOUBLE, **arrow)
            con.create_function("anomaly_flag", flag, [VARCHAR], BOOLEAN, **arrow)
            con.create_function("anomaly_explain", explain, [VARCHAR], VARCHAR, **arrow)
            con.create_function("anomaly_threshold", threshold, [], DOUBLE)
            con.create_function("anomaly_model", model_info, [], VARCHAR)
            con.create_function(INSTANCE_FN, instance_fn, [], VARCHAR)
            _register_reasons(con)
            _register_progress(con)
    create_macros(con)
    return binding
