"""session_text formats: what tells st1 from st2, the tokenizer's st2 cut, st2 occlusion,
and a model refusing text of the other format (real DuckDB, real tiny BERT artifacts)."""

from __future__ import annotations

import duckdb
import pytest

import udf
from tests.helpers.models import build_tiny_artifact
from udf.explain import occlusions, reviews_in, split_events
from udf.scorer import Scorer, clear_scorers
from udf.text_format import TextFormatError, check_texts, detect
from udf.tokens import SessionTokenizer

BEHAVIOUR = "2m 2 events 1 view 1 purchase 2 review | view tv lg high | 1m review 4 verified"
ST2 = (BEHAVIOUR + " | 30s review 2 | 10s purchase same || review 4 verified sharp picture, "
       "the remote is flimsy | review 2 stopped working after 3 weeks")
ST1 = ("2m 2 events 1 view 1 purchase 2 review | view tv lg high | 1m review 4 verified sharp "
       "picture, the remote | 30s review 2 stopped working | 10s purchase same")
NO_REVIEWS = "7m 3 events 3 view | view tv lg high | 10s view same x2"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """One torch thread (tests/conftest.py)."""


def test_detect_tells_the_formats_apart_only_where_they_differ():
    assert detect(ST2) == "st2"
    assert detect(ST1) == "st1"
    assert detect(NO_REVIEWS) is None  # renders the same in both: valid for either
    assert detect("1m 0 events 1 review | review 5 verified") is None  # empty review text
    assert detect("1m 0 events 2 review | review 5 x2 || review 5 ok | review 5 ok") == "st2"
    assert detect("3m 4 events | view shoes nike mid | 2s view reviewed same") is None


def test_check_names_both_formats_and_the_fix():
    check_texts([ST2, NO_REVIEWS], "st2")
    check_texts([ST1, ST2], None)  # a model without a recorded format is not checked
    with pytest.raises(TextFormatError) as err:
        check_texts([NO_REVIEWS, ST2], "st1", "model m@1")
    message = str(err.value)
    assert "format st2" in message and "trained on format st1" in message
    assert "m@1" in message and "session_text_format: st1" in message


def test_st2_cut_keeps_the_behaviour_and_drops_the_end_of_the_reviews(tiny_bert):
    tok = SessionTokenizer(tiny_bert, max_length=48)
    long_reviews = BEHAVIOUR + " || review 5 " + " ".join(f"word{i}" for i in range(200))
    ids = tok.ids([long_reviews])[0]
    fitted = tok.fit(ids)
    assert len(fitted) == 48 == tok.padded_length(len(ids))
    behaviour = tok.ids([BEHAVIOUR])[0]
    split = tok._reviews_start(ids)
    assert split == len(behaviour)
    assert fitted[1 : 1 + len(behaviour)] == behaviour  # the behaviour part whole
    assert fitted[1:-1] == ids[: 46]  # then the reviews from their start
    # without a reviews part: head and tail, as before
    plain = tok.ids([NO_REVIEWS + " | " + " | ".join(["10s view same"] * 40)])[0]
    assert tok.fit(plain)[-2] == plain[-1] and tok.fit(plain)[1] == plain[0]


def test_st2_occlusion_takes_a_reviews_words_out_with_its_segment():
    header, events = split_events(ST2)
    assert events == ["view tv lg high", "1m review 4 verified", "30s review 2",
                      "10s purchase same"]
    assert [reviews_in(e) for e in events] == [0, 1, 1, 0]
    assert reviews_in("2s review 5 x3") == 3 and reviews_in("40 more: 3 view 2 review over 5m") == 2
    groups, variants = occlusions(ST2)
    assert [label for _, label in groups] == events
    without_first_review = variants[1]
    assert "sharp picture" not in without_first_review
    assert without_first_review.endswith("|| review 2 stopped working after 3 weeks")
    assert "1m review 4 verified" not in without_first_review
    assert variants[0].endswith(ST2.split(" || ")[1])  # an event: reviews stay
    assert all(detect(v) in ("st2", None) for v in variants)


def test_an_st1_model_refuses_st2_text_in_sql_and_scores_its_own(tiny_bert, tmp_path):
    st1_model = build_tiny_artifact(tiny_bert, tmp_path / "st1", name="old", text_format="st1")
    clear_scorers()
    con = duckdb.connect(":memory:")
    try:
        udf.register(con, model=str(st1_model))
        assert con.execute("select anomaly_score(?)", [ST1]).fetchone()[0] is not None
        assert con.execute("select anomaly_score(?)", [NO_REVIEWS]).fetchone()[0] is not None
        with pytest.raises(duckdb.Error) as err:
            con.execute("select anomaly_score(?)", [ST2]).fetchone()
        assert "format st2" in str(err.value) and "trained on format st1" in str(err.value)
    finally:
        con.close()
        clear_scorers()


def test_an_st2_model_refuses_st1_text(tiny_model):
    scorer = Scorer(tiny_model)
    assert scorer.text_format == "st2"
    assert 0 <= scorer.score([ST2])[0] <= 1
    with pytest.raises(TextFormatError, match="format st1 but model tiny@"):
        scorer.score([NO_REVIEWS, ST1])
