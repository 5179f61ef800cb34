"""X9 — completion of real matrices, measured on held-out entries (THEORY.md §8, §9).

Data: the photograph (``grace_hopper.jpg`` block-averaged to 75 x 64) and the MRI slice
(``s1045.ima.gz``, 64 x 64) from matplotlib's sample data (:mod:`dmf_edu.datasets`),
standardized (mean 0, RMS 1: filling with zeros scores about 1), each observed at two
fractions of its pixels.  A fifth of the observed pixels is the validation split; the rest
is the training split, which every method fits.  The images are fully known, so the test
split is every unobserved pixel; it is never used to stop or to tune.

Methods, on the same training split:

* depths 1-4 with the E19 optimizer (Gaussian init 1e-3, hidden widths ``min(m, n)``, mean
  loss) run to train MSE 1e-6 or the step cap ("converged"), and the same run stopped at
  its lowest validation error ("stopped": early stopping with the best weights kept);
* minimum nuclear norm with ``|X_ij - M_ij| <= eps`` on the training split: ``eps = 0``, and
  the ``eps`` of a grid with the lowest validation error;
* truncated SVD of the zero-filled training matrix rescaled by the inverse observed share,
  rank chosen on validation; and zero fill as the floor.

Reported per method: held-out (test) MSE, effective rank and steps, median over the seeds
(each seed draws new observed pixels, split and init).
"""

from __future__ import annotations

import numpy as np

from .. import _io
from ..baselines.nuclear_norm import nuclear_norm_minimization
from ..datasets import load_mri, load_photograph, observe
from ..metrics import effective_rank
from .._seeds import task_rng
from ..problems import MatrixCompletion
from .e19 import E19, E19_SHORT
from .heldout import heldout_mse, track
from .protocol import Experiment
from .tables import thin

ID = "X9"
TITLE = "real matrices (photograph, MRI): held-out error, depths 1-4 with/without early stopping vs nuclear norm"

FULL = dict(images=["photograph", "mri"], downsample=dict(photograph=8, mri=4), fractions=[0.3, 0.6],
            depths=[1, 2, 3, 4], seeds=3, validation=0.2, init_scale=1e-3, lr=1e-3, loss_tol=1e-6,
            max_steps=60_000, every=200, eps_grid=[0.003, 0.01, 0.03, 0.1, 0.3], figure_fraction=0.3,
            curve_points=150)
QUICK = dict(FULL, downsample=dict(photograph=24, mri=12), depths=[1, 2, 3], seeds=1, max_steps=3000,
             every=100, eps_grid=[0.1, 0.3], curve_points=40)

DEPTH_COLORS = {1: "C0", 2: "C1", 3: "C2", 4: "C3"}


def _loader(image):
    return {"photograph": load_photograph, "mri": load_mri}[image]


def real_data(config, image, fraction, seed, trial):
    """``(M, observed, train, validation, test)`` for one image, fraction and seed (THEORY.md §9).

    ``M`` standardized ``(m, n)``; ``observed`` the sampled pixels (a completion problem with
    ``truth=M``), split into ``train`` and ``validation``; ``test`` holds every other pixel."""
    M = _loader(image)(downsample=config["downsample"][image], standardize=True)
    case = (image, config["downsample"][image], fraction, trial)
    observed = observe(M, fraction, rng=task_rng(seed, "X9 observed pixels", *case))
    train, validation = observed.split(config["validation"],
                                       rng=task_rng(seed, "X9 validation split", *case, config["validation"]))
    test = MatrixCompletion.from_mask(M, ~observed.observed_mask(), reduction="mean")
    return M, observed, train, validation, test


def tasks(config, seed):
    """Per seed, image and fraction: one task per depth and one for the convex baselines."""
    out = []
    for trial in range(config["seeds"]):
        for image in config["images"]:
            for fraction in config["fractions"]:
                base = dict(image=image, fraction=fraction, trial=trial, seed=seed, config=config)
                name = f"{image}_p={fraction:g}_trial={trial}"
                out += [dict(base, key=f"{name}_depth-{d}", kind="dmf", depth=d) for d in config["depths"]]
                out.append(dict(base, key=f"{name}_convex", kind="convex"))
    return out


def _row(task, method, W, parts, **fields):
    """A tidy row: held-out, validation and train MSE and the effective rank of ``W``."""
    train, validation, test = parts
    row = dict(image=task["image"], fraction=task["fraction"], trial=task["trial"], method=method)
    row.update(fields)
    row.update(test_mse=heldout_mse(W, test), validation_mse=heldout_mse(W, validation),
               train_mse=heldout_mse(W, train), effective_rank=float(effective_rank(W)))
    return row


