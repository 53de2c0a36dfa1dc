"""The lexical logits fine-tuning trains on: out-of-fold on training rows, served elsewhere."""

from __future__ import annotations

import numpy as np
import torch

from tests.helpers.samples import session_texts
from training.encoder_tuning import lexical_logits
from training.head_trainer import HeadData, _bag_inputs, make_bags
from udf.scorer import Scorer


def test_training_rows_get_their_out_of_fold_logit_and_the_others_the_served_one(tiny_model):
    model = Scorer(tiny_model, precision="fp32").model
    texts = session_texts(9, seed=3)
    bags = make_bags(model.hasher, texts, model.head.idf.numpy())
    local = {"train": np.array([0, 1, 2, 3]), "val": np.array([4, 5, 6]),
             "test": np.array([7, 8])}
    data = {name: HeadData(torch.zeros(rows.size, 32), [bags[r] for r in rows],
                           np.zeros(rows.size)) for name, rows in local.items()}
    oof = torch.tensor([9.0, -9.0, 8.0, -8.0])
    data["train"].lexical_logit = oof
    out = lexical_logits(model, local, data)
    assert [out[r] for r in range(4)] == oof.tolist()
    with torch.no_grad():
        served = model.head.lexical_logit(_bag_inputs(data["val"], range(3))).tolist()
    assert [out[r] for r in (4, 5, 6)] == served
    assert set(lexical_logits(model, local, data, names=("train",))) == {0, 1, 2, 3}
