"""Train the fully connected head on cached embeddings (and lexical bags): BCE with AdamW.

The encoder is frozen, so each session is encoded once and every candidate head trains in
seconds. Hyper-parameters (hidden layer, lexical term, class-imbalance strategy, learning rate,
weight decay) are chosen by validation PR-AUC, with early stopping per candidate.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import asdict, dataclass

import numpy as np
import torch

from udf.heads import ClassifierHead

IMBALANCE = ("pos_weight", "balanced")


@dataclass(frozen=True)
class HeadParams:
    """One candidate head."""

    hidden_units: int = 0
    lexical: bool = True
    imbalance: str = "pos_weight"
    lr: float = 3e-3
    weight_decay: float = 1e-2
    dropout: float = 0.1


@dataclass
class HeadData:
    """Features of a set of rows: pooled embeddings, lexical bags, labels, and the lexical
    model's logit (out-of-fold on the training rows, so the head learns honest trust)."""

    pooled: torch.Tensor
    bags: list[tuple[np.ndarray, np.ndarray]]
    labels: np.ndarray
    lexical_logit: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def matrix(self, size: int):
        """The bags as a scipy CSR matrix (rows x n-gram buckets)."""
        from scipy.sparse import csr_matrix

        indptr = np.cumsum([0] + [len(b[0]) for b in self.bags])
        indices = np.concatenate([b[0] for b in self.bags]) if self.bags else np.zeros(0)
        values = np.concatenate([b[1] for b in self.bags]) if self.bags else np.zeros(0)
        return csr_matrix((values, indices, indptr), shape=(len(self.bags), size))


