"""Result objects print a one-screen summary (status, objective or loss, steps, shapes), never
array contents: each repr below is built around large arrays filled with a sentinel value that
must not appear in it."""

import numpy as np

from dmf_edu.baselines.schatten import GreedyResult
from dmf_edu.course.checking import Report
from dmf_edu.baselines.nuclear_norm import BaselineResult
from dmf_edu.proofs.runner import PageResult
from dmf_edu.training.run import Run
from dmf_edu.proofs.symbolic import Page, Proof

SENTINEL = 7.654321
BIG = np.full((300, 200), SENTINEL)


def _short(text, *must_contain):
    assert len(text) < 400, f"repr is {len(text)} characters long: {text[:200]}..."
    assert "7.654" not in text, f"array contents leak into the repr: {text}"
    for word in must_contain:
        assert word in text, f"{word!r} missing from {text}"


def test_run_repr_is_a_summary():
    run = Run(weights=[BIG.copy(), BIG.T.copy()], history={"loss": np.full(5000, 0.25), "step": np.arange(5000)},
              nit=np.array([4999]), success=np.array([False]), optimizer="gd", lr=0.1,
              state={"s": BIG}, last_weights=[BIG, BIG.T])
    _short(repr(run), "status='max_steps'", "0.25", "300x200", "200x300", "nit=4999")


def test_run_repr_with_trials():
    run = Run(weights=[np.full((3, 300, 200), SENTINEL)], history={"loss": np.full((10, 3), 0.5)},
              nit=np.array([9, 9, 9]), success=np.array([True, False, True]), optimizer="adaptive", lr=1e-3)
    _short(repr(run), "2/3", "3 trials")


def test_baseline_result_repr_hides_solver_state():
    res = BaselineResult(X=BIG, objective=12.5, violation=1e-9, status="optimal", nit=321,
                         dual=np.full(5000, SENTINEL), dual_objective=12.4, gap=0.1,
                         history={"gap": np.full(321, SENTINEL)}, state={"Z": BIG, "U1": BIG, "U2": BIG})
    _short(repr(res), "optimal", "12.5", "nit=321", "300x200")


def test_greedy_result_repr():
    res = GreedyResult(X=BIG, weights=[BIG[:4].T.copy(), BIG[:, :4]], rank=4, losses=np.array([SENTINEL, 0.5]),
                       steps=np.array([100, 200, 300, 400]), gradient_norms=np.full(5, SENTINEL), status="loss_tol")
    _short(repr(res), "loss_tol", "rank=4", "nit=1000", "0.5", "300x200")


def test_report_repr_lists_detail_names_not_values():
    rep = Report(name="e1_end_to_end", success=False, status="failed", message="wrong product order " * 40,
                 details={"cases": [BIG, BIG], "errors": np.full(1000, SENTINEL)})
    _short(repr(rep), "e1_end_to_end", "False", "cases", "errors")


def test_page_result_and_proof_reprs():
    page = Page(label="E99", title="t", statement="s", method="sympy", steps={"S1": "a", "T1": "b"})
    proof = Proof(page, rng=0)
    proof.close("T1", BIG, BIG)
    _short(repr(proof), "E99", "1/2")
    res = PageResult(label="E99", title="t", claim="s", method="sympy", success=False, status="failed",
                     message=f"entry {SENTINEL} " * 100, wall_time=1.5, sizes="3x3", seed=0, quick=True,
                     failure="disproved",
                     steps=[{"step": "S1"}] * 50, planted=[{"ok": True}, {"ok": False}])
    text = repr(res)
    assert len(text) < 400 and "failed" in text and "1/2 rejected" in text and "steps=50" in text

