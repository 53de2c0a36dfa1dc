"""`--mode auto`'s plan: a count of layer-tokens by batch width, priced by probes cached per
machine; the run keeps to the budget the plan was made for."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tests.helpers.training_data import make_training_table
from training.auto import plan_mode, work
from training.batch_steps import CPU_TOKENS, micro_slices
from training.config import TrainConfig
from training.finetune import over_budget
from training.probe import StepCost, probe_cost
from training.trainer import train


def quiet(*_args, **_kwargs):
    pass


def _model(tiny_bert):
    from udf.heads import ClassifierHead
    from udf.model import AnomalyModel

    return AnomalyModel.from_base(tiny_bert, ClassifierHead(32), 64)


def _table(n=1000):
    ids = [[5] * (10 + i % 50) for i in range(n)]
    labels = np.array([i % 12 == 0 for i in range(n)], dtype=int)
    local = {"train": np.arange(700), "val": np.arange(700, 850), "test": np.arange(850, n)}
    return ids, labels, local


def test_a_step_cost_is_flat_below_the_first_probe_and_a_line_above_it():
    cost = StepCost(((128, 80e-6), (512, 160e-6)))
    assert cost.at(48) == cost.at(128) == 80e-6
    assert cost.at(320) == pytest.approx(120e-6)
    assert cost.at(1024) == pytest.approx(266.67e-6, rel=1e-3)  # extrapolated
    assert cost.seconds({64: 1e6, 512: 1e6}) == pytest.approx(80.0 + 160.0)
    assert StepCost(((128, 25e-6),)).at(512) == 25e-6  # one probe: flat
    assert StepCost.from_dict(cost.to_dict()) == cost
    assert StepCost.from_dict({"s_per_layer_token": 9e-5}) is None  # the format before


def test_micro_batches_hold_at_most_the_token_budget_and_never_zero_rows():
    widths = [64] * 40 + [512] * 10
    parts = micro_slices(widths, 32, CPU_TOKENS)
    assert [p.stop - p.start for p in parts] == [32, 8, 8, 2]  # 8 x 64 + 8 x 512 > budget
    assert sum(p.stop - p.start for p in parts) == 50
    assert all((p.stop - p.start) * max(widths[p]) <= CPU_TOKENS for p in parts)
    assert [p.stop - p.start for p in micro_slices([9000, 9000], 32, CPU_TOKENS)] == [1, 1]
    assert [p.stop - p.start for p in micro_slices(widths, 32, None)] == [32, 18]


def test_auto_plan_is_a_count_priced_by_cached_probes(tmp_path, tiny_bert):
    import torch

    model = _model(tiny_bert)
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    cache = tmp_path / ".speed.json"
    first, source = probe_cost(model, "cpu", cache)
    assert first.at(0) > 0 and cache.exists()
    assert probe_cost(model, "cpu", cache) == (first, source)  # measured once per machine
    train_cost, _ = probe_cost(model, "cpu", cache, step="train")
    assert len(train_cost.points) == 2  # two widths
    assert train_cost.at(128) > first.at(128)  # a training step costs more than a forward
    entries = json.loads(cache.read_text())
    assert len(entries) == 2 and all("format=2" in key for key in entries)
    assert probe_cost(model, "cpu", cache, step="train")[0] == train_cost
    after = model.encoder.state_dict()  # the training probe steps a copy, not the model
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not model.encoder.training
    with pytest.raises(ValueError, match="forward' or 'train"):
        probe_cost(model, "cpu", cache, step="backward")


def test_an_entry_of_the_older_format_is_measured_again(tmp_path, tiny_bert):
    from training.probe import _machine_key

    model = _model(tiny_bert)
    cache = tmp_path / ".speed.json"
    old_key = _machine_key(model, "cpu") + "|step=train"
    cache.write_text(json.dumps({old_key: {"s_per_layer_token": 1.0}}))
    cost, _ = probe_cost(model, "cpu", cache, step="train")
    assert cost.at(128) < 1.0 and len(json.loads(cache.read_text())) == 2


def test_the_training_load_counts_the_padding_of_its_micro_batches(tiny_bert):
    model = _model(tiny_bert)
    ids, labels, local = _table()
    counts = work(model, ids, labels, local, 1, 32)
    layers = counts["layers"]
    serve = [model.tokenizer.padded_length(len(ids[r])) for r in local["train"]]
    full = counts["full_epoch_train"]
    assert sum(full.values()) >= layers * sum(serve)  # padded to each micro-batch's widest
    assert sum(full.values()) <= 1.3 * layers * sum(serve)  # length buckets keep it small
    assert set(full) <= set(serve)
    assert max(counts["top_epoch_train"]) <= 32  # top trains at train_length
    assert sum(counts["encode"].values()) == layers * sum(
        model.tokenizer.padded_length(len(x)) for x in ids)
    assert work(model, ids, labels, local, 1, 32) == counts  # the same table, the same count


def test_the_plan_covers_every_pass_of_the_run(tmp_path, tiny_bert):
    model = _model(tiny_bert)
    ids, labels, local = _table()
    counts = work(model, ids, labels, local, 1, 32)
    fwd = StepCost(((128, 1e-6),))
    trn = StepCost(((16, 3e-6), (64, 6e-6)))
    plans = [plan_mode(counts, fwd, trn, 1e9, "cpu", "test", 700, head_search_s=1.0)
             for _ in range(2)]
    assert plans[0] == plans[1] and plans[0].mode == "full"
    head = fwd.seconds(counts["encode"]) + 1.0 + fwd.seconds(counts["tail"])
    assert plans[0].estimates_s["head"] == pytest.approx(head, abs=0.1)
    val = fwd.seconds(counts["full_epoch_val"])
    one_epoch = head + fwd.seconds(counts["full_test"]) + 2 * val \
        + trn.seconds(counts["full_epoch_train"])  # epoch 0 and epoch 1 score validation
    budget = one_epoch + 1e-3
    plan = plan_mode(counts, fwd, trn, budget, "cpu", "test", 700, head_search_s=1.0)
    assert plan.detail["fits"]["full"]["epochs"] == 1
    assert plan.detail["mode_seconds"]["full"]["after"] == pytest.approx(
        fwd.seconds(counts["full_test"]) + fwd.seconds(counts["tail"]), abs=0.1)
    # priced flat at the narrow probe, an epoch would fit this budget; priced by width not
    flat = StepCost(((16, 3e-6),))
    tight = (head + fwd.seconds(counts["full_test"]) + 2 * val
             + flat.seconds(counts["full_epoch_train"])) * (1 + 1e-6)
    assert "full" not in plan_mode(counts, fwd, trn, tight, "cpu", "test", 700,
                                   head_search_s=1.0).detail["fits"]
    assert plan_mode(counts, fwd, trn, head, "cpu", "test", 700, head_search_s=1.0
                     ).mode == "head"


def test_another_epoch_is_not_started_when_it_would_overrun():
    started = time.monotonic() - 10.0  # one epoch done in 10 s
    assert not over_budget(started, 1, None)
    assert not over_budget(started, 1, 25.0)
    assert over_budget(started, 1, 15.0)
    assert not over_budget(started, 2, 16.0)  # two epochs in 10 s: 5 s each


def test_auto_records_its_estimate_and_decision(tmp_path, tiny_bert):
    from udf.artifact import read_meta

    db = make_training_table(tmp_path / "w.duckdb", users=70)
    cfg = dict(db_path=db, base_model=str(tiny_bert), mode="auto", progress=False,
               compare_peers=False, epochs=1, time_budget_s=1.0, min_anomalies_for_split=0)
    result = train(TrainConfig(**cfg), log=quiet)
    plan = read_meta(result.path)["plan_estimate"]
    assert plan["chosen_by"] == "auto" and plan["mode"] == "head"  # nothing fits 1 s
    assert {"head", "top", "full"} <= set(plan["estimates_s"])
    assert plan["s_per_layer_token"] > 0 and plan["layer_tokens"]["encode"] > 0
    assert plan["train_cost"]["s_per_layer_token_by_width"]
    again = train(TrainConfig(**cfg), log=quiet)
    assert read_meta(again.path)["plan_estimate"] == plan  # same table, same plan
    if result.mode != "head":
        pytest.fail("auto trained a mode whose estimate did not fit")
