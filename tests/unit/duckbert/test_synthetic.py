"""The synthetic data generator: determinism, raw contract, anomalies, dirt and the CLI."""

import csv
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from duckbert.cli import main
from duckbert.synthetic import DEFAULT_DIFFICULTY, FAMILY_NAMES, generate
from duckbert.synthetic.output import write_files

USERS = 300
SEED = 7
EVENT_TYPES = {"view", "click", "cart", "remove_from_cart", "purchase"}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


def read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def parse_time(text):
    try:
        return datetime.strptime(text, TIME_FORMAT)
    except ValueError:
        return None


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    summary = generate(out, users=USERS, seed=SEED)
    return {
        "dir": out,
        "summary": summary,
        "events": read(out / "events.csv"),
        "reviews": read(out / "reviews.csv"),
        "labels": read(out / "labels.csv"),
    }


def test_same_seed_gives_byte_identical_files(tmp_path, dataset):
    generate(tmp_path, users=USERS, seed=SEED)
    for name in ("events.csv", "reviews.csv", "labels.csv"):
        assert (tmp_path / name).read_bytes() == (dataset["dir"] / name).read_bytes(), name


def test_different_seeds_differ(tmp_path, dataset):
    generate(tmp_path, users=USERS, seed=SEED + 1)
    for name in ("events.csv", "reviews.csv", "labels.csv"):
        assert (tmp_path / name).read_bytes() != (dataset["dir"] / name).read_bytes(), name


def test_raw_contract_columns(dataset):
    out = dataset["dir"]
    header = {name: (out / name).read_text().splitlines()[0] for name in
              ("events.csv", "reviews.csv", "labels.csv")}
    assert header["events.csv"] == ("event_time,event_type,product_id,category_id,"
                                    "category_code,brand,price,user_id,user_session")
    assert header["reviews.csv"] == ("review_id,user_id,product_id,rating,review_text,"
                                     "created_at,user_session")
    assert header["labels.csv"] == ("user_session,is_anomaly,label_source,labelled_at,"
                                    "anomaly_family,anomaly_variant")
    codes = {e["category_code"] for e in dataset["events"] if e["category_code"]}
    assert all("." in code for code in codes)
    assert "electronics.smartphone" in codes


def test_summary_counts_match_files(dataset):
    s = dataset["summary"]
    assert s["users"] == USERS
    assert s["events"] == len(dataset["events"])
    assert s["reviews"] == len(dataset["reviews"])
    assert s["sessions"] == len(dataset["labels"])
    assert s["difficulty"] == DEFAULT_DIFFICULTY


def test_every_family_and_both_variants_present(dataset):
    summary = dataset["summary"]["anomalies"]
    assert len(FAMILY_NAMES) >= 6
    assert set(summary) == set(FAMILY_NAMES)
    seen = Counter((r["anomaly_family"], r["anomaly_variant"]) for r in dataset["labels"])
    for family in FAMILY_NAMES:
        for variant in ("blatant", "subtle"):
            assert summary[family][variant] > 0, (family, variant)
            assert seen[(family, variant)] == summary[family][variant]


def test_anomaly_rate_is_rare(dataset):
    summary = dataset["summary"]
    assert 0.04 <= summary["anomaly_rate"] <= 0.09
    truth = sum(1 for r in dataset["labels"] if r["anomaly_family"])
    assert truth == summary["anomalous_sessions"]


def test_labels_cover_every_session(dataset):
    labels = dataset["labels"]
    sessions = {e["user_session"] for e in dataset["events"]}
    labelled = [r["user_session"] for r in labels]
    assert len(labelled) == len(set(labelled))
    assert set(labelled) == sessions
    for r in labels:
        assert r["is_anomaly"] in ("true", "false")
        assert r["label_source"] == "synthetic"
        assert parse_time(r["labelled_at"]) is not None
        assert bool(r["anomaly_family"]) == bool(r["anomaly_variant"])
    # No label noise at the default difficulty: the label is the ground truth.
    assert all((r["is_anomaly"] == "true") == bool(r["anomaly_family"]) for r in labels)


def test_time_span_and_session_gaps(dataset):
    by_session = defaultdict(list)
    for e in dataset["events"]:
        t = parse_time(e["event_time"])
        if t is not None:
            by_session[e["user_session"]].append(t)
    times = [t for ts in by_session.values() for t in ts]
    assert min(times) >= datetime(2026, 10, 1)
    assert max(times) - min(times) >= timedelta(days=25)
    assert max(times) < datetime(2026, 11, 3)
    days = Counter(t.date() for t in times)
    assert len(days) >= 28
    # Within a session no gap reaches 30 minutes, so gap-based sessionization agrees.
    for ts in by_session.values():
        ts.sort()
        assert all(b - a < timedelta(minutes=30) for a, b in zip(ts, ts[1:], strict=False))