def _for_figure(task):
    config = task["config"]
    return task["trial"] == 0 and np.isclose(task["fraction"], config["figure_fraction"])


def _short(x):
    """Four significant digits: the sidecar's curves stay small."""
    return float(f"{x:.4g}")


def _picture(W):
    return np.round(W, 3).tolist()


def run_task(task):
    config = task["config"]
    M, observed, train, validation, test = real_data(config, task["image"], task["fraction"],
                                                     task["seed"], task["trial"])
    parts = (train, validation, test)
    if task["kind"] == "convex":
        rows = _convex_rows(task, M, train, validation, test)
        if _for_figure(task):
            rows[0]["picture"] = _picture(M)
            rows[0]["observed"] = (observed.rows * M.shape[1] + observed.cols).tolist()
        return rows
    depth = task["depth"]
    case = (task["image"], config["downsample"][task["image"]], task["fraction"], task["trial"])
    rng = task_rng(task["seed"], "X9 init", *case, depth, config["init_scale"])
    res = track(train, depth, rng, config, validation=validation, test=test)
    stopped = _row(task, f"depth-{depth}", res["W_best"], parts, depth=depth, early_stopping=True,
                   steps=res["best_step"], wall_time=res["wall_time"])
    final = _row(task, f"depth-{depth}", res["W"], parts, depth=depth, early_stopping=False,
                 steps=res["steps"], success=res["success"], wall_time=res["wall_time"])
    curve = [dict(step=s, test=_short(t), validation=_short(v), train=_short(r)) for s, t, v, r in
             zip(res["step"], res["test"], res["validation"], res["train"])]
    final["curve"] = thin(curve, lambda _: 0, config["curve_points"])
    if _for_figure(task):
        stopped["picture"], final["picture"] = _picture(res["W_best"]), _picture(res["W"])
    return [stopped, final]


def _convex_rows(task, M, train, validation, test):
    """Nuclear norm (eps 0 and eps chosen on validation), truncated SVD (rank chosen on
    validation) and zero fill, all fitted on the training split."""
    parts, fig = (train, validation, test), _for_figure(task)
    rows = [_row(task, "zero-fill", np.zeros(M.shape), parts)]
    solves = {eps: nuclear_norm_minimization(train, eps=eps) for eps in [0.0] + list(task["config"]["eps_grid"])}
    best_eps = min(task["config"]["eps_grid"], key=lambda e: heldout_mse(solves[e].X, validation))
    for method, eps in (("nuclear", 0.0), ("nuclear-val", best_eps)):
        res = solves[eps]
        rows.append(_row(task, method, res.X, parts, eps=eps, steps=int(res.nit), status=res.status,
                         wall_time=float(res.wall_time)))
        if fig:
            rows[-1]["picture"] = _picture(res.X)
    rows[-1]["eps_validation"] = {f"{e:g}": heldout_mse(solves[e].X, validation) for e in task["config"]["eps_grid"]}
    Z = np.zeros(M.shape)
    Z[train.rows, train.cols] = train.values * (M.size / train.n_observations)
    U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    val_by_rank = [heldout_mse((U[:, :k] * s[:k]) @ Vt[:k], validation) for k in range(1, s.size + 1)]
    k = int(np.argmin(val_by_rank)) + 1
    W = (U[:, :k] * s[:k]) @ Vt[:k]
    rows.append(_row(task, "truncated-svd", W, parts, rank=k))
    if fig:
        rows[-1]["picture"] = _picture(W)
    return rows


def label(row):
    """Display name of a method row: ``depth-3 stopped``, ``nuclear (eps 0)``, ..."""
    if row.get("depth") is not None:
        return f"{row['method']} {'stopped' if row['early_stopping'] else 'converged'}"
    return {"nuclear": "nuclear (eps 0)", "nuclear-val": "nuclear (eps val.)"}.get(row["method"], row["method"])


def summarize(rows, config):
    """Median over seeds of test MSE, effective rank and steps per (image, fraction, method)."""
    groups = {}
    for r in rows:
        groups.setdefault((r["image"], r["fraction"], label(r)), []).append(r)
    table = []
    for (image, fraction, name), rs in groups.items():
        med = {k: float(np.median([r[k] for r in rs])) if all(r.get(k) is not None for r in rs) else None
               for k in ("test_mse", "validation_mse", "train_mse", "effective_rank", "steps")}
        entry = dict(image=image, fraction=fraction, method=name, seeds=len(rs), **med)
        if rs[0]["method"] == "nuclear-val":
            entry["eps_chosen"] = [r["eps"] for r in rs]
        if rs[0]["method"] == "truncated-svd":
            entry["rank_chosen"] = [r["rank"] for r in rs]
        table.append(entry)
    return dict(table=table)


