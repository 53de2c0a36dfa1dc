"""Occlusion explanations: one variant per event, grouped past the cap, batched."""

from __future__ import annotations

import pytest

from udf.explain import MAX_OCCLUSIONS, explain, explain_many, occlusion_groups, occlusions


def test_groups_cover_every_event_once_and_respect_the_cap():
    for n in (0, 1, 5, MAX_OCCLUSIONS, MAX_OCCLUSIONS + 1, 37):
        groups = occlusion_groups(n)
        assert len(groups) == min(n, MAX_OCCLUSIONS)
        covered = [i for g in groups for i in g]
        assert covered == list(range(n))


def test_each_variant_drops_exactly_its_group():
    text = "header | a | b | c"
    groups, variants = occlusions(text)
    assert [label for _, label in groups] == ["a", "b", "c"]
    assert variants == ["header | b | c", "header | a | c", "header | a | b"]


def test_explanations_are_batched_and_match_single_calls(tiny_model):
    from udf.scorer import get_scorer

    scorer = get_scorer(tiny_model)
    texts = ["3 events | view phone apple | cart phone apple | purchase phone apple",
             None, "header only",
             " | ".join(["long"] + [f"view item{i} brand p{i % 5}" for i in range(25)])]
    many = explain_many(scorer, texts)
    assert many[1] is None
    for text, result in zip(texts, many, strict=True):
        if text is None:
            continue
        assert result == explain(scorer, text)
        assert result["score"] == pytest.approx(scorer.score([text])[0], abs=1e-4)
        assert all(e["delta"] > 0 for e in result["top_events"])
    assert many[3]["events_scored"] == 25
    assert max(e["events"] for e in many[3]["top_events"]) > 1


class _Saturated:
    """A scorer whose score is 1 - 1e-4 ** (number of 'bot's): blatant sessions near 1.0."""

    threshold, version = 0.5, "test"

    def score(self, texts, count=True):
        return [None if t is None else 1.0 - 1e-4 ** t.count("bot") for t in texts]


def test_a_score_near_one_still_has_reasons_ranked_by_log_odds():
    import math

    result = explain(_Saturated(), "2 events | view bot | view human | cart bot bot")
    assert result["score"] == 1.0  # rounded: the probability cannot tell the events apart
    tops = result["top_events"]
    assert [t["position"] for t in tops] == [3, 1]  # 'bot bot' weighs twice a 'bot'
    assert tops[0]["delta"] == pytest.approx(math.log(1e12) - math.log(1e4), rel=1e-3)
    # without the first 'bot' the probability moves by 1e-8: lost in rounding, not in log-odds
    assert tops[1]["score_without"] == 1.0
    assert tops[1]["delta"] == pytest.approx(math.log(1e12) - math.log(1e8), rel=1e-3)
