"""Sequence tasks for online learning, generated on the fly (nothing downloads).

Every task has ``n_input``, ``n_output``, a ``dependency`` (the longest lag, in steps, between an
input and a target that needs it) and ``sample(batch_size, seed) -> (x, y)`` with ``x`` of shape
``(T, B, n_input)`` (one-hot floats) and ``y`` of shape ``(T, B)`` (class indices, ``-100`` where a
step is not scored), the layout :meth:`~neurolatent.methods.rtrl.OnlineLearner.step` consumes one
step at a time.

* :class:`CopyTask`: copy / delayed recall (Hochreiter & Schmidhuber 1997; Mujika et al. 2018);
* :class:`StringMemorisation`: next-character prediction on a repeated string whose ambiguity
  needs a context longer than a truncation horizon;
* :class:`ReberGrammar`: the (embedded) Reber grammar, a generated character-level language
  (Reber 1967; Hochreiter & Schmidhuber 1997).
"""
from __future__ import annotations

import torch

from ..._utils import make_generator, resolve_device

__all__ = ["SequenceTask", "CopyTask", "StringMemorisation", "ReberGrammar"]

IGNORE = -100


class SequenceTask:
    """Base class: subclasses set ``n_input``, ``n_output``, ``dependency`` and implement ``_sample``.

    Parameters
    ----------
    device, dtype :
        Where and in which float type ``x`` is returned (default CPU, float32).
    """

    n_input: int
    n_output: int
    dependency: int

    def __init__(self, *, device: str | torch.device | None = None, dtype: torch.dtype = torch.float32):
        self.device, self.dtype = resolve_device(device), dtype

    def sample(self, batch_size: int, seed: int | None = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch of sequences ``(x (T, B, n_input), y (T, B))``, seeded."""
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        x, y = self._sample(int(batch_size), make_generator(seed))
        return x.to(self.device, self.dtype), y.to(self.device)

    def _sample(self, batch_size: int, gen: torch.Generator):
        raise NotImplementedError

    def __repr__(self) -> str:
        keys = {k: v for k, v in vars(self).items() if k not in ("device", "dtype") and not k.startswith("_")}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in keys.items())})"


def _check_int(owner: str, name: str, value, low: int) -> int:
    if int(value) != value or value < low:
        raise ValueError(f"{owner}: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


class CopyTask(SequenceTask):
    """Copy / delayed recall: see ``length`` random symbols, wait ``delay`` blank steps, recall them.

    Inputs have ``n_symbols + 1`` channels: one per symbol and a recall cue. The sequence is
    ``length`` symbol steps, ``delay`` blank steps, then ``length`` cue steps whose targets are the
    symbols in order (``T = 2 length + delay``); ``length = 1`` is delayed recall. Every recalled
    symbol lies ``length + delay`` steps before its target (``dependency``). With
    ``distractors=True`` the delay steps show random symbols (on their own channels) that must be
    ignored, so a random network cannot keep the answer without learning to.

    Examples
    --------
    >>> x, y = CopyTask(n_symbols=3, length=2, delay=4).sample(5, seed=0)
    >>> tuple(x.shape), tuple(y.shape)
    ((8, 5, 4), (8, 5))
    """

    def __init__(self, n_symbols: int = 4, length: int = 1, delay: int = 4, distractors: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.distractors = bool(distractors)
        self.n_symbols = _check_int("CopyTask", "n_symbols", n_symbols, 2)
        self.length = _check_int("CopyTask", "length", length, 1)
        self.delay = _check_int("CopyTask", "delay", delay, 0)
        self.n_input = (2 if self.distractors else 1) * self.n_symbols + 1
        self.n_output = self.n_symbols
        self.dependency = self.length + self.delay

    def _sample(self, B, gen):
        L, D, K = self.length, self.delay, self.n_symbols
        T = 2 * L + D
        symbols = torch.randint(0, K, (L, B), generator=gen)
        x = torch.zeros(T, B, self.n_input)
        x[torch.arange(L)[:, None], torch.arange(B)[None, :], symbols] = 1.0
        x[L + D :, :, K] = 1.0
        if self.distractors and D > 0:
            noise = torch.randint(0, K, (D, B), generator=gen)
            x[L + torch.arange(D)[:, None], torch.arange(B)[None, :], K + 1 + noise] = 1.0
        y = torch.full((T, B), IGNORE, dtype=torch.long)
        y[L + D :] = symbols
        return x, y


class StringMemorisation(SequenceTask):
    """Predict the next character of a string repeated forever, starting at a random phase.

    The default string, ``"a" + "x" * gap + "b" + "x" * gap``, is ambiguous after a run of ``x``:
    what follows the run is ``b`` if the run began after ``a`` and ``a`` if it began after ``b``,
    so the prediction needs the character ``gap`` steps back. For any string, ``context_length`` is
    the number of most recent characters that determines the next one and ``dependency =
    context_length - 1``. Steps before one full context has been seen are not scored.

    Parameters
    ----------
    string : str or None
        The string to memorise (at least two distinct characters); default from ``gap``.
    gap : int
        Run length of the default string.
    length : int
        Steps per sampled sequence (default: two periods plus the dependency).

    Examples
    --------
    >>> task = StringMemorisation(gap=3)
    >>> task.string, task.context_length, task.dependency
    ('axxxbxxx', 4, 3)
    """

    def __init__(self, string: str | None = None, *, gap: int = 4, length: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if string is None:
            gap = _check_int("StringMemorisation", "gap", gap, 1)
            string = "a" + "x" * gap + "b" + "x" * gap
        if not isinstance(string, str) or len(set(string)) < 2:
            raise ValueError(f"StringMemorisation: string must be a str with at least two distinct characters, "
                             f"got {string!r}")
        self.string = string
        self.alphabet = sorted(set(string))
        self.n_input = self.n_output = len(self.alphabet)
        self.context_length = self._context_length(string)
        self.dependency = self.context_length - 1
        self.length = _check_int("StringMemorisation", "length", length, 2) if length is not None else \
            2 * len(string) + self.context_length

    @staticmethod
    def _context_length(s: str) -> int:
        P = len(s)
        for k in range(1, P + 1):
            seen: dict[str, str] = {}
            ok = True
            for i in range(P):
                ctx = "".join(s[(i - j) % P] for j in range(k - 1, -1, -1))
                nxt = s[(i + 1) % P]
                if seen.setdefault(ctx, nxt) != nxt:
                    ok = False
                    break
            if ok:
                return k
        return P  # unreachable: the whole period as context always determines the next character

    def _sample(self, B, gen):
        P, T = len(self.string), self.length
        codes = torch.tensor([self.alphabet.index(c) for c in self.string])
        phase = torch.randint(0, P, (B,), generator=gen)
        idx = (phase[None, :] + torch.arange(T + 1)[:, None]) % P
        chars = codes[idx]
        x = torch.nn.functional.one_hot(chars[:-1], self.n_input).float()
        y = chars[1:].clone()
        y[: self.context_length - 1] = IGNORE
        return x, y


_REBER = {  # state -> [(symbol, next state)]; state 5 is the end (Reber 1967)
    0: [("T", 1), ("P", 2)],
    1: [("S", 1), ("X", 3)],
    2: [("T", 2), ("V", 4)],
    3: [("X", 2), ("S", 5)],
    4: [("P", 3), ("V", 5)],
}
_REBER_SYMBOLS = "BTPSXVE"


class ReberGrammar(SequenceTask):
    """Next-symbol prediction on strings of the (embedded) Reber grammar.

    A Reber string is ``B``, a walk of the 5-state Reber automaton, ``E``. The embedded grammar
    wraps it as ``B T <reber> T E`` or ``B P <reber> P E``: the second-to-last symbol repeats the
    second, across the whole inner string (``dependency`` = the longest such gap within
    ``max_length``). Sequences are padded to the batch's longest string with zero inputs and
    unscored targets.

    Parameters
    ----------
    embedded : bool
        Embedded grammar (the long-dependency version) or the plain one.
    max_length : int
        Strings longer than this are redrawn.

    Examples
    --------
    >>> x, y = ReberGrammar(max_length=20).sample(4, seed=0)
    >>> x.shape[1:], int((y != -100).sum(0).min()) >= 8
    (torch.Size([4, 7]), True)
    """

    n_input = n_output = len(_REBER_SYMBOLS)

    def __init__(self, embedded: bool = True, max_length: int = 24, **kwargs):
        super().__init__(**kwargs)
        self.embedded = bool(embedded)
        self.max_length = _check_int("ReberGrammar", "max_length", max_length, 11 if embedded else 6)
        # s[1], input at t = 1, decides the target s[L-2] at t = L-3
        self.dependency = self.max_length - 4 if self.embedded else 1

    def string(self, gen: torch.Generator) -> str:
        """One grammatical string (redrawn until at most ``max_length`` symbols)."""
        while True:
            state, inner = 0, "B"
            while state != 5:
                sym, state = _REBER[state][int(torch.randint(0, len(_REBER[state]), (), generator=gen))]
                inner += sym
            inner += "E"
            if self.embedded:
                branch = "TP"[int(torch.randint(0, 2, (), generator=gen))]
                inner = "B" + branch + inner + branch + "E"
            if len(inner) <= self.max_length:
                return inner

    def _sample(self, B, gen):
        strings = [self.string(gen) for _ in range(B)]
        T = max(len(s) for s in strings) - 1
        x = torch.zeros(T, B, self.n_input)
        y = torch.full((T, B), IGNORE, dtype=torch.long)
        for b, s in enumerate(strings):
            codes = torch.tensor([_REBER_SYMBOLS.index(c) for c in s])
            x[torch.arange(len(s) - 1), b, codes[:-1]] = 1.0
            y[: len(s) - 1, b] = codes[1:]
        return x, y
