"""One training run, end to end: read, split, encode, train, calibrate, evaluate, save, record.

The test split is scored once, after the model and its threshold are fixed on validation.
Nothing becomes current until its artifact is complete on disk (udf.artifact.save_model
renames a finished directory into place; udf.registry.record_run switches in a transaction).

Each new version also records its drift baselines in `duckbert_model_baselines`: decile bins
of the training-time distributions of its own scores and of the session lengths, which the
dbt test `duckbert_drift` compares with the warehouse now (population stability index).
"""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from training import encoder_tuning
from training.config import TrainConfig
from training.finish import models_dir
from training.labelled import check_labels, open_warehouse, read_sessions
from training.result import TrainResult
from training.splits import Split, TooFewForSplit, make_split
from training.threads import single_thread
from udf.sqlident import quote_identifier, quote_table


class Run:
    """State shared by the steps of one training run."""

    def __init__(self, cfg: TrainConfig, log):
        self.cfg = cfg
        self.log = log
        self.started = time.monotonic()
        self.timings: dict = {}
        self.evaluation = {"method": "held-out split", "note": "model and threshold chosen "
                           "on the validation split, test scored once at the end"}
        self.fold_peers = None  # few labels: () -> (peers, lead) out-of-fold (crossval)

    # -- reading ------------------------------------------------------------------------

    def read(self):
        con = open_warehouse(self.cfg.db_path, read_only=True)
        try:
            self.sessions = read_sessions(con, self.cfg)
            from udf.registry import current_model

            self.current = current_model(con)
            self.aggregates = self._aggregates(con) if self.cfg.compare_peers else ({}, [])
            self.lengths = self._lengths(con)
        finally:
            con.close()
        if self.sessions.skipped_null_text:
            self.log(f"  {self.sessions.skipped_null_text} rows have no session text and are "
                     "not used")

    def _lengths(self, con) -> dict[str, np.ndarray]:
        """Session lengths at training time (drift baselines): text length, and n_events
        when the table has it; over the rows training reads (text not NULL)."""
        cfg = self.cfg
        columns = {r[0] for r in con.execute(f"describe {quote_table(cfg.table)}").fetchall()}
        text = quote_identifier(cfg.text_col)
        metrics = {"text_length": f"length({text})"}
        if "n_events" in columns:
            metrics["n_events"] = quote_identifier("n_events")
        select = ", ".join(f"cast({expr} as double) as {quote_identifier(name)}"
                           for name, expr in metrics.items())
        columns = con.execute(f"select {select} from {quote_table(cfg.table)} "
                              f"where {text} is not null").fetchnumpy()
        return {name: np.asarray(columns[name], dtype=float) for name in metrics}

    def _aggregates(self, con):
        from training.peers import read_aggregates

        cfg = self.cfg
        exclude = {c for c in (cfg.label_col, cfg.id_col) if c}
        columns, by_id = read_aggregates(con, cfg.table, cfg.id_col, exclude) \
            if cfg.id_col else ([], {})
        return by_id, columns

    # -- modes --------------------------------------------------------------------------

    def run(self) -> TrainResult:
        from udf.device import choose_device

        self.device = choose_device(self.cfg.device)
        self.read()
        if self.cfg.mode == "unsupervised":
            return self._unsupervised()
        check_labels(self.sessions.labels, self.cfg.table)
        try:
            self.split = make_split(self.sessions, self.cfg, fresh=not self.cfg.resume)
        except TooFewForSplit as exc:
            if self.cfg.resume:
                raise
            from training.crossval import few_label_run

            return few_label_run(self, str(exc))
        self._log_split()
        if self.cfg.resume:
            from training.resume import resume

            return resume(self)
        return self._supervised()

    def _log_split(self):
        labels = self.sessions.labels
        parts = []
        for name in ("train", "val", "test"):
            rows = getattr(self.split, name)
            parts.append(f"{name} {rows.size} ({int((labels[rows] == 1).sum())} anomalous)")
        how = "by user (each user's own hash)" if self.cfg.split == "user" else "by time"
        self.log(f"split {how}: " + ", ".join(parts))
        if self.split.moved:
            self.log(f"  {len(self.split.moved)} anomalous users moved from train so that "
                     "validation and test hold enough anomalies (rare-anomaly guard)")

    def _base_model(self):
        from udf.base_models import DEFAULT_BASE_MODEL, resolve_base_model
        from udf.heads import ClassifierHead
        from udf.model import AnomalyModel

        self.base_dir = resolve_base_model(self.cfg.base_model)
        placeholder = ClassifierHead(1)
        model = AnomalyModel.from_base(self.base_dir, placeholder, self.cfg.max_length,
                                       ngram_buckets=self.cfg.ngram_buckets)
        self.base_name = self.cfg.base_model or DEFAULT_BASE_MODEL
        return model

    def _features(self, model, rows: np.ndarray, ids=None):
        """Token ids and pooled embeddings of `rows` (all rows of the table are cached)."""
        from training.embeddings import embed_texts

        started = time.monotonic()
        texts = [self.sessions.texts[r] for r in rows]
        ids = model.tokenizer.ids(texts) if ids is None else ids
        pooled = embed_texts(model, texts, ids, self.device, models_dir(self.cfg) /
                             ".embeddings", progress=self.cfg.progress)
        self.timings["encode"] = round(time.monotonic() - started, 2)
        return ids, pooled

    def _head_data(self, model, ids, pooled, idf, rows_local):
        import torch

        from training.head_trainer import HeadData, make_bags

        bags = make_bags(model.hasher, self.texts(rows_local), idf)
        labels = self.sessions.labels[self.labelled[rows_local]]
        return HeadData(torch.from_numpy(pooled[rows_local]), bags, labels)

    def texts(self, local_rows) -> list[str]:
        """Texts of labelled rows, by their position among the labelled rows."""
        return [self.sessions.texts[self.labelled[i]] for i in local_rows]

    def local_rows(self) -> dict[str, np.ndarray]:
        """Each split's rows by their position among the labelled rows."""
        self.labelled = self.sessions.labelled
        position = {row: i for i, row in enumerate(self.labelled)}
        return {name: np.array([position[r] for r in getattr(self.split, name)], dtype=int)
                for name in ("train", "val", "test")}

    def prepare_head_inputs(self, model, idf=None, ids=None):
        local = self.local_rows()
        ids, pooled = self._features(model, self.labelled, ids)
        if idf is None:
            df = model.hasher.document_frequency(self.texts(local["train"]))
            idf = model.hasher.idf(df, len(local["train"]))
        data = {name: self._head_data(model, ids, pooled, idf, rows)
                for name, rows in local.items()}
        return ids, local, idf, data

    def _supervised(self) -> TrainResult:
        from training.head_trainer import describe, head_scores, search_head

        cfg = self.cfg
        model = self._base_model()
        local = self.local_rows()
        ids = model.tokenizer.ids(self.texts(range(self.labelled.size)))
        mode, plan = self._choose_mode(model, ids, local)
        eval_cache = encoder_tuning.encode_eval(self, model, ids, local) \
            if mode == "top" else None
        ids, local, idf, data = self.prepare_head_inputs(model, ids=ids)
        self.log("training the head on frozen embeddings (validation picks the candidate):")
        started = time.monotonic()
        with single_thread():
            lexical_fit = self.fit_lexical(model, data, idf)
            best, trials = search_head(data["train"], data["val"], model.hidden_size,
                                       lexical_fit, cfg.head_epochs, cfg.seed,
                                       lexical=cfg.lexical,
                                       hidden_units=cfg.head_hidden_units, log=self.log)
        self.timings["head"] = round(time.monotonic() - started, 2)
        model.head = best.head
        self.head_params = asdict(best.params)
        if self.lexical_params:
            self.lexical_params["in_head"] = model.head.lexical is not None
        self.log(f"  chosen: {describe(best.params)} (val PR-AUC {best.val_pr_auc:.4f})")
        val_scores, val_auc = best.val_scores, best.val_pr_auc
        history = {"head_trials": trials}
        if mode == "top":
            val_scores, val_auc, test_scores, mode = encoder_tuning.tune_top(
                self, model, ids, local, data, best, plan, eval_cache, val_scores, val_auc,
                history)
        elif mode in ("full", "lora"):
            model, val_scores, val_auc, test_scores, mode = encoder_tuning.tune_encoder(
                self, model, mode, ids, local, data, best, plan, val_scores, val_auc, history)
        else:
            test_scores = head_scores(model.head, data["test"])
        self.history = history
        return self.finish(model, mode, plan.reason if plan else "", val_scores, test_scores,
                            self.texts(local["val"]))

    def fit_lexical(self, model, data, idf, choices=None):
        from training.head_trainer import fit_lexical

        if self.cfg.lexical is False:
            self.lexical_params = {}
            return None
        fit = fit_lexical(data["train"], data["val"], model.hasher.size, idf, self.cfg.seed,
                          choices=choices, log=self.log)
        self.lexical_params = {"C": fit.C, "class_weight": fit.class_weight,
                               "val_pr_auc": round(fit.val_pr_auc, 4)}
        return fit

    def _choose_mode(self, model, ids, local):
        from training.auto import Plan, plan_mode, work
        from training.probe import probe_cost

        mode = self.cfg.mode
        if mode != "auto":
            plan = Plan(mode, self.cfg.epochs or 3, f"--mode {mode}", {})
            self.plan_record = {"mode": mode, "chosen_by": "--mode"}
            return mode, plan
        labels = self.sessions.labels[self.labelled]
        counts = work(model, ids, labels, local, encoder_tuning.n_top(self.cfg, model),
                      self.cfg.train_length, self.device, self.cfg.seed)
        speed = models_dir(self.cfg) / ".speed.json"
        cost, source = probe_cost(model, self.device, speed)
        train_cost, _ = probe_cost(model, self.device, speed, step="train")
        plan = plan_mode(counts, cost, train_cost, self.cfg.time_budget_s, self.device, source,
                         int(local["train"].size))
        self.plan_record = {"mode": plan.mode, "epochs": plan.epochs, "chosen_by": "auto",
                            "estimates_s": plan.estimates_s, **plan.detail}
        self.log(f"mode auto -> {plan.mode}: {plan.reason}")
        return plan.mode, plan

    # -- unsupervised -------------------------------------------------------------------

    def _unsupervised(self) -> TrainResult:
        from training.unsupervised import choose_k, fit_knn, knn_scores

        model = self._base_model()
        model.hasher = None
        labels = self.sessions.labels
        has_labels = set(np.unique(labels[labels >= 0]).tolist()) == {0, 1}
        held_out = True
        if has_labels:
            try:
                self.split = make_split(self.sessions, self.cfg)
                self._log_split()
            except TooFewForSplit:
                # kNN learns nothing from labels: every labelled row can choose k and the
                # threshold, but then none is left to test on
                rows = self.sessions.labelled
                self.split = Split(rows[:0], rows, rows[:0])
                held_out = False
                self.log(f"too few labels for a three-way split: k and the threshold are "
                         f"chosen on all {rows.size} labelled sessions; no test split")
            fit_rows = np.setdiff1d(np.arange(len(labels)), self.split.test)
        else:
            self.log("no labels of both classes: the detector is fitted and calibrated "
                     "without them")
            fit_rows = np.arange(len(labels))
        ids, pooled = self._features(model, np.arange(len(labels)))
        k_choice = {}
        if has_labels:  # k chosen on validation, never on the test split
            k, k_choice = choose_k(pooled[fit_rows], pooled[self.split.val],
                                   labels[self.split.val], self.cfg.seed, log=self.log)
        else:
            k = None
        model.head = fit_knn(pooled[fit_rows], self.cfg.seed, k=k)
        scores = knn_scores(model.head, pooled)
        self.head_params, self.lexical_params = {"k": model.head.k, **k_choice}, {}
        self.history = {"n_reference": int(model.head.reference.shape[0])}
        if has_labels:
            if not held_out:
                self.evaluation = {"method": "all labelled rows", "note": (
                    "too few labels for a three-way split: k and threshold chosen on every "
                    "labelled session; no test split")}
            return self.finish(model, "unsupervised", "--mode unsupervised",
                                scores[self.split.val], scores[self.split.test],
                                [self.sessions.texts[i] for i in self.split.val])
        self.evaluation = {"method": "none", "note": "no labels: k is the default prior "
                           "(1% of the references), the threshold a contamination share"}
        if self.cfg.threshold_policy == "max_f1":
            self.cfg.threshold_policy, self.cfg.contamination = "contamination", 0.05
        return self.finish(model, "unsupervised", "--mode unsupervised (no labels)",
                            scores, None, self.sessions.texts[:256], labelled=False)

    # -- finishing ----------------------------------------------------------------------

    def finish(self, model, mode, plan, val_scores, test_scores, val_texts, keep=True,
               labelled=True) -> TrainResult:
        """Threshold, test metrics, optional steps, save and record (training.finish)."""
        from training.finish import finish_run

        return finish_run(self, model, mode, plan, val_scores, test_scores, val_texts,
                          keep=keep, labelled=labelled)

    def served_block(self, model, mode: str) -> dict:
        """What is served: encoder frozen or fine-tuned (how many layers), head, lexical."""
        from udf.artifact import served_model

        layers = int(model.encoder.config.num_hidden_layers)
        trained = {"full": layers, "lora": layers}.get(mode, getattr(self, "layers_trained", 0)
                                                       if mode == "top" else 0)
        served = {"encoder": "frozen" if trained == 0 else "fine-tuned",
                  "layers_trained": int(trained), "encoder_layers": layers}
        return served_model({"served": served, "head": model.head.config()})

    def text_format(self) -> str | None:
        con = open_warehouse(self.cfg.db_path, read_only=True)
        try:
            columns = {r[0] for r in con.execute(
                f"describe {quote_table(self.cfg.table)}").fetchall()}
            if "text_format" not in columns:
                return None
            rows = con.execute(f"select distinct {quote_identifier('text_format')} from "
                               f"{quote_table(self.cfg.table)} limit 2").fetchall()
            return rows[0][0] if len(rows) == 1 else None
        finally:
            con.close()

def train(cfg: TrainConfig, log=print) -> TrainResult:
    """Train per `cfg`; see TrainConfig for every option."""
    return Run(cfg, log).run()
