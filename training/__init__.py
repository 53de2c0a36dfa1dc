"""duckbert training: fine-tune a pre-trained BERT on labelled sessions from the warehouse.

The pieces: `TrainConfig` (every knob, documented), `training.labelled` (read and validate a
labelled table), `training.splits`, `training.trainer.train` (head / full / LoRA /
unsupervised, chosen by `training.auto` when mode is auto), `training.calibrate` and
`training.metrics`. The result is a udf artifact plus a `duckbert_models` row.
"""

from training.config import TrainConfig

__all__ = ["TrainConfig"]
