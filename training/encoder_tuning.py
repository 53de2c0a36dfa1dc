"""The fine-tuning steps of a supervised run, after the head is trained on frozen embeddings.

- `tune_encoder`: modes `full` and `lora` (training.finetune) on the whole encoder;
- `tune_top`: mode `top` (training.top_layers), the top layers on cached lower-layer states.

Both start from the trained head and keep a fine-tuned model only when one of its epochs
beats the head on validation (a higher PR-AUC where validation tells them apart,
otherwise a lower log loss: training.epoch_choice); otherwise the run ships the head
(mode `head`) and says why.
Each takes the `training.trainer.Run` it belongs to, for its config, labels, log and timings.
"""

from __future__ import annotations

import time

import numpy as np

from training.finish import models_dir


def n_top(cfg, model) -> int:
    """How many top layers mode `top` trains (`--top-layers`, at most the encoder's)."""
    return min(cfg.top_layers, int(model.encoder.config.num_hidden_layers))


def val_users(run, local) -> np.ndarray:
    """The user of each validation row: the epoch rule resamples users."""
    return run.sessions.groups[run.labelled][local["val"]]


def _time_left(run, plan, mode: str) -> float:
    """What fine-tuning may spend of the run's time budget, at least a minute: what is left,
    less the plan's estimate of what follows the last epoch (test scores, decision check)."""
    after = (plan.detail.get("mode_seconds", {}).get(mode, {}).get("after", 0.0)
             if plan is not None else 0.0)
    return max(60.0, run.cfg.time_budget_s - (time.monotonic() - run.started) - after)


def tune_encoder(run, model, mode, ids, local, data, best, plan, val_scores, val_auc,
                 history):
    """Modes full and lora; (model, val scores, val PR-AUC, test scores, mode to ship)."""
    from training.finetune import finetune, predict
    from training.head_trainer import head_scores

    cfg = run.cfg
    epochs = cfg.epochs or plan.epochs or 3
    # a set mode runs all its epochs
    budget = _time_left(run, plan, mode) if cfg.mode == "auto" else None
    train_rows, val_rows = local["train"], local["val"]
    if cfg.finetune_max_rows and train_rows.size > cfg.finetune_max_rows:
        rng = np.random.default_rng(cfg.seed)
        train_rows = np.sort(rng.choice(train_rows, cfg.finetune_max_rows, replace=False))
        run.log(f"  {mode}: fine-tuning on a sample of {train_rows.size} training "
                "sessions (--finetune-max-rows)")
    labels = run.sessions.labels[run.labelled]
    started = time.monotonic()
    model, ft_auc, ft_val, ft_history, best_epoch = finetune(
        model, run.texts(range(len(ids))), ids, labels, train_rows, val_rows, mode,
        run.device, epochs, best.params.imbalance, cfg.seed, time_budget_s=budget,
        log=run.log, progress=cfg.progress,
        train_lexical=lexical_logits(model, local, data, names=("train",)),
        val_groups=val_users(run, local))
    run.timings["finetune"] = round(time.monotonic() - started, 2)
    run.timings["finetune_rows"] = int(train_rows.size) * len(ft_history[1:])
    history["finetune"] = ft_history
    history["finetune_time_budget_s"] = budget  # None: the explicit mode's epochs
    # epoch 0 is this same head: only a fine-tuning epoch that beat it counts
    if best_epoch > 0:
        # the same device and precision as the validation scores that set the threshold
        test_scores = predict(model, run.texts(local["test"]),
                              [ids[i] for i in local["test"]], run.device, "fp32")
        model.to("cpu")
        return model, ft_val, ft_auc, test_scores, mode
    run.log(f"  {mode}: no epoch beat the head on validation (PR-AUC {val_auc:.4f}); "
            "keeping head mode")
    return model, val_scores, val_auc, head_scores(model.head, data["test"]), "head"


def encode_eval(run, model, ids, local):
    """Mode top: one frozen pass over validation and test rows that keeps their
    lower-layer states and stores their pooled vectors for the head."""
    from training.top_layers import encode_eval as frozen_pass
    from udf.embedding_store import EmbeddingStore, encoder_key

    started = time.monotonic()
    rows = np.concatenate([local["val"], local["test"]])
    n_lower = int(model.encoder.config.num_hidden_layers) - n_top(run.cfg, model)
    cache, pooled = frozen_pass(model, ids, rows, n_lower, run.device)
    store = EmbeddingStore(models_dir(run.cfg) / ".embeddings", encoder_key(model))
    keys, missing = store.lookup(run.texts(rows))
    if missing:
        store.put([keys[i] for i in missing], pooled[missing])
        store.save()
    run.timings["encode_eval"] = round(time.monotonic() - started, 2)
    return cache


def lexical_logits(model, local, data, names=("train", "val", "test")) -> dict | None:
    """The lexical logit of each labelled row of `names` (row -> logit), None without one.

    Training rows get their out-of-fold logit, the one the head's stacking weights were
    fitted on: the full-fit n-gram model has seen those rows and separates them almost
    perfectly, which would leave the encoder nothing to learn from their loss. Validation
    and test rows get the served model's logit."""
    import torch

    from training.head_trainer import _bag_inputs

    if model.head.lexical is None:
        return None
    out = {}
    with torch.no_grad():
        for name in names:
            rows = local[name]
            if not rows.size:
                continue
            part = data[name].lexical_logit if name == "train" else None
            if part is None:
                part = model.head.lexical_logit(_bag_inputs(data[name], range(rows.size)))
            out.update(zip(rows.tolist(), part.numpy().tolist(), strict=True))
    return out


def out_of_fold_logits(head, train) -> np.ndarray:
    """The head's logit of each training row with the lexical term's out-of-fold logit.

    Mode top mines the hardest training normals by this score. The head's lexical term was fit
    on these same rows and all but memorizes them, so the served head scores every training
    normal near zero and its ranking is mostly noise; out of fold, a normal whose words look
    anomalous ranks high, as it would on a session the head has never seen."""
    import torch

    head.eval()
    with torch.no_grad():
        return head.logits(train.pooled, lexical_logit=train.lexical_logit).numpy()


def tune_top(run, model, ids, local, data, best, plan, eval_cache, val_scores, val_auc,
             history):
    """Mode top; (val scores, val PR-AUC, test scores, mode to ship)."""
    from training.head_trainer import head_scores
    from training.top_layers import finetune_top

    cfg = run.cfg
    labels = run.sessions.labels[run.labelled]
    budget = _time_left(run, plan, "top")
    started = time.monotonic()
    layers = n_top(cfg, model)
    out = finetune_top(model, ids, labels, local["train"], local["val"], local["test"],
                       eval_cache, out_of_fold_logits(model.head, data["train"]),
                       lexical_logits(model, local, data), layers,
                       cfg.epochs or plan.epochs or 3, best.params.imbalance, cfg.seed,
                       run.device, cfg.train_length, log=run.log, time_budget_s=budget,
                       val_groups=val_users(run, local))
    run.timings["finetune"] = round(time.monotonic() - started, 2)
    run.timings.update({f"finetune_{k}": v for k, v in out.seconds.items()})
    run.timings["finetune_rows"] = out.sample_rows
    history["finetune"] = out.history
    if out.improved:
        run.layers_trained = layers
        return out.val_scores, out.val_pr_auc, out.test_scores, "top"
    run.log(f"  top: no epoch beat the frozen encoder on validation (PR-AUC "
            f"{val_auc:.4f}); keeping head mode")
    return val_scores, val_auc, head_scores(model.head, data["test"]), "head"
