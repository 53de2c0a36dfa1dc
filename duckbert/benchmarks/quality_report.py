"""The quality benchmark's tables in Markdown (docs/BENCHMARKS.md's quality block)."""

from __future__ import annotations

PEER_TITLES = {"tfidf_logreg": "TF-IDF + LR", "gbm_aggregates": "GBM aggregates"}


def _cell(entry: dict | None) -> str:
    if entry is None:
        return "-"
    if entry.get("refused"):
        return "refused"
    ci = entry.get("ci")
    value = entry.get("pr_auc")
    if value is None:
        return "-"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{value:.3f}"


def _diff(entry: dict | None) -> str:
    if not entry or entry.get("ci") is None:
        return "-"
    lo, hi = entry["ci"]
    return f"{entry['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def _columns(results: dict) -> list[str]:
    names: list[str] = []
    for row in results["rows"]:
        for name in row["models"]:
            if name not in names:
                names.append(name)
    duck = [n for n in names if n not in PEER_TITLES]
    return duck + [n for n in PEER_TITLES if n in names]


def markdown(results: dict, command: str) -> str:
    """Main table (PR-AUC [95% CI] per row and contender), focus table, notes."""
    config = results["config"]
    names = _columns(results)
    where = []
    house = results.get("warehouse")
    if house:
        where.append(
            f"Main warehouse: {house['sessions']} sessions of {house['users']} users; "
            f"training pool {house['pool_sessions']} sessions, test {house['test_sessions']} "
            f"sessions ({config['test_share']:.0%} of standard users), shifted-catalogue test "
            f"{house['shifted_sessions']} sessions.")
    review = results.get("review_warehouse")
    if review:
        where.append(
            f"Review warehouse (row e): {review['sessions']} sessions of {review['users']} "
            f"users, {review['with_reviews']} with a review; training pool "
            f"{review['pool_sessions']} and test {review['test_sessions']} sessions with a "
            f"review ({config['test_share']:.0%} of users).")
    lines = [
        f"Command: `{command}` — {results['date']}, device {config['device']}, base model "
        f"{config['base_model']}, {results['seconds']:.0f} s in all. " + " ".join(where),
        "",
        "PR-AUC on each row's test users, [95% bootstrap interval over test users, "
        f"{config['bootstrap']} replicates]; every contender of a row trains on the same "
        "table and is scored on the same sessions. The last two columns: duckbert (as "
        "`duckbert train` ships it) minus the best peer, paired interval, and whether that "
        "is a clear lead.",
        "",
        "| row | test sessions (anomalous) | "
        + " | ".join(PEER_TITLES.get(n, n) for n in names)
        + " | duckbert − best peer | BERT helps? |",
        "|---|---|" + "---|" * len(names) + "---|---|",
    ]
    for row in results["rows"]:
        cells = [_cell(row["models"].get(n)) for n in names]
        best = row.get("vs_best_peer", {}).get("duckbert")
        lines.append(
            f"| {row['row']}: {row['title']} | {row['test']['sessions']} "
            f"({row['test']['anomalous']}) | " + " | ".join(cells)
            + f" | {_diff(best)} | {best['verdict'] if best else '-'} |")
    focus = [(row, what) for row in results["rows"] for m in row["models"].values()
             for what in m.get("focus", {})]
    seen, focus_rows = set(), []
    for row, what in focus:
        if (row["row"], what) not in seen:
            seen.add((row["row"], what))
            focus_rows.append((row, what))
    if focus_rows:
        lines += ["", "The same models on a subset of each row's anomalies (against every "
                  "normal test session):", "",
                  "| row | subset | " + " | ".join(PEER_TITLES.get(n, n) for n in names)
                  + " |", "|---|---|" + "---|" * len(names)]
        for row, what in focus_rows:
            cells = [_cell(row["models"].get(n, {}).get("focus", {}).get(what)) for n in names]
            lines.append(f"| {row['row']} | {what} | " + " | ".join(cells) + " |")
    lines += ["", "Training tables and what each duckbert run chose:", ""]
    for row in results["rows"]:
        train = row["train"]
        notes = []
        for name, entry in row["models"].items():
            info = entry.get("info", {})
            if entry.get("refused"):
                notes.append(f"{PEER_TITLES.get(name, name)}: refused ({entry['refused']})")
            elif info and name not in PEER_TITLES:
                notes.append(f"{name}: trained as {info.get('trained_as')} in "
                             f"{info.get('seconds')} s")
        lines.append(f"- {row['row']}: {train['note']}; {train['labelled_sessions']} labelled "
                     f"sessions ({train['labelled_anomalous']} anomalous) of "
                     f"{train['labelled_users']} users. " + "; ".join(notes))
    return "\n".join(lines)
