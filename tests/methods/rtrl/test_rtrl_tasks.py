"""The generated tasks: shapes, the dependency each claims, and the grammar's rules."""
from __future__ import annotations

import pytest
import torch

from neurolatent.methods.rtrl import CopyTask, ReberGrammar, StringMemorisation, TanhCell, evaluate_sequences


def test_copy_task_targets_are_the_shown_symbols():
    task = CopyTask(n_symbols=3, length=2, delay=4, distractors=True)
    x, y = task.sample(50, seed=0)
    assert x.shape == (8, 50, 7) and y.shape == (8, 50) and task.dependency == 6
    shown = x[:2, :, :3].argmax(-1)  # the symbols on the first two steps
    torch.testing.assert_close(y[6:], shown)
    assert (y[:6] == -100).all()
    assert (x[2:6, :, 4:].sum(-1) == 1).all() and (x[2:6, :, :4] == 0).all()  # distractors on their channels
    assert (x[6:, :, 3] == 1).all()  # the recall cue
    x2, _ = task.sample(50, seed=0)
    assert torch.equal(x, x2)  # seeded


def test_string_memorisation_dependency_is_the_shortest_context():
    task = StringMemorisation(gap=5)
    assert task.string == "axxxxxbxxxxx" and task.context_length == 6 and task.dependency == 5
    assert StringMemorisation("abc").context_length == 1
    assert StringMemorisation("aab").context_length == 2
    x, y = task.sample(20, seed=1)
    chars = x.argmax(-1)
    assert torch.equal(y[task.context_length - 1 : -1], chars[task.context_length :])  # next character
    assert (y[: task.context_length - 1] == -100).all()
    # every scored target is determined by the last `context_length` inputs: a lookup table is exact
    table = {}
    for t in range(task.context_length - 1, x.shape[0]):
        for b in range(20):
            ctx = tuple(chars[t - task.context_length + 1 : t + 1, b].tolist())
            assert table.setdefault(ctx, int(y[t, b])) == int(y[t, b])
    with pytest.raises(ValueError, match="two distinct"):
        StringMemorisation("aaaa")


def test_reber_strings_are_grammatical():
    task = ReberGrammar(embedded=True, max_length=30)
    gen = torch.Generator().manual_seed(0)
    allowed = {"B": "TP", "T": "SX", "P": "TV", "S": "SX", "X": "XS", "V": "PV"}
    for _ in range(200):
        s = task.string(gen)
        assert s[0] == "B" and s[-1] == "E" and s[1] == s[-2] and s[1] in "TP" and len(s) <= 30
        inner = s[2:-2]
        assert inner[0] == "B" and inner[-1] == "E"
        # the inner string is accepted by the Reber automaton (Reber 1967)
        state = 0
        edges = {0: {"T": 1, "P": 2}, 1: {"S": 1, "X": 3}, 2: {"T": 2, "V": 4}, 3: {"X": 2, "S": 5}, 4: {"P": 3, "V": 5}}
        for c in inner[1:-1]:
            state = edges[state][c]
        assert state == 5
    x, y = task.sample(8, seed=0)
    assert x.shape[1:] == (8, 7) and ((y == -100) | (y >= 0)).all()
    # the long dependency: the target at t = L - 3 repeats the input at t = 1, a lag of L - 4 <= dependency
    for b in range(8):
        L = int((y[:, b] != -100).sum()) + 1
        assert int(y[L - 3, b]) == int(x[1, b].argmax()) and L - 4 <= task.dependency


def test_evaluate_sequences_and_bad_sizes():
    task = CopyTask(delay=2)
    x, y = task.sample(16, seed=0)
    loss, acc = evaluate_sequences(TanhCell(task.n_input, 8), torch.nn.Linear(8, task.n_output), x, y)
    assert 0.0 <= acc <= 1.0 and loss > 0
    with pytest.raises(ValueError, match="batch_size"):
        task.sample(0)
    with pytest.raises(ValueError, match="delay"):
        CopyTask(delay=-1)