def test_sessions_of_a_user_never_overlap(dataset):
    spans = defaultdict(lambda: [None, None, None])
    for e in dataset["events"]:
        t = parse_time(e["event_time"])
        if t is None or not e["user_id"]:
            continue
        span = spans[e["user_session"]]
        span[0] = t if span[0] is None else min(span[0], t)
        span[1] = t if span[1] is None else max(span[1], t)
        span[2] = e["user_id"]
    per_user = defaultdict(list)
    for start, end, user in spans.values():
        per_user[user].append((start, end))
    for user_spans in per_user.values():
        user_spans.sort()
        for (_, end), (start, _) in zip(user_spans, user_spans[1:], strict=False):
            assert start - end >= timedelta(minutes=30)


def test_reviews_with_null_session_fall_inside_a_session_of_their_user(dataset):
    reviews = [r for r in dataset["reviews"] if parse_time(r["created_at"])]
    unlinked = [r for r in reviews if not r["user_session"]]
    assert 0.2 <= len(unlinked) / len(reviews) <= 0.5
    assert dataset["summary"]["reviews_without_session"] == len(unlinked)
    sessions_of = defaultdict(set)
    bounds = {}
    for e in dataset["events"]:
        t = parse_time(e["event_time"])
        if t is None or not e["user_id"]:
            continue
        lo, hi = bounds.get(e["user_session"], (t, t))
        bounds[e["user_session"]] = (min(lo, t), max(hi, t))
        sessions_of[e["user_id"]].add(e["user_session"])
    for r in unlinked:
        created = parse_time(r["created_at"])
        assert any(bounds[s][0] <= created <= bounds[s][1] for s in sessions_of[r["user_id"]]), r


def test_ratings_and_texts(dataset):
    ratings = Counter(r["rating"] for r in dataset["reviews"])
    assert {"1", "2", "3", "4", "5"} <= set(ratings)
    texts = [r["review_text"] for r in dataset["reviews"] if r["review_text"]]
    assert len(set(texts)) > len(texts) * 0.5


def test_dirt_present_and_counted(dataset):
    dirt = dataset["summary"]["dirt"]
    events = dataset["events"]
    n = len(events)
    for kind, count in dirt.items():
        assert count > 0, kind
    types = Counter(e["event_type"] for e in events)
    assert types["addtocart"] + types["transaction"] >= dirt["synonym_event_type"]
    odd_case = sum(c for t, c in types.items() if t.lower() in EVENT_TYPES and t not in
                   EVENT_TYPES)
    assert odd_case >= dirt["mixed_case_event_type"]
    assert sum(1 for e in events if not e["user_id"]) >= dirt["empty_user_id"]
    assert sum(1 for e in events if float(e["price"]) < 0) >= dirt["negative_price"]
    assert sum(1 for e in events if parse_time(e["event_time"]) is None) >= dirt["bad_event_time"]
    lines = Counter(tuple(e.values()) for e in events)
    assert sum(c - 1 for c in lines.values()) >= dirt["duplicate_rows"]
    for kind, count in dirt.items():
        if kind != "empty_review_text" and kind != "rating_out_of_range":
            assert count <= 0.01 * n, kind
    reviews = dataset["reviews"]
    assert sum(1 for r in reviews if not r["review_text"]) == dirt["empty_review_text"]
    assert sum(1 for r in reviews if r["rating"] in ("0", "6")) == dirt["rating_out_of_range"]
    empties = dataset["summary"]["realistic_empties"]
    assert 0.05 * n <= empties["empty_brand"] <= 0.2 * n
    assert 0.08 * n <= empties["empty_category_code"] <= 0.25 * n


def test_difficulty_raises_the_subtle_share(tmp_path):
    easy = generate(tmp_path / "easy", users=USERS, seed=SEED, difficulty=0.0)
    hard = generate(tmp_path / "hard", users=USERS, seed=SEED, difficulty=1.0)

    def subtle(summary):
        counts = summary["anomalies"].values()
        return sum(c["subtle"] for c in counts) / sum(c["subtle"] + c["blatant"] for c in counts)

    assert subtle(easy) < 0.3 < 0.7 < subtle(hard)


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="users"):
        generate(tmp_path, users=0)
    with pytest.raises(ValueError, match="difficulty"):
        generate(tmp_path, users=10, difficulty=1.5)
    assert not list(tmp_path.iterdir())


