"""Synthetic labelled e-commerce behaviour in the raw contract of DESIGN.md.

`generate(out_dir, users, seed, difficulty)` writes events.csv, reviews.csv and labels.csv:
normal personas (with hard negatives), seven abuse families with blatant and subtle
variants, and a little dirt for the warehouse's cleaning to handle. Same seed, same bytes.
"""

from duckbert.synthetic.anomalies import FAMILY_NAMES
from duckbert.synthetic.difficulty import DEFAULT_DIFFICULTY
from duckbert.synthetic.generate import generate

__all__ = ["DEFAULT_DIFFICULTY", "FAMILY_NAMES", "generate"]
