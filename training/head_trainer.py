"""Train the fully connected head on cached embeddings (and lexical bags): BCE with AdamW.

The encoder is frozen, so each session is encoded once and every candidate head trains in
seconds. The head is a stack of two learners, combined with weights fitted on the training
rows' out-of-fold predictions (never on validation):

    logit = a * lexical(x) + b * mlp(embedding) + c

`lexical` is a logistic regression over hashed word n-grams (C chosen on validation); `mlp`
is the seed document's fully connected layer on the pooled BERT embedding, trained with BCE
and AdamW for a fixed number of epochs. Validation picks only between a few candidates
(hidden layer, class-imbalance strategy, and whether the lexical term is in the head): with
~100 anomalies in a validation split, choosing epochs or many hyper-parameters on it
flattered validation and lost on test (measured).
"""

from __future__ import annotations

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


def make_bags(hasher, texts, idf) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-row (indices, tf-idf weights), L2-normalized, as the runtime computes them."""
    return hasher.bags(texts, idf)


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


LEXICAL_C = (1.0, 10.0, 100.0)
OOF_FOLDS = 5


def inner_folds(labels: np.ndarray, seed: int):
    """Stratified folds for out-of-fold training logits: 5, or fewer when a class has fewer
    rows (few labels, cross-validation); at least 2."""
    from sklearn.model_selection import StratifiedKFold

    smallest = int(min((labels == 1).sum(), (labels == 0).sum()))
    return StratifiedKFold(max(2, min(OOF_FOLDS, smallest)), shuffle=True, random_state=seed)


def _logreg(c, class_weight, seed):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight=class_weight, solver="liblinear",
                              max_iter=1000, random_state=seed)


def fit_lexical(train: HeadData, val: HeadData, size: int, idf: np.ndarray, seed: int,
                choices=None, log=print) -> LexicalFit:
    """Pick C and class weighting on validation; set out-of-fold logits on `train`."""
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
    for fit_rows, held in inner_folds(train.labels, seed).split(x_train, train.labels):
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


def _train_mlp(params: HeadParams, pooled: torch.Tensor, labels: np.ndarray, hidden_size: int,
               epochs: int, seed: int, init=None, batch_size: int = 256):
    """The embedding MLP alone, trained with BCE and AdamW for `epochs` epochs."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    mlp = ClassifierHead(hidden_size, params.hidden_units, params.dropout).mlp
    if init is not None:
        mlp.load_state_dict(init.state_dict())
    optimizer = torch.optim.AdamW(mlp.parameters(), lr=params.lr,
                                  weight_decay=params.weight_decay)
    y = torch.from_numpy(labels.astype(np.float32))
    n_pos = float(y.sum())
    n_neg = float(len(y) - n_pos)
    if params.imbalance == "pos_weight":
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(n_neg / max(n_pos, 1.0)))
        weights = None
    else:
        loss_fn = torch.nn.BCEWithLogitsLoss()
        weights = torch.where(y > 0, 0.5 / max(n_pos, 1.0), 0.5 / max(n_neg, 1.0))
    for _ in range(epochs):
        mlp.train()
        order = (torch.randperm(len(y), generator=generator) if weights is None else
                 torch.multinomial(weights, len(y), replacement=True, generator=generator))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            loss = loss_fn(mlp(pooled[rows]).squeeze(-1), y[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return mlp.eval()


def _mlp_logits(mlp, pooled: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return mlp(pooled).squeeze(-1).double().numpy()


def _stack_weights(lexical_logit: np.ndarray, mlp_logit: np.ndarray, labels: np.ndarray,
                   seed: int) -> tuple[float, float, float]:
    """(a, b, c) of a two-feature logistic regression on out-of-fold logits."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=1000, random_state=seed)
    model.fit(np.c_[lexical_logit, mlp_logit], labels)
    a, b = model.coef_.ravel().tolist()
    return float(a), float(b), float(model.intercept_[0])


def fit_head(params: HeadParams, train: HeadData, val: HeadData, hidden_size: int,
             lexical: LexicalFit | None, epochs: int, seed: int,
             init: ClassifierHead | None = None) -> FitResult:
    """Train one candidate: its MLP, and with the lexical term the stacking weights."""
    head = _new_head(params, hidden_size, lexical)
    warm = init.mlp if init is not None and init.hidden_units == params.hidden_units else None
    mlp = _train_mlp(params, train.pooled, train.labels, hidden_size, epochs, seed, warm)
    if head.lexical is not None:
        oof = np.zeros(len(train))
        folds = inner_folds(train.labels, seed)
        for fit_rows, held in folds.split(np.zeros(len(train)), train.labels):
            fold = _train_mlp(params, train.pooled[fit_rows], train.labels[fit_rows],
                              hidden_size, epochs, seed, warm)
            oof[held] = _mlp_logits(fold, train.pooled[held])
        a, b, c = _stack_weights(train.lexical_logit.double().numpy(), oof, train.labels,
                                 seed)
        with torch.no_grad():
            last = mlp[-1]
            last.weight.mul_(b)
            last.bias.mul_(b).add_(c)
            head.lexical_scale.fill_(a)
    head.mlp = mlp
    head.eval()
    scores = head_scores(head, val)
    return FitResult(params, head, _pr_auc(val.labels, scores), epochs, scores)


def candidate_grid(lexical: bool | None, hidden_units: int | None = None) -> list[HeadParams]:
    """The candidates validation chooses between: MLP size, class-imbalance strategy and,
    with `lexical=None`, whether the n-gram term is in the head at all.

    `hidden_units` fixes the MLP (0: the seed's one fully connected layer); None lets
    validation choose between that and one hidden layer of 128 units."""
    uses = (True, False) if lexical is None else (bool(lexical),)
    sizes = (0, 128) if hidden_units is None else (int(hidden_units),)
    return [HeadParams(hidden_units=h, lexical=use, imbalance=imb)
            for use, h, imb in itertools.product(uses, sizes, IMBALANCE)]


def search_head(train: HeadData, val: HeadData, hidden_size: int, lexical_fit: LexicalFit | None,
                max_epochs: int, seed: int, lexical: bool | None = None,
                hidden_units: int | None = None, log=print) -> tuple[FitResult, list[dict]]:
    """Candidates chosen by validation PR-AUC; returns the best fit and every trial.

    `lexical=None`: candidates with and without the n-gram term compete on validation (a
    tie keeps the simpler head, without it)."""
    trials: list[FitResult] = []
    if lexical_fit is None:
        lexical = False

    def run(params):
        result = fit_head(params, train, val, hidden_size, lexical_fit, max_epochs, seed)
        trials.append(result)
        weights = ""
        if result.head.lexical is not None:
            weights = (f", weights lexical {result.head.lexical_scale.item():.2f} / "
                       f"embedding {_embedding_weight(result.head):.2f}")
        log(f"  head {describe(params)}: val PR-AUC {result.val_pr_auc:.4f}{weights}")
        return result

    results = [run(p) for p in candidate_grid(lexical, hidden_units)]
    # strict improvement needed: on a tie the earlier, simpler candidate (no lexical term,
    # smaller MLP) stays
    order = sorted(range(len(results)), key=lambda i: (results[i].params.lexical,
                                                       results[i].params.hidden_units, i))
    best = results[order[0]]
    for i in order[1:]:
        if results[i].val_pr_auc > best.val_pr_auc:
            best = results[i]
    table = [{**asdict(t.params), "val_pr_auc": round(t.val_pr_auc, 4), "epochs": t.epochs}
             for t in trials]
    return best, table


def _embedding_weight(head: ClassifierHead) -> float:
    """Size of the embedding term relative to a unit-scale MLP output (for the log)."""
    return float(head.mlp[-1].weight.detach().norm())


def describe(params: HeadParams) -> str:
    layer = f"mlp{params.hidden_units}" if params.hidden_units else "linear"
    lex = "+lexical" if params.lexical else ""
    return (f"{layer}{lex} {params.imbalance} lr={params.lr:g} wd={params.weight_decay:g}")
