"""Decoding coding ``adaptive`` (:mod:`wsbench.codec.adaptive`) so that no small file takes long.

Why: each binary decision's context depends on the decisions before it, so decoding goes one
decision at a time in Python (~0.5 us each). A crafted stream of saturated decisions (probability
63/64, 1/44 bit each) holds 100M levels in 280 kB: 131 s one at a time (issue 29). So the decoder
also has a fast path where the model cannot change: once every context a run of levels uses is
saturated (clamped at 1/64 or 63/64 and getting the bit it favours), the most probable path from
the previous level is a cycle of at most five levels whose decisions all have fixed
probabilities. Many cycles are then decoded in one vectorised range-coder call, speculatively,
and compared with the cycle: up to the first decision that differs (a less probable bit, 6 bits
of stream) all of it is exact; the range decoder is put back there by seeking to the checkpoint
of a mirror encoder that re-encodes every decoded decision (a range coder's state after a prefix
is what encoding that prefix gives), and decoding goes on one decision at a time. The result is
exactly what the one-at-a-time decoder gives: the fast path only skips the Python work of
decisions whose probabilities are known.

Bounds: a decision costs at least -log2(63/64) > 1/45 bit, so a stream of ``n_bits`` holds at
most ``45 (n_bits + 64)`` decisions (the 64: the coder's final words may be left out); a stream
that yields more is refused as it does. At the end the mirror's words must be the stream's, so a
stream with words to spare, or one no encoder made, is refused. How many levels a file may
declare at all is the file format's bound (:func:`wsbench.codec.fileformat_checks.max_values`),
which keeps the one-at-a-time path, about 1 us a level at worst, to seconds for a small file.
"""

from __future__ import annotations

import numpy as np

from wsbench.codec.adaptive import (_HALF, _SIG, HIGH, LOW, N_CONTEXTS, ONE, RATES, _level, _nonzero,
                                    _weights, max_indices)

BATCH = (256, 1 << 18)  # decisions per speculative call: the first, the most (doubles on success)
TRIGGER = (8, 4096)     # clean levels before a try: the first, the most (doubles after a failure)
WORTH = 64              # levels a try must give to count as worth its cost
FLUSH = 1 << 16         # one-at-a-time decisions collected before the mirror encodes them


class _NotSaturated(Exception):
    """The most probable path meets a context whose probability can still change."""


def _table(p: np.ndarray) -> np.ndarray:
    """constriction's integer weights (see adaptive._weights) for an array of P(1) * 2^16."""
    p = np.asarray(p, dtype=np.int64)
    return np.stack([(ONE - p) * 256 - 1, p * 256 - 1], axis=1).astype(np.float64)


def _cls(level: int) -> tuple[int, int]:
    """What of a level the next level's contexts see: min(|v|, 2) and the sign."""
    return min(abs(level), 2), (level > 0) - (level < 0)


class _Path:
    """A coder for :func:`adaptive._level` that takes the most probable bit of saturated
    contexts without updating them (their probabilities would not change) and records it."""

    def __init__(self, model: "Decoder") -> None:
        self.model, self.ctxs, self.bits, self.probs = model, [], [], []

    def bit(self, ctx: int, _bit: int = 0) -> int:
        p = self.model.p(ctx) if ctx != _HALF else 0
        if p != LOW and p != HIGH:
            raise _NotSaturated
        self.ctxs.append(ctx)
        self.bits.append(int(p == HIGH))
        self.probs.append(p)
        return self.bits[-1]


