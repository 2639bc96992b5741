"""Which of a source's two decoders serves a cold jump, by measured cost.

Nothing here is public: :class:`core.io.video.FrameSource` holds one :class:`SeekRace`
for a short-GOP video, where it has a one-thread decoder and a plain one (OpenCV's
default frame threading, as a plain ``set``-and-``read`` loop has it).
"""

from __future__ import annotations

from collections.abc import Sequence


class SeekRace:
    """Picks which of two decoders serves a cold jump: the one whose recent jumps cost
    less wall time per frame decoded.

    Decoders differ only in threading (one thread, or OpenCV's default frame threading)
    and which is faster depends on the machine and on its load at the time, so it is
    measured rather than assumed. Each candidate, in ``order``, serves until it has
    ``min_samples`` counted jumps; then ``prefer`` serves unless another's median cost
    (over its last ``window``) is lower by ``margin`` (a fraction): then the cheapest.
    ``explore_every`` jumps on, another serves a burst until it has ``min_samples``
    more, so a change of load is noticed; a burst that changes nothing doubles the
    interval (up to 8 times), one that does resets it.

    A decoder is slower than it will be for its first ``warmup[k]`` jumps (memory,
    file cache) and for the first ``settle[k]`` jumps after another one served: a
    frame-threaded decoder's threads wake on cores that went idle, for about a dozen
    jumps on a virtual machine. Those jumps are not counted, or such a decoder would
    look slower than it is when it serves.

    Parameters
    ----------
    n : int
        Number of candidates.
    warmup, settle : sequence of int
        Per candidate (default 1 each).
    order : sequence of int
        Default ``0 .. n - 1``.
    window, min_samples, explore_every, prefer, margin
        See above.
    """

    def __init__(self, n: int = 2, *, warmup: Sequence[int] | None = None,
                 settle: Sequence[int] | None = None, order: Sequence[int] | None = None,
                 prefer: int = 0, margin: float = 0.03, window: int = 9,
                 min_samples: int = 3, explore_every: int = 128) -> None:
        self.samples: list[list[float]] = [[] for _ in range(n)]
        self.warmup = list(warmup) if warmup is not None else [1] * n
        self.settle = list(settle) if settle is not None else [1] * n
        self.order = list(order) if order is not None else list(range(n))
        self.prefer, self.margin, self.window = prefer, margin, window
        self.min_samples, self.explore_every = min_samples, explore_every
        self.jumps = 0
        self.served = [0] * n  # jumps each candidate has served
        self.serving = prefer  # the candidate serving between bursts
        self.current = self.order[0]  # the candidate of the last jump
        self.run = 0  # jumps in a row it has served
        self.trial = 0  # counted jumps still wanted from the candidate in a burst
        self.interval = explore_every  # jumps from one burst to the next
        self.next_burst = explore_every  # jump number of the next burst

    def estimate(self, k: int) -> float | None:
        """Median seconds per decoded frame of candidate ``k`` (None before any)."""
        s = sorted(self.samples[k])  # a few values: far cheaper than np.median
        return None if not s else (s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2

    def best(self) -> int:
        """``prefer``, unless another is cheaper by ``margin``: then the cheapest."""
        known = [(e, k) for k in range(len(self.samples))
                 if (e := self.estimate(k)) is not None]
        mine = self.estimate(self.prefer)
        if not known or (mine is not None and min(known)[0] >= mine * (1 - self.margin)):
            return self.prefer
        return min(known)[1]

    def pick(self) -> int:
        """The candidate to serve the next cold jump."""
        self.jumps += 1
        k = self._next()
        self.run = self.run + 1 if k == self.current else 1
        self.current = k
        self.served[k] += 1
        return k

    def counts(self, k: int) -> bool:
        """Whether the jump candidate ``k`` is about to serve (just picked) counts."""
        return self.served[k] > self.warmup[k] and not (
            k == self.current and self.run <= self.settle[k])

    def _next(self) -> int:
        for k in self.order:
            if len(self.samples[k]) < self.min_samples:
                return k
        if self.trial > 0:
            return self.current
        self.serving = self.best()
        if self.jumps >= self.next_burst:
            self.trial = self.min_samples
            return (self.serving + 1) % len(self.samples)
        return self.serving

    def record(self, k: int, seconds: float, frames: int) -> None:
        """Candidate ``k`` took ``seconds`` for a jump that decoded ``frames`` frames;
        not counted while it warms up or settles in (see above)."""
        if not self.counts(k):
            return
        s = self.samples[k]
        s.append(seconds / max(1, frames))
        del s[:-self.window]
        if self.trial > 0 and k == self.current:
            self.trial -= 1
            if self.trial == 0:  # the burst is over: did it change anything?
                same = self.best() == self.serving
                self.interval = (min(2 * self.interval, 8 * self.explore_every) if same
                                 else self.explore_every)
                self.next_burst = self.jumps + self.interval
