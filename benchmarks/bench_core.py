"""Core engine speed, as ratios measured in one run (one BLAS thread, float64).

    python benchmarks/bench_core.py

Times are CPU time of this process (``time.process_time``, best of several rounds): the machine
may be shared, and CPU time is less sensitive to other processes than wall time (caches and
memory bandwidth are still shared, so a loaded machine shows lower ratios).

1. Plain GD iteration, 100x100 completion, 2000 observations, depth 3:
   (a) versus an equivalent autograd-style loop (a small reverse-mode tape, written below);
   (b) versus np.matmul's GFLOP/s on the same 100x100 shapes.  A depth-N step needs
       3N - 3 = 6 products of 100x100 matrices (N - 1 forward, N - 1 backward, N - 2 + 1
       gradient products), 2e6 flops each.
2. Sensing iteration, 2000 Gaussian 100x100 measurements, depth 3: versus a direct einsum
   implementation measured here, and versus the reference code's ~450 ms (THEORY.md §8).
3. Completion loss+gradient, dense mask versus sparse observed entries, at 100x100 (20 %
   observed) and 2000x2000 (1 % observed): which path is faster where ("auto" picks).
4. Recording (issue 12): the default API (default record schedule, with a validation problem)
   against the hot loop alone (Stepper: forward, problem, update; no bookkeeping) at several
   max_steps; goal: at most 10 % overhead.  The hot loop against np.matmul's bound of its 6
   products (goal >= 0.85).
5. MovieLens-100K size on the sparse path: 943 x 1682, 100 000 observations, depth 3, hidden
   widths 100, one step (goal <= 15 ms), on synthetic data of that size; and its two sparse
   products with the gradient in CSC (the problem's layout) against CSR.  (Two BLAS threads do
   not help here: measured on the idle 2-core machine, 16-21 ms against 14-15 ms with one.)
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import time  # noqa: E402

import numpy as np  # noqa: E402

import dmf_edu as d  # noqa: E402


clock = time.process_time


def best_time(fn, repeat=5, number=None):
    """Best per-call CPU time over ``repeat`` rounds of ``number`` calls."""
    if number is None:
        t0 = clock()
        fn()
        number = max(1, int(0.2 / max(clock() - t0, 1e-6)))
    best = np.inf
    for _ in range(repeat):
        t0 = clock()
        for _ in range(number):
            fn()
        best = min(best, (clock() - t0) / number)
    return best


# ----------------------------------------------------------------- an autograd-style loop

class Node:
    """A value on a tape; ``backward`` walks the tape in reverse (generic reverse mode)."""

    def __init__(self, value, parents=(), grad_fns=()):
        self.value, self.parents, self.grad_fns, self.grad = value, parents, grad_fns, None

    def __matmul__(self, other):
        return Node(self.value @ other.value, (self, other),
                    (lambda g: g @ other.value.T, lambda g: self.value.T @ g))

    def __sub__(self, other):
        return Node(self.value - other.value, (self, other), (lambda g: g, lambda g: -g))

    def __mul__(self, other):
        return Node(self.value * other.value, (self, other),
                    (lambda g: g * other.value, lambda g: g * self.value))

    def mean_square(self, count):
        return Node(np.sum(self.value ** 2) / count, (self,), (lambda g: g * 2.0 * self.value / count,))

    def backward(self):
        order, seen = [], set()

        def visit(node):
            if id(node) not in seen:
                seen.add(id(node))
                for p in node.parents:
                    visit(p)
                order.append(node)

        visit(self)
        for node in order:
            node.grad = None
        self.grad = 1.0
        for node in reversed(order):
            for parent, fn in zip(node.parents, node.grad_fns):
                g = fn(node.grad)
                parent.grad = g if parent.grad is None else parent.grad + g


def autograd_step(weights, mask, target, count, lr):
    params = [Node(w) for w in weights]
    W = params[0]
    for p in params[1:]:
        W = p @ W
    loss = ((W - Node(target)) * Node(mask)).mean_square(count)
    loss.backward()
    for w, p in zip(weights, params):
        w -= lr * p.grad
    return loss.value


def main():
    rng = np.random.default_rng(0)
    M = d.random_low_rank(100, 100, 5, rng=rng)
    problem = d.sample_completion(M, 2000, rng=rng, reduction="mean")
    w0 = d.init_weights((100, 100), 3, 1e-3, rng=rng)

    # 1a. our loop vs autograd-style, same plain GD, same number of steps
    steps = 2000
    t0 = clock()
    run = d.gradient_descent(problem, w0, lr=0.1, max_steps=steps, record_steps=[])
    ours = (clock() - t0) / steps
    ws = [w.copy() for w in w0]
    mask = problem.observed_mask().astype(float)
    target = problem.target
    t0 = clock()
    for _ in range(steps):
        autograd_step(ws, mask, target, 2000, 0.1)
    theirs = (clock() - t0) / steps
    same = max(np.max(np.abs(a - b)) for a, b in zip(run.weights, ws))
    print("1. plain GD step, 100x100 completion, 2000 obs, depth 3, one thread")
    print(f"   dmf_edu loop          {ours * 1e3:7.3f} ms/step")
    print(f"   autograd-style loop   {theirs * 1e3:7.3f} ms/step   (same weights after {steps} steps: "
          f"max diff {same:.1e})")
    print(f"   ratio autograd/dmf_edu = {theirs / ours:.2f}x   (goal >= 2x)")

    # 1b. GFLOP/s against np.matmul on the same shapes
    A, B, C = (rng.standard_normal((100, 100)) for _ in range(3))
    t_mm = best_time(lambda: np.matmul(A, B, out=C))
    flops_mm = 2 * 100 ** 3
    flops_step = 6 * flops_mm
    print(f"   np.matmul 100x100     {flops_mm / t_mm / 1e9:7.2f} GFLOP/s")
    print(f"   dmf_edu step          {flops_step / ours / 1e9:7.2f} GFLOP/s (6 products per step)")
    print(f"   ratio = {(flops_step / ours) / (flops_mm / t_mm):.2f} of matmul's rate   (goal >= 0.5; "
          "the hot loop alone: section 4)")
    print(f"   both loops do the same 6 products, {6 * t_mm * 1e3:.3f} ms at matmul's rate: even a step with no "
          f"other cost would beat the autograd-style loop by at most {theirs / (6 * t_mm):.2f}x")
    print(f"   reference PyTorch code: ~1.2 ms/step -> {1.2e-3 / ours:.1f}x faster (reference not run here)")

    # 2. sensing iteration
    p_s = d.gaussian_sensing(M, 2000, rng=rng, reduction="mean")
    ws = [w.copy() for w in w0]
    t0 = clock()
    d.gradient_descent(p_s, ws, lr=1e-3, max_steps=20, record_steps=[])
    ours_s = (clock() - t0) / 20

    def einsum_step():
        W = ws[2] @ ws[1] @ ws[0]
        r = np.einsum("kij,ij->k", p_s.A, W) - p_s.y
        G = (2.0 / 2000) * np.einsum("k,kij->ij", r, p_s.A)
        return [(ws[2] @ ws[1]).T @ G, ws[2].T @ G @ ws[0].T, G @ (ws[1] @ ws[0]).T]

    t_ein = best_time(einsum_step, repeat=3)
    print("2. sensing step, 2000 Gaussian 100x100 measurements, depth 3")
    print(f"   dmf_edu {ours_s * 1e3:.1f} ms/step; direct einsum {t_ein * 1e3:.1f} ms/step "
          f"({t_ein / ours_s:.1f}x); reference ~450 ms -> {0.45 / ours_s:.0f}x faster (goal >= 10x)")

    # 3. completion loss+gradient, dense vs sparse
    print("3. completion loss+gradient: dense mask vs sparse observed entries")
    for (m, k) in ((100, 2000), (2000, 40_000)):
        Mbig = d.random_low_rank(m, m, 5, rng=rng)
        Wbig = Mbig + 0.01 * rng.standard_normal((m, m))
        times = {}
        for method in ("dense", "sparse"):
            pb = d.sample_completion(Mbig, k, rng=1, method=method)
            times[method] = best_time(lambda: pb.loss_and_gradient(Wbig), repeat=3)
        auto = d.sample_completion(Mbig, k, rng=1).method
        print(f"   {m}x{m}, {k} obs: dense {times['dense'] * 1e3:8.3f} ms, sparse {times['sparse'] * 1e3:8.3f} ms"
              f" -> faster: {min(times, key=times.get)}, auto picks: {auto}")


    recording()
    movielens_size()


def hot_loop(problem, weights, lr, steps):
    """The per-step work alone: forward, one problem call, backward + update (no bookkeeping)."""
    stepper = d.Stepper(weights, lr=lr)
    for _ in range(steps):
        stepper.apply(problem.loss_and_gradient(stepper.forward())[1])


def recording():
    rng = np.random.default_rng(1)
    M = d.random_low_rank(100, 100, 5, rng=rng)
    train, val = d.sample_completion(M, 2500, rng=rng, reduction="mean").split(500, rng=rng)
    w0 = d.init_weights((100, 100), 3, 1e-3, rng=rng)
    A, B, C = (rng.standard_normal((100, 100)) for _ in range(3))
    t_mm = best_time(lambda: np.matmul(A, B, out=C))
    print("4. recording and the hot loop: 100x100 completion, 2000 train obs, depth 3, plain GD, one thread")
    t_hot = best_time(lambda: hot_loop(train, w0, 0.1, 200), repeat=5, number=1) / 200
    print(f"   np.matmul bound of the 6 products {6 * t_mm * 1e3:.3f} ms; hot loop {t_hot * 1e3:.3f} ms/step "
          f"-> {6 * t_mm / t_hot:.2f} of the bound (goal >= 0.85)")
    for steps in (100, 400, 2000, 10_000):
        hot, full, runs = [], [], []
        for _ in range(12 if steps <= 400 else 3):      # interleaved rounds, best of each: load drifts
            t0 = clock()
            hot_loop(train, w0, 0.1, steps)
            hot.append(clock() - t0)
            t0 = clock()
            runs.append(d.gradient_descent(train, w0, lr=0.1, max_steps=steps, validation=val))
            full.append(clock() - t0)
        hot, full = min(hot), min(full)
        print(f"   max_steps {steps:6d}: default API {full / steps * 1e3:.3f} ms/step, hot loop {hot / steps * 1e3:.3f}"
              f" -> overhead {full / hot - 1:+6.1%} with {len(runs[-1].history['step'])} records "
              "incl. validation (goal <= +10 %)")


def movielens_size():
    rng = np.random.default_rng(2)
    m, n, K = 943, 1682, 100_000
    flat = np.sort(rng.choice(m * n, K, replace=False))
    rows, cols = np.divmod(flat, n)
    problem = d.MatrixCompletion((m, n), rows, cols, rng.integers(1, 6, K).astype(float), reduction="mean",
                                 method="sparse")
    w0 = d.init_weights((m, n), 3, 1e-3, width=100, rng=rng)
    stepper = d.Stepper(w0, lr=1e-3)

    def step():
        stepper.apply(problem.loss_and_gradient(stepper.forward())[1])

    t = best_time(step, repeat=5, number=3)
    W = stepper.forward()
    t_w = best_time(stepper.forward, repeat=3, number=3)
    t_p = best_time(lambda: problem.loss_and_gradient(W), repeat=3, number=3)
    G = problem.loss_and_gradient(W)[1]                # CSC, as the problem hands it out
    top, below = stepper.weights[2], stepper.prefixes[0]
    t_csc, t_csr = (best_time(lambda: (g.T @ top, g @ np.ascontiguousarray(below.T)), repeat=3, number=3)
                    for g in (G, G.tocsr()))
    t0 = clock()
    d.gradient_descent(problem, w0, lr=1e-3, max_steps=20, record_steps=[])
    api = (clock() - t0) / 20
    print("5. MovieLens-100K size, sparse path: 943x1682, 100 000 observations, depth 3, widths 100")
    print(f"   one step {t * 1e3:.2f} ms (goal <= 15 ms): forward {t_w * 1e3:.2f} ms "
          f"(W = W_3 (W_2 W_1), the 943x100x1682 product dominates), loss+gradient {t_p * 1e3:.2f} ms, backward+update "
          f"{(t - t_w - t_p) * 1e3:.2f} ms; gradient_descent incl. two records: {api * 1e3:.2f} ms/step over 20 steps")
    print(f"   its two sparse products G^T W_3, G (W_2 W_1)^T: {t_csc * 1e3:.2f} ms with G in CSC (as the problem "
          f"gives it), {t_csr * 1e3:.2f} ms with G in CSR (ratio {t_csr / t_csc:.2f})")


if __name__ == "__main__":
    main()
