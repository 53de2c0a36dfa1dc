"""How hard the data set is: one number in [0, 1] turned into the generator's knobs."""

from dataclasses import dataclass

# Measured with bench/generator_difficulty.py: aggregates-only gradient boosting reaches
# PR-AUC of about 0.86-0.88 at this setting (target 0.80-0.95).
DEFAULT_DIFFICULTY = 0.3
ANOMALY_RATE = 0.06


@dataclass(frozen=True)
class Knobs:
    difficulty: float
    subtle_share: float  # share of anomalous sessions that use the subtle variant
    mimicry: float  # 0: subtle variants are crude; 1: human timing and volumes, signal only
    flip_anomaly: float  # share of anomalous sessions labelled normal (missed by analysts)
    flip_normal: float  # share of normal sessions labelled anomalous (false reports)
    anomaly_rate: float = ANOMALY_RATE

    @classmethod
    def from_difficulty(cls, difficulty):
        d = float(difficulty)
        if not 0.0 <= d <= 1.0:
            raise ValueError(f"difficulty must be in [0, 1], got {difficulty!r}")
        noise = max(0.0, (d - 0.7) / 0.3)
        return cls(
            difficulty=d,
            subtle_share=0.15 + 0.7 * d,
            mimicry=d,
            flip_anomaly=0.04 * noise,
            flip_normal=0.002 * noise,
        )