class Decoder:
    """The range decoder, the contexts, and the mirror encoder of every decoded decision."""

    def __init__(self, data: bytes, max_decisions: int) -> None:
        import constriction

        self.words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        self.dec = constriction.stream.queue.RangeDecoder(self.words)
        self.mirror = constriction.stream.queue.RangeEncoder()
        self.make, self.family = constriction.stream.model.Categorical, \
            constriction.stream.model.Categorical(perfect=False)
        self.fast, self.slow = [ONE >> 1] * N_CONTEXTS, [ONE >> 1] * N_CONTEXTS
        self.models: list = [None] * (ONE + 1)  # one constriction model per probability
        self.bits: list[int] = []   # one-at-a-time decisions the mirror has not encoded yet
        self.probs: list[int] = []
        self.done, self.limit = 0, max_decisions
        self.clean, self.batch, self.trigger = True, BATCH[0], TRIGGER[0]

    def p(self, ctx: int) -> int:
        return min(HIGH, max(LOW, (self.fast[ctx] + self.slow[ctx]) >> 1))

    def model(self, p: int) -> object:
        """constriction's model of P(1) = p / 2^16, made once per probability."""
        model = self.models[p]
        if model is None:
            model = self.models[p] = self.make(np.array(_weights(p), dtype=np.float64), perfect=False)
        return model

    def bit(self, ctx: int, _bit: int = 0) -> int:
        """One decision, one at a time; ``clean`` stays set while all are saturated and favoured."""
        if ctx == _HALF:
            p = ONE >> 1
        else:
            p = (self.fast[ctx] + self.slow[ctx]) >> 1
            p = LOW if p < LOW else HIGH if p > HIGH else p
        try:
            bit = self.dec.decode(self.models[p] or self.model(p))
        except Exception as exc:  # constriction refuses a stream no encoder made (AssertionError)
            raise ValueError(f"the range coder's stream is invalid ({exc})") from None
        self.bits.append(bit)
        self.probs.append(p)
        if ctx != _HALF:
            f, s, target = self.fast[ctx], self.slow[ctx], ONE if bit else 0
            self.fast[ctx] = f + ((target - f) >> RATES[0])
            self.slow[ctx] = s + ((target - s) >> RATES[1])
        if not ((p == HIGH and bit) or (p == LOW and not bit)):
            self.clean = False
        return bit

    def _encode(self, bits: np.ndarray, table: np.ndarray) -> None:
        """Mirror decisions that are final, and refuse more than the stream can hold."""
        self.done += len(bits)
        if self.done > self.limit:
            raise ValueError("the range coder's stream yields more binary decisions than its "
                             "length can hold")
        if len(bits):
            self.mirror.encode(np.asarray(bits, dtype=np.int32), self.family, table)

    def flush(self) -> None:
        self._encode(np.asarray(self.bits), _table(self.probs))
        self.bits.clear()
        self.probs.clear()

    def tensor(self, out: np.ndarray, pos: int, size: int, lo: int, hi: int, max_prefix: int) -> int:
        """Decode one tensor's ``size`` levels into ``out[pos:]`` (previous level 0 at its
        start); levels outside [lo, hi] are left for the caller to refuse. Returns the end.
        The significance decision, most of a sparse stream, is inlined (``_level``'s first)."""
        fast, slow, models, bits, probs = self.fast, self.slow, self.models, self.bits, self.probs
        decode, r0, r1 = self.dec.decode, RATES[0], RATES[1]
        prev, run, end, levels = 0, 0, pos + size, []
        while pos + len(levels) < end:
            if run >= self.trigger or len(bits) >= FLUSH:
                out[pos:pos + len(levels)] = levels
                pos, levels = pos + len(levels), []
                if run >= self.trigger:
                    run, got = 0, self.speculate(prev, end - pos, lo, hi, max_prefix)
                    if got is not None and got.size:
                        out[pos:pos + got.size] = got
                        pos, prev = pos + got.size, int(got[-1])
                        continue
                self.flush()
            a = 2 if prev > 1 or prev < -1 else (prev if prev >= 0 else -prev)
            ctx = _SIG + a
            f, s = fast[ctx], slow[ctx]
            p = (f + s) >> 1
            p = LOW if p < LOW else HIGH if p > HIGH else p
            try:
                bit = decode(models[p] or self.model(p))
            except Exception as exc:  # as in bit()
                raise ValueError(f"the range coder's stream is invalid ({exc})") from None
            bits.append(bit)
            probs.append(p)
            if bit:
                fast[ctx], slow[ctx] = f + ((ONE - f) >> r0), s + ((ONE - s) >> r1)
                self.clean = p == HIGH
                prev = _nonzero(self, 0, prev, a, max_prefix)
            else:
                fast[ctx], slow[ctx] = f + ((-f) >> r0), s + ((-s) >> r1)
                self.clean, prev = p == LOW, 0
            levels.append(prev)
            run = run + 1 if self.clean else 0
        out[pos:pos + len(levels)] = levels
        return end

    def cycle(self, prev: int, max_prefix: int) -> tuple | None:
        """The most probable levels after ``prev`` up to the first whose class is prev's
        (its decisions' contexts, bits and probabilities, and where each level ends), or None
        where that path meets a context that is not saturated or a bit at probability 1/2."""
        path, levels, ends, v = _Path(self), [], [], prev
        for _ in range(6):  # five classes: the path returns to prev's within five levels
            try:
                v = _level(path, 0, v, max_prefix)
            except (_NotSaturated, ValueError):
                return None
            levels.append(v)
            ends.append(len(path.bits))
            if _cls(v) == _cls(prev):
                return (np.array(levels), np.array(path.ctxs), np.array(path.bits),
                        np.array(path.probs), np.array(ends))
        return None

    def speculate(self, prev: int, left: int, lo: int, hi: int, max_prefix: int) -> np.ndarray | None:
        """Levels decoded by the fast path (maybe none), or None where it does not apply."""
        found = self.cycle(prev, max_prefix)
        if found is None or found[0].min() < lo or found[0].max() > hi or left < len(found[0]):
            self.trigger = min(2 * self.trigger, TRIGGER[1])
            return None
        levels, ctxs, bits, probs, ends = found
        c, m = len(levels), len(bits)
        k = min(left // c, max(1, self.batch // m))
        self.flush()
        expected, table = np.tile(bits, k), np.tile(_table(probs), (k, 1))
        try:
            wrong = np.flatnonzero(self.dec.decode(self.family, table) != expected)
        except Exception:  # a stream no encoder made: the one-at-a-time path says so
            wrong = np.zeros(1, dtype=np.int64)
        n_levels, n_dec = k * c, k * m
        if wrong.size:  # keep the levels before the one holding the first wrong guess
            whole, within = divmod(int(wrong[0]), m)
            part = int(np.searchsorted(ends, within, side="right"))
            n_levels, n_dec = whole * c + part, whole * m + (int(ends[part - 1]) if part else 0)
        self._encode(expected[:n_dec], table[:n_dec])
        if wrong.size:
            self._seek()
        self._advance(ctxs, bits, n_dec)
        self._adapt(n_levels, k * c)
        return np.tile(levels, -(-n_levels // c))[:n_levels]

    def _seek(self) -> None:
        """Put the range decoder right after the decisions the mirror has encoded."""
        try:
            self.dec.seek(*self.mirror.pos())
        except ValueError as exc:  # past the end: only a stream no encoder made gets here
            raise ValueError(f"the range coder's stream is invalid ({exc})") from None

    def _advance(self, ctxs: np.ndarray, bits: np.ndarray, n_dec: int) -> None:
        """Update each context as ``n_dec`` decisions of the cycle (repeated) would have."""
        whole, part = divmod(n_dec, len(bits))
        counts = np.bincount(ctxs, minlength=N_CONTEXTS) * whole + \
            np.bincount(ctxs[:part], minlength=N_CONTEXTS)
        for ctx in np.flatnonzero(counts):
            target = ONE if bits[int(np.argmax(ctxs == ctx))] else 0
            self.fast[ctx] = _steps(self.fast[ctx], target, RATES[0], int(counts[ctx]))
            self.slow[ctx] = _steps(self.slow[ctx], target, RATES[1], int(counts[ctx]))

    def _adapt(self, n_levels: int, tried: int) -> None:
        """Longer tries after a full one. A try costs about as much as 60 levels one at a time:
        after one that gave fewer than WORTH, wait twice as long before the next, so a stream
        that keeps defeating the guess keeps the one-at-a-time speed."""
        self.batch = min(2 * self.batch, BATCH[1]) if n_levels == tried else BATCH[0]
        self.trigger = TRIGGER[0] if n_levels >= WORTH else min(2 * self.trigger, TRIGGER[1])

    def finish(self) -> None:
        """Refuse a stream that is not exactly what encoding the decoded indices gives: one
        that holds more than they, or that no encoder made (so a file has one reading)."""
        self.flush()
        if not np.array_equal(self.mirror.get_compressed(), self.words):
            raise ValueError("the range coder's stream is invalid (it holds more than its indices, "
                             "or it is not what they encode to)")


_JUMPS: dict[tuple[int, int], list[np.ndarray]] = {}  # (target, rate) -> 2^j updates at once
SETTLED = 1023  # updates after which every estimate has stopped moving (at most 870 take it)


def _steps(x: int, target: int, rate: int, n: int) -> int:
    """``n`` updates of a probability estimate towards ``target``, exactly, by at most ten
    table jumps (built once: 11 x 64 K uint16 per rate and target)."""
    tables = _JUMPS.get((target, rate))
    if tables is None:
        v = np.arange(ONE, dtype=np.int64)
        tables = [(v + ((target - v) >> rate)).astype(np.uint16)]
        while len(tables) <= SETTLED.bit_length():
            tables.append(tables[-1][tables[-1]])
        tables = _JUMPS[(target, rate)] = tables
    n = min(n, SETTLED)
    for j in range(n.bit_length()):
        if n >> j & 1:
            x = int(tables[j][x])
    return x


def decode(data: bytes, sizes: list[int], d: int, zero: int) -> np.ndarray:
    """The pooled indices of ``sizes`` tensors; a stream that cannot hold them, or that decodes
    to a level outside the codebook of ``d``, is a ValueError."""
    n = int(sum(sizes))
    if not n:
        return np.zeros(0, dtype=np.int64)
    if len(data) % 4:
        raise ValueError("the range coder's stream is not whole 32-bit words")
    if n > max_indices(8 * len(data)):
        raise ValueError(f"{len(data)} bytes of adaptive coding cannot hold {n} indices")
    coder = Decoder(data, max_indices(8 * len(data)))
    out, pos, max_prefix = np.empty(n, dtype=np.int64), 0, d.bit_length() + 1
    for size in sizes:
        pos = coder.tensor(out, pos, int(size), -zero, d - 1 - zero, max_prefix)
    coder.finish()
    out += zero
    if out.min() < 0 or out.max() >= d:
        raise ValueError("a decoded index is outside the codebook")
    return out
