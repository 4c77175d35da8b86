"""Sparse MERIT: joint speech enhancement and emotion recognition with frame-wise
mixture-of-experts routing over self-supervised speech representations (our implementation)."""

CLASSES = ("angry", "sad", "happy", "neutral")
SAMPLE_RATE = 16_000
