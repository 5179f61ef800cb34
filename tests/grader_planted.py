"""Planted wrong answers, graded: how many does ``dmf-edu check`` catch?

Run from the checkout's root::

    OPENBLAS_NUM_THREADS=1 python tests/grader_planted.py                 # this checkout's grader
    OPENBLAS_NUM_THREADS=1 python tests/grader_planted.py --root OLD_TREE # another tree's (e.g. main)

Each planted answer is written to its own file and graded by the grader of the package found in
``--root`` (imported in a subprocess, so two versions can be compared).  A plant is *caught* when
its exercise does not pass (or, for the plants marked ``mutates``, when a warning says the answer
modifies its inputs).  Not a test: it prints a table and the count, and exits 0.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HEAD = "import functools\nimport numpy as np\nimport dmf_edu as d\n"
SVD = "s = np.linalg.svd(W, compute_uv=False)\n"
ERANK = "p = s / s.sum()\n    p = p[p > {cut}]\n    return float(np.exp(-np.sum(p * np.log(p))))\n"

PLANTS = [  # (label, exercise, body, kind)
    ("E1 sign flipped", "layer_gradients", "def layer_gradients(ws, G):\n    return [-g for g in d.layer_gradients.__wrapped__(ws, G)] if hasattr(d.layer_gradients, '__wrapped__') else [-g for g in d.layer_gradients(ws, G)]\n", ""),
    ("E1 no transposes", "layer_gradients", "def layer_gradients(ws, G):\n    out = []\n    for j in range(len(ws)):\n        a = np.eye(ws[j].shape[0])\n        for w in ws[j+1:]: a = w @ a\n        b = np.eye(ws[0].shape[1])\n        for w in ws[:j]: b = w @ b\n        out.append(a @ G @ b if a.shape[1] == G.shape[0] and G.shape[1] == b.shape[0] else a.T @ G @ b.T * 1.0001)\n    return out\n", ""),
    ("E1 reversed list", "layer_gradients", "from dmf_edu.course.exercises import solution_layer_gradients as s\ndef layer_gradients(ws, G):\n    return [g.copy() for g in s.__code__ and []] or list(reversed([np.array(g) for g in _r(ws, G)]))\ndef _r(ws, G):\n    out = []\n    for j in range(len(ws)):\n        a = np.eye(ws[j].shape[0])\n        for w in ws[j+1:]: a = w @ a\n        b = np.eye(ws[0].shape[1])\n        for w in ws[:j]: b = w @ b\n        out.append(a.T @ G @ b.T)\n    return out\n", ""),
    ("E1 one layer doubled", "layer_gradients", "def layer_gradients(ws, G):\n    out = []\n    for j in range(len(ws)):\n        a = np.eye(ws[j].shape[0])\n        for w in ws[j+1:]: a = w @ a\n        b = np.eye(ws[0].shape[1])\n        for w in ws[:j]: b = w @ b\n        out.append((2.0 if j == 1 else 1.0) * a.T @ G @ b.T)\n    return out\n", ""),
    ("E1 missing return", "layer_gradients", "def layer_gradients(ws, G):\n    out = [np.zeros_like(w) for w in ws]\n", ""),
    ("E1 wrapper def", "layer_gradients", "def layer_gradients(ws, G):\n    return d.layer_gradients(ws, G)\n", ""),
    ("E1 functools.partial", "layer_gradients", "layer_gradients = functools.partial(d.layer_gradients)\n", ""),
    ("E1 lambda on the reference", "layer_gradients", "from dmf_edu.course import checking\nlayer_gradients = lambda ws, G: checking.reference('layer_gradients')(ws, G)\n", ""),
    ("erank drops p < 0.08", "effective_rank", "def effective_rank(W):\n    " + SVD + "    " + ERANK.format(cut=0.08), ""),
    ("erank drops p < 0.02", "effective_rank", "def effective_rank(W):\n    " + SVD + "    " + ERANK.format(cut=0.02), ""),
    ("erank |eigenvalues| if square", "effective_rank", "def effective_rank(W):\n    s = np.abs(np.linalg.eigvals(W)) if W.shape[0] == W.shape[1] else np.linalg.svd(W, compute_uv=False)\n    " + ERANK.format(cut=0), ""),
    ("erank = stable rank", "effective_rank", "def effective_rank(W):\n    " + SVD + "    return float(np.sum(s**2) / s[0]**2)\n", ""),
    ("erank without exp", "effective_rank", "def effective_rank(W):\n    " + SVD + "    p = s / s.sum(); p = p[p > 0]\n    return float(-np.sum(p * np.log(p)))\n", ""),
    ("erank log2", "effective_rank", "def effective_rank(W):\n    " + SVD + "    p = s / s.sum(); p = p[p > 0]\n    return float(np.exp(-np.sum(p * np.log2(p))))\n", ""),
    ("erank functools.partial", "effective_rank", "effective_rank = functools.partial(d.effective_rank)\n", ""),
    ("erank + tampering with the checker", "effective_rank", "import dmf_edu.course.exercises as ex, dmf_edu.course.checking as c\nfor m in (ex, c):\n    m.check = lambda name, fn, *a, **k: c.Report(name, True, 'passed', 'all good') if 'status' in c.Report.__dataclass_fields__ else c.Report(name, True, 'all good')\ndef effective_rank(W):\n    return 1.0\n", ""),
    ("E3 0^0 = 0", "end_to_end_operator", "def _p(S, q):\n    lam, Q = np.linalg.eigh(S); lam = np.where(lam > 1e-12 * lam.max(), lam, 0.0)\n    return (Q * np.where(lam > 0, lam, 0.0) ** q) @ Q.T if q > 0 else (Q[:, lam > 0] @ Q[:, lam > 0].T)\ndef end_to_end_operator(W, Z, N):\n    return sum(_p(W @ W.T, (N - j) / N) @ Z @ _p(W.T @ W, (j - 1) / N) for j in range(1, N + 1))\n", ""),
    ("E3 exponents shifted", "end_to_end_operator", "def _p(S, q):\n    lam, Q = np.linalg.eigh(S); lam = np.where(lam > 1e-12 * lam.max(), lam, 0.0)\n    return (Q * lam ** q) @ Q.T\ndef end_to_end_operator(W, Z, N):\n    return sum(_p(W @ W.T, (N - j) / N) @ Z @ _p(W.T @ W, j / N) for j in range(1, N + 1))\n", ""),
    ("E3 missing return", "end_to_end_operator", "def end_to_end_operator(W, Z, N):\n    out = W @ W.T @ Z\n", ""),
    ("E3 clipped eigh (rounding)", "end_to_end_operator", "def _p(S, q):\n    lam, Q = np.linalg.eigh(S); lam = np.clip(lam, 0, None)\n    return (Q * lam ** q) @ Q.T\ndef end_to_end_operator(W, Z, N):\n    return sum(_p(W @ W.T, (N - j) / N) @ Z @ _p(W.T @ W, (j - 1) / N) for j in range(1, N + 1))\n", ""),
    ("E6 ascending order", "singular_value_velocity", "def singular_value_velocity(W, G, N):\n    U, s, Vt = np.linalg.svd(W, full_matrices=False)\n    v = -N * (s**2) ** (1 - 1/N) * np.einsum('ir,ij,rj->r', U, G, Vt)\n    return v[::-1]\n", ""),
    ("E6 sigma not squared", "singular_value_velocity", "def singular_value_velocity(W, G, N):\n    U, s, Vt = np.linalg.svd(W, full_matrices=False)\n    return -N * s ** (1 - 1/N) * np.einsum('ir,ij,rj->r', U, G, Vt)\n", ""),
    ("E6 factor N missing", "singular_value_velocity", "def singular_value_velocity(W, G, N):\n    U, s, Vt = np.linalg.svd(W, full_matrices=False)\n    return -(s**2) ** (1 - 1/N) * np.einsum('ir,ij,rj->r', U, G, Vt)\n", ""),
    ("E4 closed form", "depth_multiplier", "def depth_multiplier(x, y, N):\n    with np.errstate(all='ignore'):\n        return (x**2 - y**2) / (x**(2/N) - y**(2/N))\n", ""),
    ("E4 0^0 = 0", "depth_multiplier", "def depth_multiplier(x, y, N):\n    pw = lambda a, q: np.where(a > 0, np.abs(a) ** q, 0.0)\n    return sum(pw(x, 2*(N-p)/N) * pw(y, 2*(p-1)/N) for p in range(1, N + 1))\n", ""),
    ("held-out sum", "heldout_error", "def heldout_error(W, M, m):\n    return float(np.sum((W - M)[m] ** 2))\n", ""),
    ("held-out RMSE", "heldout_error", "def heldout_error(W, M, m):\n    return float(np.sqrt(np.mean((W - M)[m] ** 2)))\n", ""),
    ("held-out over all entries", "heldout_error", "def heldout_error(W, M, m):\n    return float(np.nanmean((W - M) ** 2))\n", ""),
    ("held-out right but overwrites W", "heldout_error", "def heldout_error(W, M, m):\n    W -= M\n    return float(np.mean(W[m] ** 2))\n", "mutates"),
    ("E12 no 1/p root", "completion_schatten_norm", "def completion_schatten_norm(w, p):\n    w = np.abs(np.asarray(w, float)); r = np.sqrt(w**2 + 4); s1 = (r + w) / 2; s2 = 1 / s1\n    return s1 if p == np.inf else s1**p + s2**p\n", ""),
    ("E17 Gauss-Newton only", "hessian_vector_product", "from dmf_edu.course.exercises import _gauss_newton_part as hessian_vector_product\n", ""),
    ("E17 wrapper", "hessian_vector_product", "from dmf_edu.landscape import hessian_vector_product as h\ndef hessian_vector_product(problem, ws, V):\n    return h(problem, ws, V)\n", ""),
]

RUNNER = r"""
import json, sys
from dmf_edu.course import grader
out = {}
for path, name in json.loads(sys.argv[1]):
    res = grader.grade(path, timeout=20.0)
    rows = res["rows"] if isinstance(res, dict) else res
    row = next((r for r in rows if r.get("name") == name), None)
    ok = bool(row and row.get("success", row.get("passed")))
    out[path] = dict(passed=ok, warned=bool(row and row.get("warnings")),
                     status=(row or {}).get("status", res.get("status") if isinstance(res, dict) else "file"),
                     message=((row or {}).get("message") or "")[:90])
print(json.dumps(out))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1]),
                        help="the tree whose dmf_edu grades (default: this checkout)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for k, (label, name, body, kind) in enumerate(PLANTS):
            path = Path(tmp) / f"plant{k:02d}.py"
            path.write_text(HEAD + textwrap.dedent(body), encoding="utf-8")
            jobs.append((str(path), name))
        env = dict(os.environ, PYTHONPATH=args.root, PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
        proc = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(jobs)], capture_output=True, text=True,
                              env=env, cwd=tmp, check=True)
        verdicts = json.loads(proc.stdout.strip().splitlines()[-1])
    caught = 0
    for (label, name, body, kind), (path, _) in zip(PLANTS, jobs):
        v = verdicts[path]
        hit = v["warned"] if kind == "mutates" else not v["passed"]
        caught += hit
        print(f"{'caught' if hit else 'MISSED':<7} {label:<36} {v['status']:<10} {v['message']}")
    print(f"\n{caught} of {len(PLANTS)} planted wrong answers caught ({args.root})")


if __name__ == "__main__":
    main()