def test_tiny_population_still_writes_the_contract(tmp_path):
    summary = generate(tmp_path, users=1, seed=3)
    assert summary["users"] == 1
    assert summary["anomalous_sessions"] == 0
    assert len(read(tmp_path / "labels.csv")) == summary["sessions"] >= 1


def test_failed_write_leaves_no_partial_file(tmp_path):
    (tmp_path / "events.csv").write_text("old\n")

    def broken():
        yield "event_time,event_type\n"
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_files(tmp_path, {"labels.csv": ["a\n"], "events.csv": broken()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.csv"]
    assert (tmp_path / "events.csv").read_text() == "old\n"


def test_cli_generate(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["generate", "--out", str(tmp_path), "--users", "60",
                                  "--seed", "2", "--difficulty", "0.3"])
    assert result.exit_code == 0, result.output
    assert "anomalous sessions" in result.output
    assert "dirt:" in result.output
    assert {p.name for p in tmp_path.iterdir()} == {"events.csv", "reviews.csv", "labels.csv"}
    assert len(result.output.splitlines()) < 25


@pytest.mark.parametrize("args, message", [
    (["--users", "0"], "--users"),
    (["--difficulty", "1.5"], "--difficulty"),
    (["--users", "many"], "--users"),
])
def test_cli_rejects_bad_arguments(tmp_path, args, message):
    result = CliRunner().invoke(main, ["generate", "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_cli_requires_out():
    result = CliRunner().invoke(main, ["generate"])
    assert result.exit_code == 2
    assert "--out" in result.output


def test_cli_help_lists_generate():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "generate" in result.output


def test_shifted_catalogue_shares_nothing_with_the_standard_one(tmp_path, dataset):
    import random

    from duckbert.synthetic.catalog import Catalog

    generate(tmp_path, users=120, seed=SEED, catalogue="shifted")
    shifted = read(tmp_path / "events.csv")
    for column in ("product_id", "category_id", "category_code", "brand", "user_id"):
        standard_values = {e[column] for e in dataset["events"] if e[column]}
        shifted_values = {e[column] for e in shifted if e[column]}
        assert shifted_values and not standard_values & shifted_values, column
    # the whole catalogues, not only what these users shopped
    a, b = Catalog(random.Random(0)), Catalog(random.Random(0), "shifted")
    assert not {x for x in a.brand if x} & {x for x in b.brand if x}
    assert not set(a.pid) & set(b.pid)
    assert not set(a.category_id) & set(b.category_id)
    assert not {s.noun for s in a.specs} & {s.noun for s in b.specs}
    with pytest.raises(ValueError, match="catalogue"):
        Catalog(random.Random(0), "other")


def _review_words():
    import re

    from duckbert.synthetic import review_words as short
    from duckbert.synthetic import voice_words as voice

    def words(texts):
        out = set()
        for text in texts:
            text = re.sub(r"\{[a-zA-Z0-9]+\}", " ", text)  # placeholders: catalogue words
            out.update(w for w in re.findall(r"[a-z0-9']+", text.lower()))
        return out

    abuse = (short.PROMO + short.VAGUE + short.RING + short.BRUSH + list(short.RING_SWAPS)
             + list(short.RING_SWAPS.values()) + voice.DECEPTIVE + voice.SUPER
             + [w for ws in voice.PARAPHRASE.values() for w in ws])
    return words(voice.NOVEL_FAKE), words(abuse)


def test_the_novel_fake_variant_shares_no_word_with_other_abuse_texts():
    novel, abuse = _review_words()
    assert novel and not novel & abuse, sorted(novel & abuse)


@pytest.fixture(scope="module")
def realistic(tmp_path_factory):
    out = tmp_path_factory.mktemp("realistic")
    summary = generate(out, users=400, seed=5, focus="reviews", difficulty=0.7)
    with open(out / "reviews.csv", newline="") as fh:
        reviews = list(csv.DictReader(fh))
    with open(out / "labels.csv", newline="") as fh:
        labels = {r["user_session"]: r for r in csv.DictReader(fh)}
    return summary, reviews, labels


def test_realistic_review_lengths_are_long_tailed(realistic):
    _, reviews, _ = realistic
    n = sorted(len(r["review_text"].split()) for r in reviews if r["review_text"])
    assert n[len(n) // 10] <= 8  # a few words
    assert 30 <= n[len(n) // 2] <= 120
    assert n[-1] >= 250  # several hundred


def test_deceptive_reviews_imitate_genuine_ratings_and_words(realistic):
    import re

    summary, reviews, labels = realistic
    assert summary["review_style"] == "realistic" and summary["focus"] == "reviews"
    assert set(summary["anomalies"]["fake_review"]) == {"blatant", "subtle", "novel"}
    assert all(not v.get("blatant") and not v.get("subtle")
               for k, v in summary["anomalies"].items() if k not in ("fake_review", "brushing"))
    kind = {}
    for r in reviews:
        label = labels.get(r["user_session"])
        if label is None:
            continue  # reviews written without a session id
        if label["anomaly_family"] == "fake_review" and label["anomaly_variant"] == "subtle":
            kind.setdefault("deceptive", []).append(r)
        elif not label["anomaly_family"]:
            kind.setdefault("genuine", []).append(r)
    fake, real = kind["deceptive"], kind["genuine"]
    assert len(fake) >= 10 and len(real) >= 200
    # ratings: fakes give 4-5 stars, as most genuine reviewers do
    assert {r["rating"] for r in fake} <= {"4", "5"}
    assert sum(r["rating"] in ("4", "5") for r in real) / len(real) > 0.5
    # no giveaway token: no word is in every deceptive review and in few genuine ones
    def vocab(r):
        return set(re.findall(r"[a-z']+", r["review_text"].lower()))
    fake_sets, real_sets = [vocab(r) for r in fake], [vocab(r) for r in real]
    common = set.intersection(*fake_sets)
    assert not {w for w in common if sum(w in s for s in real_sets) < 0.2 * len(real)}
    # style: genuine reviews carry numbers (days, hours, weeks) more often than fakes do
    # (copied fakes are genuine text; deceptive imitations never have one)
    def has_number(r):
        return bool(re.search(r"\d", r["review_text"]))
    assert sum(has_number(r) for r in fake) / len(fake) < sum(
        has_number(r) for r in real) / len(real)
    assert sum(has_number(r) for r in real) > 0.2 * len(real)


def test_copied_fakes_read_genuine_but_describe_another_kind_of_product():
    import random
    import re

    from duckbert.synthetic import voice_words as words
    from duckbert.synthetic import voices
    from duckbert.synthetic.catalog import Catalog

    catalog = Catalog(random.Random(1), "standard")
    rng = random.Random(3)

    def own_nouns(product):  # aspect nouns of the product's group and of no other group
        group = voices._group(catalog, product)
        others = {n for g, ns in words.ASPECT_NOUNS.items() if g != group for n in ns}
        return set(words.ASPECT_NOUNS[group]) - others

    def mentions_own(text, product):
        return bool(set(re.findall(r"[a-z]+", text.lower())) & own_nouns(product))

    products = [catalog.pick(rng, rng.randrange(catalog.n_categories)) for _ in range(150)]
    genuine = [mentions_own(voices.genuine(rng, catalog, p, 5), p) for p in products]
    copied = [mentions_own(voices.copied(rng, catalog, p, 5), p) for p in products]
    deceptive = [voices.deceptive(rng, catalog, p, 5) for p in products]
    assert sum(genuine) > 0.3 * len(products)
    assert sum(copied) < 0.05 * len(products)
    assert not any(re.search(r"\d", text) for text in deceptive)


def test_subtle_fake_reviews_buy_first_as_often_as_people(realistic):
    """Review-for-refund: at mimicry 0.7 most subtle fakes carry the verified badge, and
    some genuine reviews (bought elsewhere) do not."""
    summary, reviews, labels = realistic
    first_purchase = {}
    for e in read(f"{summary['out_dir']}/events.csv"):
        when = parse_time(e["event_time"])
        if e["event_type"] == "purchase" and when is not None:
            key = (e["user_id"], e["product_id"])
            first_purchase[key] = min(when, first_purchase.get(key, when))
    verified = defaultdict(list)
    for r in reviews:
        label = labels.get(r["user_session"])
        if label is None:
            continue
        bought = first_purchase.get((r["user_id"], r["product_id"]))
        kind = label["anomaly_variant"] if label["anomaly_family"] == "fake_review" else (
            "genuine" if not label["anomaly_family"] else None)
        created = parse_time(r["created_at"])
        if kind and created is not None:
            verified[kind].append(bought is not None and bought <= created)
    share = {k: sum(v) / len(v) for k, v in verified.items()}
    assert share["blatant"] == 0.0  # rings never buy
    # People also review what they bought elsewhere, so the badge alone does not tell.
    assert 0.7 < share["genuine"] < 0.95
    assert share["subtle"] > 0.5 and len(verified["subtle"]) >= 10


def test_short_reviews_keep_the_former_style(tmp_path):
    summary = generate(tmp_path, users=120, seed=1, reviews="short")
    assert summary["review_style"] == "short"
    assert all("novel" not in v for v in summary["anomalies"].values())
    with open(tmp_path / "reviews.csv", newline="") as fh:
        n = [len(r["review_text"].split()) for r in csv.DictReader(fh)]
    assert max(n) < 60
