"""How hard is the synthetic data for a model that only sees simple session aggregates?

Generates the data at several difficulties, computes per-session aggregates in DuckDB SQL
straight from the CSVs (with the minimum cleaning: dedupe, event-type synonyms, unparseable
times and negative prices dropped), fits a HistGradientBoostingClassifier with folds grouped
by user, and prints out-of-fold PR-AUC, ROC-AUC and recall@k per family and variant. Training
uses the (possibly noisy) `is_anomaly` label; scores are measured against the generator's
ground truth (`anomaly_family` non-empty).

    .venv/bin/python bench/generator_difficulty.py --users 2000 --seed 0
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GroupKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from duckbert.synthetic import DEFAULT_DIFFICULTY, FAMILY_NAMES, generate  # noqa: E402

FEATURES = ("n_events", "n_view", "n_click", "n_cart", "n_remove", "n_purchase", "duration_s",
            "gap_mean", "gap_std", "n_products", "n_categories", "n_brands", "price_mean",
            "price_max", "price_min", "price_std", "n_reviews", "rating_mean")

SQL = """
create or replace table ev as
select distinct * from read_csv(?, all_varchar = true, header = true);

create or replace table clean as
select
    user_session,
    nullif(user_id, '') as user_id,
    try_strptime(event_time, '%Y-%m-%d %H:%M:%S UTC') as ts,
    case lower(event_type)
        when 'addtocart' then 'cart' when 'transaction' then 'purchase'
        else lower(event_type) end as et,
    product_id,
    category_id,
    nullif(brand, '') as brand,
    case when try_cast(price as double) > 0 then try_cast(price as double) end as price
from ev
where try_strptime(event_time, '%Y-%m-%d %H:%M:%S UTC') is not null;

create or replace table gaps as
select *, epoch(ts) - epoch(lag(ts) over (partition by user_session order by ts)) as gap
from clean;

create or replace table agg as
select
    user_session,
    max(user_id) as user_id,
    min(ts) as started,
    max(ts) as ended,
    count(*) as n_events,
    count(*) filter (where et = 'view') as n_view,
    count(*) filter (where et = 'click') as n_click,
    count(*) filter (where et = 'cart') as n_cart,
    count(*) filter (where et = 'remove_from_cart') as n_remove,
    count(*) filter (where et = 'purchase') as n_purchase,
    epoch(max(ts)) - epoch(min(ts)) as duration_s,
    avg(gap) as gap_mean,
    coalesce(stddev_samp(gap), 0) as gap_std,
    count(distinct product_id) as n_products,
    count(distinct category_id) as n_categories,
    count(distinct brand) as n_brands,
    avg(price) as price_mean,
    max(price) as price_max,
    min(price) as price_min,
    coalesce(stddev_samp(price), 0) as price_std
from gaps
group by user_session;

create or replace table rv as
select
    nullif(user_session, '') as user_session,
    nullif(user_id, '') as user_id,
    try_cast(rating as integer) as rating,
    try_strptime(created_at, '%Y-%m-%d %H:%M:%S UTC') as created
from read_csv(?, all_varchar = true, header = true);

create or replace table rv_joined as
select coalesce(r.user_session, a.user_session) as user_session, r.rating
from rv as r
left join agg as a
    on r.user_session is null and a.user_id = r.user_id
    and r.created between a.started and a.ended;

create or replace table lb as
select * from read_csv(?, all_varchar = true, header = true);

select
    a.*,
    coalesce(r.n_reviews, 0) as n_reviews,
    coalesce(r.rating_mean, 0) as rating_mean,
    l.is_anomaly = 'true' as label,
    coalesce(l.anomaly_family, '') as family,
    coalesce(l.anomaly_variant, '') as variant
