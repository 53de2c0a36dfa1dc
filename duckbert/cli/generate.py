"""Data commands: generate the synthetic labelled e-commerce data set."""

import click


@click.command("generate")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for events.csv, reviews.csv and labels.csv (created if missing).")
@click.option("--users", default=2000, show_default=True, type=click.IntRange(min=1),
              help="Number of users (normal and abusive accounts together).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Random seed; the same seed writes byte-identical files.")
@click.option("--difficulty", default=None, type=click.FloatRange(0.0, 1.0),
              help="0..1: share of subtle anomalies, how closely they imitate people, and a "
                   "little label noise near 1. [default: the generator's DEFAULT_DIFFICULTY]")
@click.option("--catalogue", type=click.Choice(["standard", "shifted"]), default="standard",
              show_default=True,
              help="shifted: categories, brands, products and user ids that the standard "
                   "catalogue never has (for catalogue-shift tests).")
@click.option("--reviews", type=click.Choice(["realistic", "short"]), default="realistic",
              show_default=True,
              help="realistic: review lengths from a few words to several hundred, genuine "
                   "reviews in several voices, deceptive ones that imitate them, a novel fake "
                   "variant; short: one or two sentences, promotional fakes (before st2).")
@click.option("--focus", type=click.Choice(["reviews"]), default=None,
              help="reviews: people review five times as often and every anomaly is review "
                   "fraud (fake_review, brushing).")
def generate(out_dir, users, seed, difficulty, catalogue, reviews, focus):
    """Write a synthetic labelled data set in the raw contract (events, reviews, labels).

    Normal personas (including hard negatives such as power shoppers and bargain hunters),
    seven abuse families each with a blatant and a subtle variant, about 30 days from
    2026-10-01 UTC, and a little dirt (duplicates, mixed-case types, empty users, negative
    prices, bad timestamps) for the warehouse to clean. Files are written atomically.
    """
    from duckbert.synthetic import DEFAULT_DIFFICULTY
    from duckbert.synthetic import generate as run

    try:
        summary = run(out_dir, users=users, seed=seed,
                      difficulty=DEFAULT_DIFFICULTY if difficulty is None else difficulty,
                      catalogue=catalogue, reviews=reviews, focus=focus)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"could not generate into {out_dir}: {exc}") from exc
    click.echo(format_summary(summary))


def format_summary(summary):
    """One screen: totals, anomalies per family and variant, dirt per kind."""
    lines = [
        f"wrote {', '.join(summary['files'])}",
        f"seed {summary['seed']}  difficulty {summary['difficulty']:g}  "
        f"subtle share {summary['subtle_share']:g}",
        f"users {summary['users']} ({summary['abusive_accounts']} abusive accounts)  "
        f"sessions {summary['sessions']}  events {summary['events']}  "
        f"reviews {summary['reviews']} ({summary['reviews_without_session']} without "
        "user_session)",
        f"anomalous sessions {summary['anomalous_sessions']} "
        f"({summary['anomaly_rate']:.1%})",
    ]
    for family, variants in summary["anomalies"].items():
        novel = f"  novel {variants['novel']:>5}" if variants.get("novel") else ""
        lines.append(f"  {family:<18} blatant {variants['blatant']:>5}  "
                     f"subtle {variants['subtle']:>5}{novel}")
    flipped = summary["labels_flipped"]
    if flipped:
        lines.append("label noise: " + ", ".join(f"{k} {v}" for k, v in flipped.items()))
    lines.append("dirt: " + ", ".join(f"{k} {v}" for k, v in summary["dirt"].items()))
    lines.append("empty values (realistic): " + ", ".join(
        f"{k} {v}" for k, v in summary["realistic_empties"].items()))
    return "\n".join(lines)


COMMANDS = [generate]
