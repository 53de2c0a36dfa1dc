"""Every setting of a training run, with its default and why it is there."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

MODES = ("auto", "head", "top", "full", "lora", "unsupervised")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SPLITS = ("user", "time")
# Named recipes: TrainConfig overrides that `duckbert train --recipe NAME` applies.
RECIPES = {
    # The seed document's recipe: a frozen encoder, one fully connected layer, BCE, and no
    # lexical n-gram term (validation still picks the class-imbalance strategy).
    "seed": {"mode": "head", "lexical": False, "head_hidden_units": 0},
}


@dataclass
class TrainConfig:
    """One training run. Defaults give the seed document's recipe on this machine."""

    db_path: str
    """DuckDB warehouse file to read labelled sessions from and record the model in."""
    table: str = "training_sessions"
    """Labelled table (or view); rows whose label is NULL are unlabelled."""
    text_col: str = "session_text"
    """Column holding the rendered session text the encoder reads."""
    label_col: str = "is_anomaly"
    """Boolean or 0/1 label column; NULL = unlabelled."""
    id_col: str = "session_id"
    """Row id, used for the data fingerprint and for resuming."""
    user_col: str | None = "user_id"
    """Grouping column for `split='user'` (no user in two splits); None: group by id."""
    time_col: str | None = "session_start"
    """Timestamp column for `split='time'`."""
    family_col: str | None = "anomaly_family"
    """Optional anomaly family column; metrics are reported per family when present."""
    labelled_at_col: str | None = "labelled_at"
    """When each label arrived; `resume` trains on labels that arrived after the model."""
    base_model: str | None = None
    """Pre-trained encoder: None = packaged all-MiniLM-L6-v2, or a local dir / hub name."""
    mode: str = "auto"
    """head (frozen encoder, train the head), top (fine-tune the top `top_layers` layers on
    cached lower-layer states), full, lora, unsupervised, or auto (the best that fits)."""
    top_layers: int = 2
    """Encoder layers that mode `top` fine-tunes (the rest stay frozen and are cached)."""
    train_length: int = 128
    """Token length mode `top` trains at (head and tail of each text); validation, test and
    serving use `max_length`."""
    time_budget_s: float = 600.0
    """Wall-clock budget that `auto` plans for (encode + train), in seconds; with `auto` the
    fine-tuning it chose also stops after the epoch that overruns it. Explicit modes ignore
    it: `mode='full', epochs=3` runs three epochs."""
    epochs: int | None = None
    """Epochs for full/LoRA fine-tuning (default 3)."""
    finetune_max_rows: int | None = None
    """Cap the training rows that full/LoRA epochs see (a seeded sample), to fit a CPU budget;
    the head, validation and test still use every row."""
    head_epochs: int = 30
    """Epochs of each head candidate: a fixed budget, not chosen on validation."""
    name: str = "duckbert"
    """Model name in duckbert_models and the artifact folder; it groups versions. The warehouse
    has exactly one current model (udf.registry): a kept run of any name becomes it."""
    split: str = "user"
    """user: grouped by user, stratified; time: train on the past, test on the future."""
    split_fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    """Train / validation / test shares."""
    threshold_policy: str = "max_f1"
    """How the flag threshold is chosen on validation: max_f1, precision, contamination."""
    target_precision: float | None = None
    """With threshold_policy='precision': the lowest threshold reaching this precision."""
    contamination: float | None = None
    """With threshold_policy='contamination': flag this share of sessions."""
    max_length: int = 512
    """Token limit of the encoder input: st2 texts are a behaviour part under 256 tokens and
    the reviews' words after it (docs/SESSION_TEXT.md); short texts are padded to their own
    length, so only sessions with long reviews pay for the longer limit."""
    lexical: bool | None = None
    """The hashed n-gram term in the head: True always, False never, None: candidates with
    and without it compete on validation."""
    head_hidden_units: int | None = None
    """MLP of the head: 0 is one fully connected layer (the seed's), 128 one hidden layer;
    None lets validation choose between them."""
    ngram_buckets: int = 1 << 18
    """Hash buckets for the word 1-3-grams of the lexical term."""
    resume: bool = False
    """Warm-start from the current model; keep the result only if validation is no worse."""
    seed: int = 0
    """Makes splits, initialisation and sampling repeatable (on the CPU)."""
    device: str | None = None
    """cpu, cuda or None for the best available."""
    models_dir: str | None = None
    """Where artifacts go; default: a `models/` folder next to the warehouse file."""
    compare_peers: bool = True
    """Also fit TF-IDF+LR and gradient boosting on the same split and print their scores."""
    min_rows_per_split: int = 5
    """Each split needs at least this many rows of each class (fewer: a fresh run
    cross-validates, --resume refuses with a clear error)."""
    min_anomalies_for_split: int = 60
    """A fresh run holds out validation and test splits only when at least this many
    labelled sessions are anomalous; with fewer it chooses and calibrates by cross-validation
    grouped by user (training.crossval), which fits and selects on every label. A 15%
    validation split of fewer would hold under 10 anomalies: on the quality benchmark's row b
    (seed 1) the split cost every contender 0.15-0.29 test PR-AUC at 20 and 36 anomalous
    labels. 0: only min_rows_per_split decides."""
    progress: bool = True
    """Show progress bars."""
    extra: dict = field(default_factory=dict)
    """Free-form notes recorded with the run."""

    def __post_init__(self):
        # The name is a directory under models_dir and the left side of name@version.
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(
                f"model name {self.name!r} must start with a letter or digit and hold only "
                "letters, digits, '.', '_' and '-' (at most 64)"
            )
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.head_hidden_units is not None and self.head_hidden_units < 0:
            raise ValueError("head_hidden_units must be 0 (one layer) or a positive width")
        if self.top_layers < 1:
            raise ValueError("top_layers must be at least 1")
        if self.train_length < 8:
            raise ValueError("train_length must be at least 8 tokens")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if self.target_precision is not None:
            if not 0 < self.target_precision <= 1:
                raise ValueError("target_precision must be in (0, 1]")
            self.threshold_policy = "precision"
        if self.contamination is not None:
            if not 0 < self.contamination < 1:
                raise ValueError("contamination must be in (0, 1)")
            self.threshold_policy = "contamination"
        if self.threshold_policy not in ("max_f1", "precision", "contamination"):
            raise ValueError(f"unknown threshold policy {self.threshold_policy!r}")
        if self.min_anomalies_for_split < 0:
            raise ValueError("min_anomalies_for_split must be 0 or more")
        if abs(sum(self.split_fractions) - 1.0) > 1e-6 or min(self.split_fractions) <= 0:
            raise ValueError("split_fractions must be three positive shares summing to 1")

    def to_dict(self) -> dict:
        return asdict(self)
