"""One intra-op thread while another process competes for a small machine's cores (training)."""

from __future__ import annotations

import torch


class ThreadGovernor:
    """Drop to one intra-op thread while another process competes for the cores.

    With 2 threads on 2 cores, a competing process makes every parallel region wait for the
    descheduled thread (measured: 10x slower steps); one thread keeps a whole core's speed.
    Full width is probed again every `probe_every` steps. Changes bit-reproducibility only.
    """

    def __init__(self, max_threads: int, probe_every: int = 60) -> None:
        self.max, self.cur, self.probe_every = max_threads, max_threads, probe_every
        self.best: dict[int, float] = {}
        self.recent: dict[int, list[float]] = {1: [], max_threads: []}
        self.in_mode = 0
        torch.set_num_threads(self.cur)

    def _switch(self, n: int) -> None:
        self.cur, self.in_mode = n, 0
        self.recent[n] = []
        torch.set_num_threads(n)

    def step_done(self, dt: float, samples: int = 1) -> None:
        """Record a step of ``samples`` examples; compared per example, so an epoch's short
        last batch does not set an unreachably fast best time (which forced one thread)."""
        n = self.cur
        dt = dt / max(samples, 1)
        self.in_mode += 1
        self.best[n] = min(self.best.get(n, dt), dt)
        self.recent[n] = (self.recent[n] + [dt])[-5:]
        med = sorted(self.recent[n])[len(self.recent[n]) // 2]
        if n > 1 and self.in_mode >= 3:
            one = self.recent.get(1) or []
            slower_than_one = bool(one) and med > sorted(one)[len(one) // 2]
            if med > 1.5 * self.best[n] or slower_than_one:
                self._switch(1)
        elif n == 1 and self.in_mode >= self.probe_every:
            self._switch(self.max)