from agg as a
join lb as l using (user_session)
left join (
    select user_session, count(*) as n_reviews,
        avg(rating) filter (where rating between 1 and 5) as rating_mean
    from rv_joined group by user_session
) as r using (user_session)
order by a.user_session
"""


def session_table(out_dir):
    con = duckdb.connect()
    statements = [s for s in SQL.split(";") if s.strip()]
    paths = iter([str(out_dir / "events.csv"), str(out_dir / "reviews.csv"),
                  str(out_dir / "labels.csv")])
    for stmt in statements[:-1]:
        con.execute(stmt, [next(paths)] if "?" in stmt else [])
    rel = con.execute(statements[-1])
    cols = [d[0] for d in rel.description]
    rows = rel.fetchall()
    return {c: [r[k] for r in rows] for k, c in enumerate(cols)}


def evaluate(table, folds, seed):
    x = np.array([[np.nan if v is None else float(v) for v in table[f]] for f in FEATURES]).T
    label = np.array(table["label"], dtype=bool)
    truth = np.array([bool(f) for f in table["family"]])
    groups = np.array([u or "" for u in table["user_id"]])
    scores = np.zeros(len(label))
    for train, test in GroupKFold(n_splits=folds).split(x, label, groups):
        model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05,
                                               random_state=seed)
        model.fit(x[train], label[train])
        scores[test] = model.predict_proba(x[test])[:, 1]
    k = int(truth.sum())
    top = np.zeros(len(scores), dtype=bool)
    top[np.argsort(-scores, kind="stable")[:k]] = True
    family = np.array(table["family"])
    variant = np.array(table["variant"])
    recall = {}
    for name in FAMILY_NAMES:
        for v in ("blatant", "subtle"):
            mask = (family == name) & (variant == v)
            recall[(name, v)] = top[mask].mean() if mask.any() else float("nan")
    return {
        "sessions": len(label),
        "anomalies": k,
        "pr_auc": average_precision_score(truth, scores),
        "roc_auc": roc_auc_score(truth, scores),
        "recall_at_k": top[truth].mean(),
        "recall_blatant": top[truth & (variant == "blatant")].mean(),
        "recall_subtle": top[truth & (variant == "subtle")].mean(),
        "family_recall": recall,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    default = ",".join(f"{d:g}" for d in sorted({0.0, DEFAULT_DIFFICULTY, 0.5, 0.9}))
    parser.add_argument("--difficulties", default=default,
                        help=f"comma-separated difficulties in [0, 1] (default {default})")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", default=None, help="keep the generated data here")
    args = parser.parse_args(argv)
    difficulties = [float(d) for d in args.difficulties.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.out or tmp)
        for d in difficulties:
            out = root / f"difficulty_{d:g}"
            t0 = time.perf_counter()
            generate(out, users=args.users, seed=args.seed, difficulty=d)
            gen_s = time.perf_counter() - t0
            res = evaluate(session_table(out), args.folds, args.seed)
            res.update(difficulty=d, generate_s=gen_s)
            results.append(res)
    print(f"users={args.users} seed={args.seed} folds={args.folds} (grouped by user), "
          f"HistGradientBoosting on {len(FEATURES)} session aggregates")
    print(f"{'difficulty':>10} {'sessions':>8} {'anom':>5} {'PR-AUC':>7} {'ROC-AUC':>7} "
          f"{'R@k':>5} {'R@k bl':>6} {'R@k sub':>7} {'gen s':>6}")
    for r in results:
        mark = "*" if r["difficulty"] == DEFAULT_DIFFICULTY else " "
        print(f"{r['difficulty']:>9g}{mark} {r['sessions']:>8} {r['anomalies']:>5} "
              f"{r['pr_auc']:>7.3f} {r['roc_auc']:>7.3f} {r['recall_at_k']:>5.2f} "
              f"{r['recall_blatant']:>6.2f} {r['recall_subtle']:>7.2f} {r['generate_s']:>6.1f}")
    print("* default difficulty; R@k = recall in the top k, k = number of true anomalies")
    print("\nrecall@k per family (blatant / subtle), k = number of true anomalies")
    print(f"{'family':>18} " + " ".join(f"{r['difficulty']:>11g}" for r in results))
    for name in FAMILY_NAMES:
        cells = [f"{r['family_recall'][(name, 'blatant')]:.2f}/"
                 f"{r['family_recall'][(name, 'subtle')]:.2f}" for r in results]
        print(f"{name:>18} " + " ".join(f"{c:>11}" for c in cells))


if __name__ == "__main__":
    main()
