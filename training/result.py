"""What a training run produced (returned by training.trainer.train)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainResult:
    """What a run produced; `kept` is False when --resume found the new model worse."""

    name: str
    version: str
    path: str | None
    mode: str
    kept: bool
    threshold: float
    threshold_policy: str
    test: dict
    validation: dict
    peers: dict = field(default_factory=dict)
    plan: str = ""
    seconds: float = 0.0
    n_labelled: int = 0
    split_sizes: dict = field(default_factory=dict)
    note: str = ""
    retrained: bool = True
    timings: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    """Optional steps that failed, [{step, cause}] (training.optional); the model is kept."""
    served: str = ""
    """What is served, in words: encoder frozen or fine-tuned, head, lexical term on/off."""
    evaluation: str = ""
    """How the model was selected and evaluated (a held-out split, or cross-validation)."""
    peer_lead: dict = field(default_factory=dict)
    """Test PR-AUC minus the best peer's, paired interval over test users, verdict
    (training.bootstrap.lead_over_best_peer); {} without peers or a test split."""