def make_bags(hasher, id_lists, idf) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-row (indices, tf-idf weights), L2-normalized, as the runtime computes them."""
    bags = []
    for ids in id_lists:
        index, _, weights = hasher.weighted([ids], idf)
        bags.append((index, weights))
    return bags


@dataclass
class LexicalFit:
    """Logistic regression over the hashed n-grams, chosen on validation."""

    coef: np.ndarray
    intercept: float
    idf: np.ndarray
    C: float
    class_weight: str | None
    val_pr_auc: float

    def logit(self, data: HeadData, size: int) -> torch.Tensor:
        x = data.matrix(size)
        return torch.from_numpy((x @ self.coef + self.intercept).astype(np.float32))


LEXICAL_C = (0.3, 1.0, 3.0, 10.0, 30.0)
OOF_FOLDS = 5


def _logreg(c, class_weight, seed):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight=class_weight, solver="liblinear",
                              max_iter=1000, random_state=seed)


def fit_lexical(train: HeadData, val: HeadData, size: int, idf: np.ndarray, seed: int,
                choices=None, log=print) -> LexicalFit:
    """Pick C and class weighting on validation; set out-of-fold logits on `train`."""
    from sklearn.model_selection import StratifiedKFold

    x_train, x_val = train.matrix(size), val.matrix(size)
    best = None
    for c, weight in choices or [(c, w) for c in LEXICAL_C for w in (None, "balanced")]:
        model = _logreg(c, weight, seed).fit(x_train, train.labels)
        auc = _pr_auc(val.labels, model.decision_function(x_val))
        if best is None or auc > best[0]:
            best = (auc, c, weight, model)
    auc, c, weight, model = best
    log(f"  lexical n-gram logistic regression: C={c:g} class_weight={weight} "
        f"val PR-AUC {auc:.4f}")
    oof = np.zeros(len(train), dtype=np.float32)
    folds = StratifiedKFold(OOF_FOLDS, shuffle=True, random_state=seed)
    for fit_rows, held in folds.split(x_train, train.labels):
        fold_model = _logreg(c, weight, seed).fit(x_train[fit_rows], train.labels[fit_rows])
        oof[held] = fold_model.decision_function(x_train[held])
    fit = LexicalFit(model.coef_.ravel().astype(np.float32), float(model.intercept_[0]),
                     idf, c, weight, auc)
    train.lexical_logit = torch.from_numpy(oof)
    val.lexical_logit = fit.logit(val, size)
    return fit


@dataclass
class FitResult:
    params: HeadParams
    head: ClassifierHead
    val_pr_auc: float
    epochs: int
    val_scores: np.ndarray


def head_scores(head, data: HeadData, batch: int = 2048) -> np.ndarray:
    """Probabilities through the runtime path (bags -> lexical term), in row order."""
    head.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(data), batch):
            rows = range(start, min(start + batch, len(data)))
            lexical = _bag_inputs(data, rows) if head.lexical is not None else None
            out.append(head.probability(data.pooled[start : start + len(rows)], lexical).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def _bag_inputs(data: HeadData, rows):
    index = [data.bags[r][0] for r in rows]
    weight = [data.bags[r][1] for r in rows]
    offsets = np.cumsum([0] + [len(i) for i in index[:-1]]).astype(np.int64)
    return (torch.from_numpy(np.concatenate(index)), torch.from_numpy(offsets),
            torch.from_numpy(np.concatenate(weight)))


def _pr_auc(labels, scores) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(labels, scores))


def _new_head(params: HeadParams, hidden_size: int, lexical: LexicalFit | None):
    use_lexical = params.lexical and lexical is not None
    head = ClassifierHead(hidden_size, params.hidden_units, params.dropout,
                          lexical.coef.size if use_lexical else 0)
    if use_lexical:
        with torch.no_grad():
            head.lexical.weight.copy_(torch.from_numpy(lexical.coef).unsqueeze(1))
            head.lexical_bias.fill_(lexical.intercept)
            head.idf.copy_(torch.from_numpy(lexical.idf))
    return head


def fit_head(params: HeadParams, train: HeadData, val: HeadData, hidden_size: int,
             lexical: LexicalFit | None, max_epochs: int, seed: int,
             init: ClassifierHead | None = None, patience: int = 6,
             batch_size: int = 256) -> FitResult:
    """Train one candidate's MLP (and lexical scale); keep its best validation epoch."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = _new_head(params, hidden_size, lexical)
    if init is not None and init.hidden_units == head.hidden_units:
        head.mlp.load_state_dict(init.mlp.state_dict())
    use_lexical = head.lexical is not None
    if use_lexical:
        head.lexical.weight.requires_grad_(False)
        head.lexical_bias.requires_grad_(False)
    trainable = [p for p in head.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=params.lr, weight_decay=params.weight_decay)
    labels = torch.from_numpy(train.labels.astype(np.float32))
    n_pos = float(labels.sum())
    n_neg = float(len(labels) - n_pos)
    if params.imbalance == "pos_weight":
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(n_neg / max(n_pos, 1.0)))
        sample_weights = None
    else:
        loss_fn = torch.nn.BCEWithLogitsLoss()
        sample_weights = torch.where(labels > 0, 0.5 / max(n_pos, 1.0), 0.5 / max(n_neg, 1.0))
    train_lex = train.lexical_logit if use_lexical else None
    val_lex = val.lexical_logit if use_lexical else None

    def val_scores():
        head.eval()
        with torch.no_grad():
            return torch.sigmoid(head.logits(val.pooled, lexical_logit=val_lex)).numpy()

    best_auc, best_state, best_epoch, stale = -1.0, None, 0, 0
    for epoch in range(1, max_epochs + 1):
        head.train()
        if sample_weights is None:
            order = torch.randperm(len(labels), generator=generator)
        else:
            order = torch.multinomial(sample_weights, len(labels), replacement=True,
                                      generator=generator)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            logits = head.logits(train.pooled[rows],
                                 lexical_logit=None if train_lex is None else train_lex[rows])
            loss = loss_fn(logits, labels[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        auc = _pr_auc(val.labels, val_scores())
        if auc > best_auc + 1e-5:
            best_auc, best_epoch, stale = auc, epoch, 0
            best_state = copy.deepcopy(head.state_dict())
        else:
            stale += 1
            if stale >= patience:
                break
    head.load_state_dict(best_state)
    head.eval()
    return FitResult(params, head, best_auc, best_epoch, head_scores(head, val))


def candidate_grid(lexical: bool | None) -> list[HeadParams]:
    """Stage one: architecture and imbalance strategy at a default optimizer setting."""
    lexical_options = (True, False) if lexical is None else (lexical,)
    return [
        HeadParams(hidden_units=h, lexical=lex, imbalance=imb)
        for lex, h, imb in itertools.product(lexical_options, (0, 128), IMBALANCE)
    ]


def refine_grid(best: HeadParams) -> list[HeadParams]:
    """Stage two: the optimizer around the best stage-one candidate."""
    out = []
    for lr, wd in ((1e-3, best.weight_decay), (1e-2, best.weight_decay),
                   (best.lr, 1e-4), (best.lr, 1e-1)):
        out.append(HeadParams(**{**asdict(best), "lr": lr, "weight_decay": wd}))
    return out


def search_head(train: HeadData, val: HeadData, hidden_size: int, lexical_fit: LexicalFit | None,
                max_epochs: int, seed: int, lexical: bool | None = None,
                log=print) -> tuple[FitResult, list[dict]]:
    """Two-stage search on validation PR-AUC; returns the best fit and every trial."""
    trials: list[FitResult] = []
    if lexical_fit is None:
        lexical = False

    def run(params):
        result = fit_head(params, train, val, hidden_size, lexical_fit, max_epochs, seed)
        trials.append(result)
        log(f"  head {describe(params)}: val PR-AUC {result.val_pr_auc:.4f} "
            f"({result.epochs} epochs)")
        return result

    best = max((run(p) for p in candidate_grid(lexical)), key=lambda r: r.val_pr_auc)
    for params in refine_grid(best.params):
        result = run(params)
        if result.val_pr_auc > best.val_pr_auc:
            best = result
    table = [{**asdict(t.params), "val_pr_auc": round(t.val_pr_auc, 4), "epochs": t.epochs}
             for t in trials]
    return best, table


def describe(params: HeadParams) -> str:
    layer = f"mlp{params.hidden_units}" if params.hidden_units else "linear"
    lex = "+lexical" if params.lexical else ""
    return (f"{layer}{lex} {params.imbalance} lr={params.lr:g} wd={params.weight_decay:g}")
