"""Which fine-tuning epoch ships: the validation rule of modes full, lora and top.

Epoch 0 is the head on the frozen encoder. A later epoch replaces the incumbent (epoch 0, or
the best epoch so far) when validation can tell the two apart by PR-AUC and it ranks the
anomalies better: the paired bootstrap interval of its PR-AUC minus the incumbent's, over the
validation sessions, lies above 0. When that interval includes 0, the two rank validation
within what resampling the split moves a PR-AUC by, and the lower class-balanced log loss
decides: it reads every row's probability, not only their order, so it separates candidates
that a small split's PR-AUC cannot (row e of the quality benchmark validates on 92 sessions,
31 of them anomalous, where fine-tuned epochs and the head differ by 0.0003-0.004).

The bootstrap resamples users when the key has them (a user's sessions are alike, so
resampling sessions alone would make the interval too narrow: the quality benchmark's
intervals are over test users for the same reason), otherwise sessions; it is seeded, so a
run's choice is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

REPLICATES = 500
LEVEL = 0.95
SEED = 0
AUC_TIE = 1e-6  # PR-AUCs closer than this rank the validation anomalies the same way


@dataclass(frozen=True, eq=False)
class ValidationKey:
    """One candidate's validation scores with their PR-AUC and balanced log loss."""

    pr_auc: float
    log_loss: float
    labels: np.ndarray = field(repr=False)
    probabilities: np.ndarray = field(repr=False)
    groups: np.ndarray | None = field(default=None, repr=False)  # user of each row


def validation_key(labels, probabilities, groups=None) -> ValidationKey:
    """The PR-AUC and balanced log loss of one candidate's validation probabilities;
    `groups` (the user of each row) makes the bootstrap resample users."""
    from sklearn.metrics import average_precision_score

    from training.metrics import balanced_log_loss

    labels = np.asarray(labels).astype(int)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if groups is not None:
        groups = np.unique(np.asarray(groups), return_inverse=True)[1]
        if groups.size != labels.size:
            raise ValueError(f"validation_key: {groups.size} groups for {labels.size} rows")
    return ValidationKey(float(average_precision_score(labels, probabilities)),
                         balanced_log_loss(labels, probabilities), labels, probabilities,
                         groups)


def _replicates(groups: np.ndarray | None, n: int):
    """Row indices of each bootstrap replicate: every row of users drawn with replacement,
    or (without users) rows drawn with replacement."""
    rng = np.random.default_rng(SEED)
    if groups is None:
        for _ in range(REPLICATES):
            yield rng.integers(0, n, n)
        return
    order = np.argsort(groups, kind="stable")
    bounds = np.searchsorted(groups[order], np.arange(groups.max() + 2))
    rows_of = [order[bounds[g]:bounds[g + 1]] for g in range(groups.max() + 1)]
    for _ in range(REPLICATES):
        yield np.concatenate([rows_of[g] for g in rng.integers(0, len(rows_of), len(rows_of))])


def pr_auc_difference(new: ValidationKey, old: ValidationKey) -> tuple[float, float]:
    """Paired bootstrap interval (LEVEL) of new minus old PR-AUC over validation users (or
    sessions, when the keys have no users)."""
    from sklearn.metrics import average_precision_score

    labels = new.labels
    diffs = []
    for idx in _replicates(new.groups, labels.size):
        y = labels[idx]
        if y.min() == y.max():
            continue
        diffs.append(average_precision_score(y, new.probabilities[idx])
                     - average_precision_score(y, old.probabilities[idx]))
    if not diffs:
        return (0.0, 0.0)
    tail = (1 - LEVEL) / 2 * 100
    lo, hi = np.percentile(diffs, [tail, 100 - tail])
    return (float(lo), float(hi))


@dataclass(frozen=True)
class Verdict:
    """Whether a candidate replaces the incumbent, and what decided it."""

    better: bool
    decided_by: str  # "pr_auc" (validation tells the rankings apart), "log_loss", or
    # "against the head" (EpochChoice: it beat the best epoch but not the head)
    interval: tuple[float, float]  # candidate minus incumbent PR-AUC, paired bootstrap


def compare(new: ValidationKey, old: ValidationKey) -> Verdict:
    """The module's rule: a clear PR-AUC difference decides, otherwise the lower log loss."""
    same_groups = (new.groups is None and old.groups is None) or (
        new.groups is not None and old.groups is not None
        and np.array_equal(new.groups, old.groups))
    if not np.array_equal(new.labels, old.labels) or not same_groups:
        raise ValueError("compare: the two candidates were scored on different validation rows")
    lo, hi = pr_auc_difference(new, old)
    if lo > AUC_TIE or hi < -AUC_TIE:
        return Verdict(lo > 0, "pr_auc", (lo, hi))
    return Verdict(new.log_loss < old.log_loss, "log_loss", (lo, hi))


def beats(new: ValidationKey, old: ValidationKey) -> bool:
    """Whether `new` replaces `old` under the module's rule."""
    return compare(new, old).better


class EpochChoice:
    """The best epoch so far of one fine-tuning run, its history, and the log lines."""

    def __init__(self, mode: str, head: ValidationKey, log=print, head_name="head only"):
        self.mode, self.log = mode, log
        self.head = head
        self.best, self.best_epoch = head, 0
        self.history = [{"epoch": 0, "val_pr_auc": round(head.pr_auc, 4),
                         "val_log_loss": round(head.log_loss, 4)}]
        log(f"  {mode}: epoch 0 ({head_name}) val PR-AUC {head.pr_auc:.4f}, "
            f"log loss {head.log_loss:.4f}")

    def offer(self, epoch: int, key: ValidationKey) -> bool:
        """Record epoch `epoch`; True when it becomes the best so far.

        It must beat the best epoch so far and the head itself, so that a chain of epochs,
        each within noise of the one before, cannot drift to one the head clearly beats."""
        verdict = compare(key, self.best)
        if verdict.better and self.best_epoch > 0 and not beats(key, self.head):
            verdict = Verdict(False, "against the head", verdict.interval)
        lo, hi = verdict.interval
        self.history.append({"epoch": epoch, "val_pr_auc": round(key.pr_auc, 4),
                             "val_log_loss": round(key.log_loss, 4),
                             "vs_best_pr_auc": [round(lo, 4), round(hi, 4)],
                             "decided_by": verdict.decided_by, "kept": verdict.better})
        how = {"pr_auc": "PR-AUC tells them apart",
               "log_loss": "PR-AUC cannot tell them apart, log loss decides",
               "against the head": "but it does not beat the head (epoch 0)"}[verdict.decided_by]
        self.log(f"  {self.mode}: epoch {epoch} val PR-AUC {key.pr_auc:.4f}, log loss "
                 f"{key.log_loss:.4f}; against epoch {self.best_epoch}: PR-AUC difference "
                 f"[{lo:+.4f}, {hi:+.4f}], {how}: {'kept' if verdict.better else 'not kept'}")
        if verdict.better:
            self.best, self.best_epoch = key, epoch
        return verdict.better
