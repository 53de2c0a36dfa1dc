"""The one-screen text summaries that `duckbert train` and `duckbert evaluate` print."""

from __future__ import annotations


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def metrics_block(metrics: dict, title: str) -> list[str]:
    if not metrics:
        return [f"{title}: no labelled rows"]
    cm = metrics["confusion_matrix"]
    lines = [
        f"{title} ({metrics['n']} sessions, {metrics.get('positive_rate', 0):.1%} anomalous)",
        f"  PR-AUC {_fmt(metrics['pr_auc'])}   ROC-AUC {_fmt(metrics['roc_auc'])}   "
        f"recall@precision0.9 {_fmt(metrics.get('recall_at_precision_0.9'))}",
        f"  at threshold {metrics['threshold']:.4f}: precision {metrics['precision']:.3f}  "
        f"recall {metrics['recall']:.3f}  F1 {metrics['f1']:.3f}",
        f"  confusion matrix: TP {cm['tp']}  FP {cm['fp']}  FN {cm['fn']}  TN {cm['tn']}",
    ]
    families = metrics.get("per_family") or {}
    if families:
        lines.append("  per family:  " + "  ".join(
            f"{name} {v['recall']:.2f} (n={v['n']})" for name, v in families.items()))
        lines[-1] = lines[-1].replace("per family:", "recall per family:")
    return lines


def train_summary(result) -> str:
    if not result.retrained:
        return result.note
    lines = [
        "",
        f"model {result.name}@{result.version}  mode {result.mode}  "
        f"({result.seconds:.0f}s, {result.n_labelled} labelled sessions)",
    ]
    if result.served:
        lines.append(f"  served model: {result.served}")
    if result.plan:
        lines.append(f"  why this mode: {result.plan}")
    if result.evaluation:
        lines.append(f"  selection: {result.evaluation}")
    lines.append(f"  threshold {result.threshold:.4f} — {result.threshold_policy}")
    if result.test or not result.validation:
        lines += metrics_block(result.test, "test split")
    else:
        lines += metrics_block(result.validation, "no test split; out-of-fold estimate")
    if result.peers:
        ours = (result.test or result.validation).get("pr_auc")
        where = "same split (test" if result.test else "same folds (out-of-fold"
        peer_text = ", ".join(
            f"{name} " + (f"skipped ({v['skipped']})" if "skipped" in v
                          else _fmt(v.get("pr_auc")))
            for name, v in result.peers.items())
        lines.append(f"  peers on the {where} PR-AUC): duckbert {_fmt(ours)} vs "
                     f"{peer_text}")
    if result.peer_lead:
        lines.append("  " + lead_line(result.peer_lead))
    lines.append(f"  artifact: {result.path}")
    lines.append("  current model: " + ("yes" if result.kept else f"no — {result.note}"))
    for skipped in result.skipped:
        lines.append(f"  skipped step: {skipped['step']} — {skipped['cause']}")
    return "\n".join(lines)


def lead_line(lead: dict) -> str:
    """duckbert minus the best peer on test (or out of fold, with few labels), its interval
    over users, in words."""
    ci = lead.get("diff_ci")
    span = f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""
    users = "users, out-of-fold" if lead.get("scored_on") == "out-of-fold" else "test users"
    return (f"duckbert - best peer ({lead['best_peer']}): {lead['diff']:+.3f}{span} "
            f"(95% over {lead['test_users']} {users}) — {lead['verdict']}")
