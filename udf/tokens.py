"""Tokenize session texts once, for both the BERT encoder and the lexical n-gram features."""

from __future__ import annotations

from pathlib import Path

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
)

# Padded widths are multiples of this (capped at max_length), and a batch holds one width
# only, so a text is always encoded at the same width whatever its batch neighbours are:
# attention kernels block their reductions by sequence length, and a text's score must not
# depend on which other texts share its batch.
PAD_MULTIPLE = 8
# st2: the behaviour part keeps up to this many tokens (with [CLS] and [SEP]) of any
# max_length; SQL renders it under 256 (docs/SESSION_TEXT.md).
BEHAVIOUR_MAX = 256


def _head_tail(ids: list[int], room: int) -> list[int]:
    """ids within `room` by dropping the middle: head 1/4, tail 3/4."""
    if len(ids) <= room:
        return ids
    head = room // 4
    return ids[:head] + ids[len(ids) - (room - head) :]


class SessionTokenizer:
    """A fast WordPiece tokenizer without padding or truncation; batching is ours to do.

    Texts longer than `max_length` keep their head (the session's shape) and their tail (how
    it ended), dropping the middle: the end of a session is where abuse usually shows.
    """

    def __init__(self, model_dir: str | Path, max_length: int = 256):
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        if (model_dir / "tokenizer.json").exists():
            tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        elif (model_dir / "vocab.txt").exists():
            from tokenizers.implementations import BertWordPieceTokenizer

            tok = BertWordPieceTokenizer(str(model_dir / "vocab.txt"), lowercase=True)
        else:
            raise FileNotFoundError(f"{model_dir} has no tokenizer.json or vocab.txt")
        tok.no_truncation()
        tok.no_padding()
        self._tok = tok
        self.max_length = int(max_length)
        self.vocab_size = tok.get_vocab_size()
        self.cls_id = self._special(("[CLS]", "<s>"))
        self.sep_id = self._special(("[SEP]", "</s>"))
        self.pad_id = self._special(("[PAD]", "<pad>"), default=0)
        self.bar_id = tok.token_to_id("|")

    def _special(self, names, default=None):
        for name in names:
            token_id = self._tok.token_to_id(name)
            if token_id is not None:
                return token_id
        if default is None:
            raise ValueError(f"tokenizer has none of the special tokens {names}")
        return default

    def ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, without special tokens and without truncation."""
        return [enc.ids for enc in self._tok.encode_batch(texts, add_special_tokens=False)]

    def fit(self, ids: list[int]) -> list[int]:
        """[CLS] + ids + [SEP] within max_length.

        st2 (a reviews part after "||"): the behaviour part is kept (cut like below only past
        BEHAVIOUR_MAX tokens) and only the reviews' end is cut. Otherwise the middle is dropped
        (head 1/4, tail 3/4).
        """
        room = self.max_length - 2
        if len(ids) > room:
            split = self._reviews_start(ids)
            if split is not None:
                behaviour = _head_tail(ids[:split], min(room, BEHAVIOUR_MAX - 2))
                ids = behaviour + ids[split : split + room - len(behaviour)]
            else:
                ids = _head_tail(ids, room)
        return [self.cls_id, *ids, self.sep_id]

    def _reviews_start(self, ids: list[int]) -> int | None:
        """Index of the "||" that starts st2's reviews part, if any."""
        bar = self.bar_id
        if bar is None:
            return None
        for i in range(len(ids) - 1):
            if ids[i] == bar and ids[i + 1] == bar:
                return i
        return None

    def padded_length(self, n_ids: int) -> int:
        """Width a text of `n_ids` token ids (no specials) is padded to: its own bucket."""
        fitted = min(n_ids, self.max_length - 2) + 2
        return min(-(-fitted // PAD_MULTIPLE) * PAD_MULTIPLE, self.max_length)

    def batch(self, id_lists: list[list[int]]):
        """Pad fitted id lists into (input_ids, attention_mask) int64 tensors.

        The width is the largest padded_length in the batch; batches that keep one padded
        width (udf.encode does) give each text the same tensors whatever its neighbours.
        """
        from itertools import chain

        import numpy as np
        import torch

        fitted = [self.fit(ids) for ids in id_lists]
        width = max(self.padded_length(len(ids)) for ids in id_lists)
        lengths = np.fromiter(map(len, fitted), dtype=np.int64, count=len(fitted))
        # One vectorized scatter instead of a tensor per row (5x less time per row): the
        # mask's True cells, in row-major order, are exactly the concatenated fitted ids.
        keep = np.arange(width) < lengths[:, None]
        input_ids = np.full((len(fitted), width), self.pad_id, dtype=np.int64)
        input_ids[keep] = np.fromiter(chain.from_iterable(fitted), dtype=np.int64,
                                      count=int(lengths.sum()))
        return torch.from_numpy(input_ids), torch.from_numpy(keep.astype(np.int64))

    def save(self, out_dir: str | Path) -> None:
        """Write tokenizer.json (padding and truncation off) into an artifact directory."""
        self._tok.save(str(Path(out_dir) / "tokenizer.json"))