def collect(rows, config):
    return dict(experiment=ID, params=config, optimizer=E19, rows=rows, summary=summarize(rows, config))


def headline(results):
    """Median test MSE per method (rows) and (image, fraction) (columns)."""
    table = results["summary"]["table"]
    cases = list(dict.fromkeys((t["image"], t["fraction"]) for t in table))
    methods = [m for m in RECON_ORDER + ["zero-fill"] if any(t["method"] == m for t in table)]
    value = {(t["method"], t["image"], t["fraction"]): t["test_mse"] for t in table}
    return (["median test MSE"] + [f"{image} {fraction:.0%}" for image, fraction in cases],
            [[m] + [value.get((m, *case)) for case in cases] for m in methods])


# --------------------------------------------------------------------------- figure

RECON_ORDER = ["depth-1 stopped", "depth-2 stopped", "depth-3 stopped", "depth-4 stopped", "nuclear (eps val.)",
               "truncated-svd", "nuclear (eps 0)", "depth-1 converged", "depth-2 converged",
               "depth-3 converged", "depth-4 converged"]


def plot(results, path):
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    config, rows = results["params"], results["rows"]
    images = config["images"]
    fig = plt.figure(figsize=(18, 4.6 * len(images)))
    grid = GridSpec(2 * len(images), 9, figure=fig, width_ratios=[1] * 7 + [1.3, 1.3])
    for i, image in enumerate(images):
        shown = [r for r in rows if r["image"] == image and "picture" in r]
        pictures = {label(r): np.asarray(r["picture"]) for r in shown}
        errors = {label(r): r["test_mse"] for r in shown}
        truth = next(r for r in shown if r["method"] == "zero-fill")
        original = np.asarray(truth["picture"])
        observed = np.full(original.size, np.nan)
        observed[truth["observed"]] = original.ravel()[truth["observed"]]
        panels = [("original", original, None),
                  ("observed pixels (blue: not)", observed.reshape(original.shape), None)]
        panels += [(name, pictures[name], errors[name]) for name in RECON_ORDER if name in pictures]
        lo, hi = np.percentile(original, [0.5, 99.5])
        gray = plt.get_cmap("gray").with_extremes(bad="#4a78b5")        # unobserved pixels in blue
        for k, (name, picture, err) in enumerate(panels[:14]):
            ax = fig.add_subplot(grid[2 * i + k // 7, k % 7])
            ax.imshow(picture, cmap=gray, vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(name if err is None else f"{name}\ntest MSE {err:.3f}", fontsize=8)
        _plot_curves(fig.add_subplot(grid[2 * i:2 * i + 2, 7:9]), rows, results["summary"], config, image)
    fig.suptitle(f"X9: completion of real matrices, {config['figure_fraction']:.0%} of pixels observed "
                 f"(seed 0; {config['validation']:.0%} of them for validation); {E19_SHORT}, init "
                 f"{config['init_scale']:g}; test = unobserved pixels", fontsize=11)
    fig.tight_layout()
    _io.save_figure(fig, path)


def _plot_curves(ax, rows, summary, config, image):
    """Held-out (test) MSE vs iteration per depth, the early-stopping point marked."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    frac = config["figure_fraction"]
    for r in rows:
        if r["image"] != image or r.get("curve") is None or r["trial"] != 0 or not np.isclose(r["fraction"], frac):
            continue
        steps = [p["step"] for p in r["curve"]]
        ax.plot(steps, [p["test"] for p in r["curve"]], color=DEPTH_COLORS.get(r["depth"], "k"),
                lw=1.3, label=f"depth {r['depth']}")
        stop = next(s for s in rows if s["image"] == image and s["trial"] == 0 and s.get("depth") == r["depth"]
                    and s["early_stopping"] and np.isclose(s["fraction"], frac))
        ax.plot([stop["steps"]], [stop["test_mse"]], "*", ms=11, color=DEPTH_COLORS.get(r["depth"], "k"),
                markeredgecolor="k")
    for method, style in (("nuclear (eps val.)", "--"), ("zero-fill", ":")):
        val = next((t["test_mse"] for t in summary["table"] if t["image"] == image and t["method"] == method
                    and np.isclose(t["fraction"], frac)), None)
        if val is not None:
            ax.axhline(val, color="0.4", ls=style, lw=1, label=f"{method} (median)")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("iteration")
    ax.set_ylabel("held-out MSE (unobserved pixels)")
    ax.set_title(f"{image}: test error along the runs (seed 0);\n* = lowest validation error (early stop)",
                 fontsize=9)
    ax.legend(fontsize=7)


EXPERIMENT = Experiment(ID, TITLE, FULL, QUICK, tasks=tasks, run_task=run_task, collect=collect, plot=plot,
                        headline=headline)
