"""Tests of dmf_edu.symbolic and proofs/: every claim proved, every planted wrong variant rejected.

The quick run of all claims (with their planted variants) is shared by a module fixture;
full sizes are exercised for the cheap-but-largest cases (E1 depth 4, E3 N = 4).
"""

import importlib.util
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from dmf_edu import symbolic as S

ROOT = pathlib.Path(__file__).resolve().parents[1]
LABELS = list(S.CLAIMS)


@pytest.fixture(scope="module")
def quick_results():
    return {r.label: r for r in S.prove_all(quick=True, rng=2024)}


def test_registry_covers_the_issue_claims():
    assert {"E1", "E2", "E3", "E4", "E6", "E10", "E12"} <= set(LABELS)
    for claim in S.CLAIMS.values():
        assert claim.planted, f"{claim.label} has no planted wrong variant"


@pytest.mark.parametrize("label", LABELS)
def test_claim_proved_quick(quick_results, label):
    res = quick_results[label]
    assert res.status == "proved", res.detail
    assert res.sizes and res.seconds > 0
    assert res.tie_in and not any(t.startswith("skipped") for t in res.tie_in), res.tie_in


@pytest.mark.parametrize("label", LABELS)
def test_planted_variants_rejected_by_value(quick_results, label):
    """Each planted wrong variant is *disproved* (a nonzero residual or a library mismatch),
    not merely crashing."""
    planted = quick_results[label].planted
    assert len(planted) == len(S.CLAIMS[label].planted)
    for p in planted:
        assert p["status"] == "failed" and p["failure"] == "disproved", p


def test_e01_layer_gradients_full_sizes_depth_4():
    res = S.run_claim("E1", quick=False, rng=1)
    assert res.status == "proved", res.detail
    assert "N=4" in res.sizes


def test_e03_end_to_end_dynamics_full_N4():
    res = S.run_claim("E3", quick=False, rng=1)
    assert res.status == "proved", res.detail
    assert "N=4" in res.sizes


def test_e01_library_bug_makes_the_proof_fail():
    """A bug injected into the numeric layer_gradients (a transpose dropped on the square
    case) fails E1 through the tie-in, although the mathematics is right."""
    from dmf_edu import layer_gradients

    def buggy(weights, G):
        grads = layer_gradients(weights, G)
        return [g.T if g.shape[0] == g.shape[1] else g for g in grads]

    with pytest.raises(S.Disproved, match="layer_gradients"):
        S.get_claim("E1").check(quick=True, rng=0, library=buggy)


def test_e06_library_bug_makes_the_proof_fail():
    from dmf_edu.dynamics import singular_value_velocity

    with pytest.raises(S.Disproved, match="singular_value_velocity"):
        S.get_claim("E6").check(quick=True, rng=0,
                                library=lambda W, G, N: singular_value_velocity(W, G.T, N))


def test_missing_library_function_skips_tie_in_with_reason(monkeypatch):
    monkeypatch.setattr(S, "_library", lambda module, name: None)
    report = S.get_claim("E12").check(quick=True, rng=0)
    assert report["tie_in"] == ["skipped: dmf_edu.metrics.schatten_norm is not available"]
    assert S.run_claim("E12", variant="library bug: Schatten-p without the 1/p power").status == "skipped"


def test_require_zero_exact_and_witness():
    x, y = sp.symbols("x y", real=True)
    S.require_zero(sp.Matrix([(x + y) ** 2 - x ** 2 - 2 * x * y - y ** 2, 1 / (x + 1) - 1 / (1 + x)]), "ok")
    with pytest.raises(S.Disproved, match="rational point"):
        S.require_zero(sp.Matrix([(x + y) ** 2 - x ** 2 - y ** 2]), "binomial", point={x: 1, y: 2})
    with pytest.raises(S.Disproved, match="not identically zero"):
        S.require_zero(x * y * (x - y), "no point")          # zero on the diagonal, not everywhere


def test_random_rational_point_reproducible_distinct_and_positive():
    xs = sp.symbols("a b c d", real=True)
    pos = sp.Symbol("s", positive=True)
    p1 = S.random_rational_point([*xs, pos], rng=7)
    assert p1 == S.random_rational_point([*xs, pos], rng=7)
    assert len(set(p1.values())) == 5 and p1[pos] > 0
    assert all(isinstance(v, sp.Rational) for v in p1.values())


def test_layer_gradient_formula_product_order():
    """E1 formula on numbers-as-matrices: W = W_N ... W_1, so for N = 2 dphi/dW_1 = W_2^T G."""
    W1, W2 = sp.Matrix([[1], [2]]), sp.Matrix([[3, 5]])
    G = sp.Matrix([[7]])
    assert S.chain_product([W1, W2]) == W2 * W1
    g1, g2 = S.layer_gradient_formula([W1, W2], G)
    assert g1 == W2.T * G and g2 == G * W1.T


def test_run_claim_rejects_bad_label_and_variant():
    with pytest.raises(ValueError, match="label must be one of"):
        S.run_claim("E99")
    with pytest.raises(ValueError, match="variant must be one of"):
        S.run_claim("E1", variant="no such variant")


def test_prove_main_table_json_and_exit_code(quick_results, monkeypatch, capsys):
    results = list(quick_results.values())
    monkeypatch.setattr(S, "prove_all", lambda quick=False: results)
    assert S.prove_main() == 0
    table = capsys.readouterr().out
    for label in LABELS:
        assert f"\n{label} " in table
    assert "claims" in table and "0 failed" in table
    assert S.prove_main(json_output=True, quick=True) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["label"] for d in data] == LABELS
    for d in data:
        assert {"label", "claim", "status", "method", "seconds"} <= set(d)
        assert d["status"] in ("proved", "failed") and isinstance(d["seconds"], float)
    broken = [S.ClaimResult(**{**r.to_dict(), "status": "failed", "detail": "planted"}) for r in results[:1]]
    monkeypatch.setattr(S, "prove_all", lambda quick=False: broken + results[1:])
    assert S.prove_main() == 1
    assert "FAILED: planted" in capsys.readouterr().out


def test_import_dmf_edu_does_not_import_sympy():
    out = subprocess.run([sys.executable, "-c", "import sys, dmf_edu; print('sympy' in sys.modules)"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _load_page(path):
    spec = importlib.util.spec_from_file_location(f"proof_page_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("label", LABELS)
def test_proof_page_is_a_textbook_page(label, capsys):
    path = ROOT / f"proofs/{S.CLAIMS[label].key}.py"
    assert path.exists(), f"missing proof page {path}"
    page = _load_page(path)
    doc = page.__doc__
    assert doc.startswith(f"{label} ")
    for section in ("Statement", "Construction", "Check", "Commentary"):
        assert section in doc, f"{path.name} lacks a {section} section"
    page.worked_example()
    assert capsys.readouterr().out.strip()


def test_proof_page_runs_alone():
    path = ROOT / "proofs" / f"{S.CLAIMS['E12'].key}.py"
    out = subprocess.run([sys.executable, str(path), "--quick"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "1 claims, 1 proved, 0 failed" in out.stdout


def test_to_float_array_shape():
    assert np.array_equal(S.to_float_array(sp.Matrix([[sp.Rational(1, 2), 2]])), np.array([[0.5, 2.0]]))
