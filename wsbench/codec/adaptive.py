"""Context-adaptive binary arithmetic coding of codebook indices (coding ``adaptive``).

A DeepCABAC-like binarisation (the MPEG NNC standard's codec) over wsbench's own indices, coded
with ``constriction``'s range coder. Each index becomes a signed level ``v = index - zero``, where
``zero`` is the most frequent index (for trained weights the bin nearest 0.0; the codebook is
sorted, so ``|v|`` grows with the distance from it), and ``v`` becomes binary decisions, each
coded with an adaptive probability chosen by a context:

* significance ``v != 0``, context: ``min(|previous level|, 2)``;
* sign ``v < 0``, context: the previous level's sign;
* greater-than flags ``|v| > g`` for ``g = 1..GT`` (stopping at the first 0), context: ``g`` and
  ``min(|previous level|, 2)``;
* the rest ``|v| - GT - 1`` as Exp-Golomb (order 0): unary prefix bits with one adaptive context
  per position, then suffix bits at probability 1/2.

The previous level is the one before in the same tensor (0 at a tensor's start); the
probabilities carry over from tensor to tensor. Why: measured on the digits CNN and CIFAR-10
ResNet-20 (uniform bins, K = 16..256), this codes 4-25% smaller than one Huffman table and
smaller than per-tensor Huffman tables or an adaptive categorical model with or without a
previous-index context, except at K >= 256 where all are within 1%; see the coding's
measurement in the issue's report.

Determinism: every probability is a 16-bit integer updated with integer shifts (two rates, as
in VVC's CABAC), clamped to [1/64, 63/64], and handed to constriction as integer weights that
sum to exactly 2^24 - 2, which its fixed-point quantisation (``perfect=False``) turns into the
cumulative table ``[0, w0 + 1, 2^24]`` without rounding: no float computation takes part, so
encoder and decoder agree on every platform. The clamp also bounds the decoder: every decision
has probability <= 63/64, i.e. costs more than 1/45 bit, so a stream of ``n_bits`` bits cannot
hold more than ``45 * (n_bits + 64)`` decisions, nor as many indices
(:mod:`wsbench.codec.fileformat_checks` refuses a header claiming more, the decoder a stream
that yields more). Decoding: :mod:`wsbench.codec.adaptive_decoder`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GT = 2                  # greater-than flags before the Exp-Golomb rest
PREFIX_CONTEXTS = 16    # Exp-Golomb prefix positions with their own context (the last is shared)
RATES = (4, 7)          # the two adaptation speeds (shifts) of each probability
ONE = 1 << 16           # probability 1.0 in the 16-bit state
LOW, HIGH = ONE >> 6, ONE - (ONE >> 6)  # the clamp: 1/64 .. 63/64
DECISIONS_PER_BIT = 45  # what the clamp allows at most (1 / -log2(63/64) = 44.01)
_SIG, _SIGN, _GT = 0, 3, 6
_PREFIX = _GT + 3 * GT
N_CONTEXTS = _PREFIX + PREFIX_CONTEXTS
_HALF = -1  # context id of the suffix bits (probability 1/2, never updated)


def params() -> dict:
    """The coding's parameters, as the file's header stores them (a reader checks they match)."""
    return {"gt": GT, "prefix_contexts": PREFIX_CONTEXTS, "rates": list(RATES), "clamp": [LOW, HIGH]}


def zero_bin(indices: np.ndarray) -> int:
    """The level-0 symbol: the most frequent index (the smallest of equals; 0 for none)."""
    return int(np.bincount(indices).argmax()) if indices.size else 0


def max_indices(n_bits: int) -> int:
    """The most decisions (so indices) a stream of ``n_bits`` bits can hold (the module's
    docstring says why)."""
    return DECISIONS_PER_BIT * (int(n_bits) + 64)


class _Contexts:
    """The adaptive probabilities: two 16-bit estimates per context, integers only."""

    def __init__(self) -> None:
        self.fast = [ONE >> 1] * N_CONTEXTS
        self.slow = [ONE >> 1] * N_CONTEXTS

    def p_one(self, ctx: int) -> int:
        """P(bit = 1) * 2^16 of a context (1/2 for the suffix bits)."""
        if ctx == _HALF:
            return ONE >> 1
        return min(HIGH, max(LOW, (self.fast[ctx] + self.slow[ctx]) >> 1))

    def update(self, ctx: int, bit: int) -> None:
        if ctx != _HALF:
            target = ONE if bit else 0
            self.fast[ctx] += (target - self.fast[ctx]) >> RATES[0]
            self.slow[ctx] += (target - self.slow[ctx]) >> RATES[1]


def _weights(p_one: int) -> tuple[int, int]:
    """Integer weights (sum 2^24 - 2) whose constriction model has exactly P(1) = p_one / 2^16."""
    return (ONE - p_one) * 256 - 1, p_one * 256 - 1


class _Encoder:
    """Collects the decisions and their probabilities; one vectorised range-coder call at the end."""

    def __init__(self) -> None:
        self.model = _Contexts()
        self.bits: list[int] = []
        self.probs: list[int] = []

    def bit(self, ctx: int, bit: int) -> int:
        self.bits.append(bit)
        self.probs.append(self.model.p_one(ctx))
        self.model.update(ctx, bit)
        return bit

    def finish(self) -> bytes:
        import constriction

        enc = constriction.stream.queue.RangeEncoder()
        if self.bits:
            p = np.asarray(self.probs, dtype=np.int64)
            table = np.stack([(ONE - p) * 256 - 1, p * 256 - 1], axis=1).astype(np.float64)
            enc.encode(np.asarray(self.bits, dtype=np.int32),
                       constriction.stream.model.Categorical(perfect=False), table)
        return enc.get_compressed().astype("<u4").tobytes()


def _level(coder, v: int, prev: int, max_prefix: int) -> int:
    """Code (encoder) or decode (decoder, ``v`` ignored) one level; returns it."""
    a = min(abs(prev), 2)
    if not coder.bit(_SIG + a, int(v != 0)):
        return 0
    return _nonzero(coder, v, prev, a, max_prefix)


def _nonzero(coder, v: int, prev: int, a: int, max_prefix: int) -> int:
    """The decisions of a level after its significance said it is not 0 (``a``: the
    significance context's min(|prev|, 2)); the decoder's one-at-a-time path inlines the
    significance decision and calls this for the rest."""
    negative = coder.bit(_SIGN + (prev > 0) - (prev < 0) + 1, int(v < 0))
    mag = 1
    while mag <= GT and coder.bit(_GT + 3 * (mag - 1) + a, int(abs(v) > mag)):
        mag += 1
    if mag > GT:
        rest = abs(v) - GT - 1 + 1  # Exp-Golomb order 0 of rest, as rest + 1 in binary
        n = rest.bit_length() - 1 if rest > 0 else 0
        length = 0
        while coder.bit(_PREFIX + min(length, PREFIX_CONTEXTS - 1), int(length < n)):
            length += 1
            if length > max_prefix:
                raise ValueError("an Exp-Golomb prefix is longer than the codebook allows")
        value = 1
        for i in range(length - 1, -1, -1):
            value = (value << 1) | coder.bit(_HALF, (rest >> i) & 1)
        mag = value - 1 + GT + 1
    return -mag if negative else mag


@dataclass
class AdaptiveCode:
    data: bytes
    zero: int

    @property
    def total_bits(self) -> int:
        return 8 * len(self.data)


def encode(indices: np.ndarray, sizes: list[int], codebook: np.ndarray) -> AdaptiveCode:
    """Code ``indices`` (pooled in tensor order, ``sizes`` per tensor) against ``codebook``."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if sum(sizes) != idx.size:
        raise ValueError(f"tensor sizes add up to {sum(sizes)}, not {idx.size} indices")
    zero = zero_bin(idx)
    levels = (idx - zero).tolist()
    coder, offset, max_prefix = _Encoder(), 0, len(codebook).bit_length() + 1
    for size in sizes:
        prev = 0
        for v in levels[offset:offset + size]:
            prev = _level(coder, v, prev, max_prefix)
        offset += size
    return AdaptiveCode(coder.finish(), zero)


def decode(data: bytes, sizes: list[int], d: int, zero: int) -> np.ndarray:
    """The pooled indices back; a stream that cannot hold them, or a level outside the
    codebook, is a ValueError (:func:`wsbench.codec.adaptive_decoder.decode`)."""
    from wsbench.codec import adaptive_decoder

    return adaptive_decoder.decode(data, sizes, d, zero)
