"""Which session_text format a text is in, and the check that a model only scores its own.

A model understands the format it was trained on (`text_format` in its duckbert.json). The
formats differ only where a session has reviews (docs/SESSION_TEXT.md):

- st1 writes a review's first words inside its timeline segment (`30s review 5 great ...`);
- st2 writes the timeline segment bare (`30s review 5 verified`) and every review whole after
  the behaviour, past `REVIEWS_SEPARATOR` (" || ", which no st1 text contains).

A session without reviews renders the same in both formats, so it is valid for either. A
text that shows the other format is refused with an error naming both formats, never scored.
"""

from __future__ import annotations

import re

REVIEWS_SEPARATOR = " || "
SEGMENT_SEPARATOR = " | "
FORMATS = ("st1", "st2")
# A timeline review segment: [gap] review <rating> [verified] [xN] ... then st1's words.
_REVIEW_SEGMENT = re.compile(
    r"^(?:\d+[smhd] )?review [1-5](?: verified)?(?: x\d+)?(?P<words> .+)?$")


def detect(text: str) -> str | None:
    """'st1' or 'st2' when the text shows its format, None when it is valid for both."""
    if REVIEWS_SEPARATOR in text:
        return "st2"
    for segment in text.split(SEGMENT_SEPARATOR)[1:]:
        if "review" in segment:
            match = _REVIEW_SEGMENT.match(segment)
            if match and match.group("words"):
                return "st1"
    return None


class TextFormatError(ValueError):
    """A text in one session_text format given to a model trained on another."""


def check_texts(texts, model_format: str | None, model_name: str = "the model") -> None:
    """Raise TextFormatError on the first text that shows a format other than the model's.

    A model without a recorded format (trained on a table without text_format) is not
    checked: nothing says which format it expects.
    """
    if model_format not in FORMATS:
        return
    for text in texts:
        found = detect(text)
        if found is not None and found != model_format:
            raise TextFormatError(
                f"session_text is in format {found} but {model_name} was trained on format "
                f"{model_format}: build sessions in {model_format} (dbt var "
                f"session_text_format: {model_format}, e.g. duckbert build --vars "
                f"'{{session_text_format: {model_format}}}') or train a model on {found} "
                f"text (docs/SESSION_TEXT.md); text starts: {text[:80]!r}")
