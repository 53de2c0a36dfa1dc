"""Mode top: the top layers over cached lower-layer states are the encoder itself; a run on
the tiny BERT ships only what beat the frozen head."""

from __future__ import annotations

import numpy as np

from tests.helpers.training_data import make_training_table
from training.config import TrainConfig
from training.trainer import train


def quiet(*_args, **_kwargs):
    pass


def _model(tiny_bert):
    from udf.heads import ClassifierHead
    from udf.model import AnomalyModel

    return AnomalyModel.from_base(tiny_bert, ClassifierHead(32), 64)


def test_lower_then_top_layers_equal_the_whole_encoder(tiny_bert):
    from training.top_layers import encode_eval
    from udf.encode import embed_ids

    model = _model(tiny_bert)
    ids = model.tokenizer.ids([f"view phone p{i} " * (i + 1) for i in range(9)])
    rows = np.arange(9)
    layers = model.encoder.config.num_hidden_layers
    for n_lower in range(layers + 1):
        cache, pooled = encode_eval(model, ids, rows, n_lower, "cpu")
        assert np.allclose(pooled, embed_ids(model, ids), atol=1e-6)
        assert sorted(cache.states) == rows.tolist()
        assert all(cache.states[r].dtype.is_floating_point for r in rows)


def test_informative_rows_take_every_anomaly_and_the_hardest_normals():
    from training.top_layers import informative_rows

    rows = np.arange(100)
    labels = (rows % 10 == 0).astype(int)  # 10 anomalies
    scores = rows / 100.0  # the higher the row, the harder the normal
    chosen = informative_rows(rows, labels, scores, seed=0)
    assert set(rows[labels == 1]) <= set(chosen)
    assert chosen.size == 40
    normals = np.setdiff1d(chosen, rows[labels == 1])
    hardest = np.sort(rows[labels == 0])[::-1][:20]
    assert set(hardest) <= set(normals)


def test_hard_normals_are_ranked_by_the_lexical_terms_out_of_fold_logit():
    import torch

    from training.encoder_tuning import out_of_fold_logits
    from training.head_trainer import HeadData, head_scores
    from udf.heads import ClassifierHead

    torch.manual_seed(0)
    head = ClassifierHead(4, lexical_size=8)
    with torch.no_grad():
        head.lexical.weight[:4] = -5.0  # the full fit "remembers" rows 0-1 as normal
        head.lexical.weight[4:] = 5.0
    bags = [(np.array([0, 1]), np.ones(2, np.float32))] * 2 + \
        [(np.array([4, 5]), np.ones(2, np.float32))] * 2
    oof = torch.tensor([3.0, 2.0, -2.0, -3.0])  # out of fold, rows 0-1 look anomalous
    train = HeadData(torch.zeros(4, 4), bags, np.zeros(4, np.int64), lexical_logit=oof)

    logits = out_of_fold_logits(head, train)
    mlp = head.logits(torch.zeros(4, 4)).detach().numpy()
    np.testing.assert_allclose(logits, mlp + oof.numpy(), rtol=1e-6)
    assert list(np.argsort(-logits)) == [0, 1, 2, 3]
    assert list(np.argsort(-head_scores(head, train), kind="stable")[:2]) == [2, 3]


def test_mode_top_trains_and_ships_only_what_beats_the_head(tmp_path, tiny_bert):
    from udf.artifact import read_meta
    from udf.scorer import Scorer

    db = make_training_table(tmp_path / "w.duckdb")
    result = train(TrainConfig(db_path=db, base_model=str(tiny_bert), mode="top",
                               top_layers=1, train_length=32, epochs=2, progress=False,
                               compare_peers=False), log=quiet)
    meta = read_meta(result.path)
    history = meta["history"]["finetune"]
    assert history[0]["epoch"] == 0 and len(history) >= 2
    kept = [h["epoch"] for h in history[1:] if h["kept"]]
    assert all(h["decided_by"] in ("pr_auc", "log_loss") for h in history[1:])
    if result.mode == "top":  # a fine-tuning epoch beat the head (training.epoch_choice)
        assert kept
        assert meta["served"]["encoder"] == "fine-tuned"
        assert meta["served"]["layers_trained"] == 1
        assert "top 1 of 2 layers" in meta["served"]["description"]
    else:
        assert not kept
        assert meta["served"]["encoder"] == "frozen"
    # the validation metrics are the served artifact's
    con_texts = _split_texts(db, meta)
    scores = Scorer(result.path, precision="fp32", cache_size=0, use_store=False).score(
        con_texts)
    assert len(scores) == meta["metrics"]["validation"]["n"]


def _split_texts(db, meta):
    from training.labelled import open_warehouse, read_sessions
    from training.splits import make_split

    cfg = TrainConfig(**{k: v for k, v in meta["config"].items()
                         if k not in ("split_fractions",)})
    con = open_warehouse(db, read_only=True)
    try:
        sessions = read_sessions(con, cfg)
    finally:
        con.close()
    split = make_split(sessions, cfg)
    return [sessions.texts[i] for i in split.val]


