"""dmf_edu.datasets: matplotlib's sample matrices and MovieLens-100K from a user's file (issue 12)."""

import json

import numpy as np
import pytest

from dmf_edu import datasets
from dmf_edu.datasets import (load_elevation, load_movielens, load_mri, load_photograph, observe,
                              read_movielens, singular_value_decay)


# --------------------------------------------------------------------------- sample data

@pytest.mark.parametrize("loader, shape, small, k", [
    (load_photograph, (600, 512), (75, 64), 8),
    (load_mri, (256, 256), (64, 64), 4),
    (load_elevation, (344, 403), (68, 80), 5),
])
def test_loaders_shapes_dtype_and_downsample(loader, shape, small, k):
    M = loader()
    assert M.shape == shape and M.dtype == np.float64 and np.all(np.isfinite(M))
    D = loader(downsample=k)
    assert D.shape == small
    # block means: the mean of the kept part is preserved exactly
    m, n = small
    assert np.isclose(D.mean(), M[:m * k, :n * k].mean())
    S = loader(downsample=k, standardize=True)
    assert abs(S.mean()) < 1e-12 and np.isclose(np.sqrt(np.mean(S ** 2)), 1.0)


@pytest.mark.parametrize("loader, k, r90, r99", [
    (load_photograph, 8, 9, 27), (load_mri, 4, 4, 16), (load_elevation, 5, 8, 24)])
def test_docstring_decay_numbers_are_measured(loader, k, r90, r99):
    """The decay each docstring states is what singular_value_decay measures (on fixed files)."""
    d = singular_value_decay(loader(downsample=k, standardize=True))
    assert (d["r90"], d["r99"]) == (r90, r99)
    assert f"r90 = {r90}, r99 = {r99}" in loader.__doc__


def test_photograph_is_grayscale_in_unit_range_and_mri_is_16bit_raw():
    P = load_photograph()
    assert 0.0 <= P.min() and P.max() <= 1.0 and P.std() > 0.1
    R = load_mri()
    assert R.min() == 0 and R.max() == 215 and np.all(R == np.round(R))   # integer pixels of the raw file
    # big-endian read: the little-endian reading of the same bytes would put values near 2^16
    assert R.max() < 2 ** 8


def test_crop_then_downsample():
    M = load_mri()
    C = load_mri(crop=(64, 192, 32, 224), downsample=2)
    assert C.shape == (64, 96)
    assert np.isclose(C[0, 0], M[64:66, 32:34].mean())


@pytest.mark.parametrize("kwargs, match", [
    (dict(crop=(10, 5, 0, 8)), "crop"), (dict(crop=(0, 300, 0, 8)), "crop"), (dict(crop=(0, 1)), "crop"),
    (dict(downsample=0), "downsample"), (dict(downsample=1000), "downsample")])
def test_bad_crop_and_downsample_name_the_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        load_mri(**kwargs)


def test_missing_sample_file_names_the_file(monkeypatch, tmp_path):
    import matplotlib

    monkeypatch.setattr(matplotlib, "get_data_path", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match="s1045.ima.gz"):
        load_mri()
    with pytest.raises(FileNotFoundError, match="grace_hopper.jpg"):
        load_photograph()


def test_singular_value_decay_on_exact_low_rank(rng):
    U = rng.standard_normal((30, 3)) * [10.0, 3.0, 1.0]
    d = singular_value_decay(U @ rng.standard_normal((3, 20)))
    assert d["r999"] <= 3 and d["ratio_10"] < 1e-12
    with pytest.raises(ValueError, match="zero"):
        singular_value_decay(np.zeros((3, 3)))


def test_observe_fraction_and_truth(rng):
    M = load_mri(downsample=8, standardize=True)
    p = observe(M, 0.3, rng=1)
    assert p.n_observations == round(0.3 * M.size) and p.truth is not None
    assert np.array_equal(p.values, M[p.rows, p.cols])
    assert np.array_equal(observe(M, 0.3, rng=1).rows, p.rows)           # same seed, same entries
    with pytest.raises(ValueError, match="fraction"):
        observe(M, 0.0)


# --------------------------------------------------------------------------- MovieLens

def write_udata(path, triples, timestamp=881250949):
    path.write_text("".join(f"{u}\t{i}\t{r}\t{timestamp + k}\n" for k, (u, i, r) in enumerate(triples)))
    return path


def synthetic_triples(rng, users=12, items=15, n=120):
    flat = rng.choice(users * items, size=n, replace=False)
    u, i = np.divmod(flat, items)
    return [(a + 1, b + 1, int(rng.integers(1, 6))) for a, b in zip(u, i)]


def test_read_movielens_shape_is_largest_ids_and_ids_are_zero_based(tmp_path):
    f = write_udata(tmp_path / "u.data", [(1, 1, 5), (3, 7, 1), (2, 4, 3.5)])
    users, items, ratings, shape = read_movielens(f)
    assert shape == (3, 7)
    assert users.tolist() == [0, 2, 1] and items.tolist() == [0, 6, 3] and ratings.tolist() == [5, 1, 3.5]


def test_load_movielens_split_is_disjoint_complete_and_reproducible(tmp_path, rng):
    triples = synthetic_triples(rng)
    f = write_udata(tmp_path / "u.data", triples)
    train, test = load_movielens(f, test=0.25, rng=7)
    assert train.shape == test.shape == (12, 15)
    assert test.n_observations == 30 and train.n_observations == 90
    tr = set(zip(train.rows.tolist(), train.cols.tolist()))
    te = set(zip(test.rows.tolist(), test.cols.tolist()))
    assert not tr & te and tr | te == {(u - 1, i - 1) for u, i, _ in triples}
    lookup = {(u - 1, i - 1): r for u, i, r in triples}
    assert all(lookup[(r, c)] == v for r, c, v in zip(test.rows, test.cols, test.values))
    again = load_movielens(f, test=0.25, rng=7)[1]
    assert np.array_equal(again.rows, test.rows) and np.array_equal(again.cols, test.cols)
    other = load_movielens(f, test=0.25, rng=8)[1]
    assert set(zip(other.rows.tolist(), other.cols.tolist())) != te
    assert load_movielens(f, test=10, rng=0)[1].n_observations == 10


@pytest.mark.parametrize("body, line, what", [
    ("1\t1\t5\t0\n2\t3\t4\n", 2, "3 columns"),
    ("1\t1\t5\t0\nx\t3\t4\t0\n", 2, "integers"),
    ("1\t1.5\t5\t0\n", 1, "integers"),
    ("1\t1\t5\t0\n1\t2\t6\t0\n", 2, "outside 1-5"),
    ("1\t1\t0\t0\n", 1, "outside 1-5"),
    ("1\t1\tgood\t0\n", 1, "outside 1-5"),
    ("1\t1\t5\t0\n2\t2\t3\t0\n1\t1\t4\t9\n", 3, "duplicate .*first on line 1"),
    ("0\t1\t5\t0\n", 1, "1-based"),
])
def test_malformed_movielens_one_line_error_names_file_and_line(tmp_path, body, line, what):
    f = tmp_path / "bad.data"
    f.write_text(body)
    with pytest.raises(ValueError, match=what) as info:
        read_movielens(f)
    msg = str(info.value)
    assert "\n" not in msg and str(f) in msg and f"line {line}:" in msg


def test_empty_movielens_file_and_missing_path(tmp_path):
    f = tmp_path / "u.data"
    f.write_text("\n\n")
    with pytest.raises(ValueError, match="empty"):
        load_movielens(f)
    with pytest.raises(FileNotFoundError, match="path .*grouplens"):
        load_movielens(tmp_path / "nowhere" / "u.data")


@pytest.mark.parametrize("test", [0.0, 1.0, 0, 120, -3])
def test_split_that_empties_a_part_is_refused(tmp_path, rng, test):
    f = write_udata(tmp_path / "u.data", synthetic_triples(rng))
    with pytest.raises(ValueError, match="test"):
        load_movielens(f, test=test)


def test_datasets_module_lists_public_names():
    for name in datasets.__all__:
        assert callable(getattr(datasets, name))


# --------------------------------------------------------------------------- X2 on a MovieLens-format file

def low_rank_ratings(tmp_path, m=40, n=60, share=0.35, seed=0):
    """A u.data of rounded rank-3 ratings 1-5 (the real file is never shipped)."""
    rng = np.random.default_rng(seed)
    R = np.clip(np.round(3 + rng.standard_normal((m, 3)) @ rng.standard_normal((3, n)) / np.sqrt(3)), 1, 5)
    flat = rng.choice(m * n, size=int(share * m * n), replace=False)
    return write_udata(tmp_path / "u.data", [(i + 1, j + 1, int(R[i, j])) for i, j in zip(*np.divmod(flat, n))])


def test_x2_movielens_quick_heldout_error_and_outputs(tmp_path):
    """X2 on a MovieLens-format file: depth 1 never moves the held-out entries (E1: its gradient
    lives on the training ratings), so its test MSE stays the mean squared rating; depths 2-3
    learn the low-rank ratings and predict the held-out ones far better."""
    from dmf_edu._seeds import task_rng
    from dmf_edu.experiments import reproduce

    f = low_rank_ratings(tmp_path)
    res = reproduce("X2", out=tmp_path / "out", quick=True, progress=False,
                    config=dict(data="movielens", path=str(f), lr=0.03))
    summ = {s["depth"]: s for s in res["summary"]}
    test = load_movielens(f, test=0.2, rng=task_rng(0, "movielens split", 0.2))[1]   # X2's own draw
    assert summ[1]["n_test"] == test.n_observations and summ[1]["shape"] == [40, 60]
    assert np.isclose(summ[1]["test_mse"], np.mean(test.values ** 2), rtol=1e-3)
    assert max(summ[2]["test_mse"], summ[3]["test_mse"]) < 0.2 * summ[1]["test_mse"]
    assert {r["index"] for r in res["rows"]} == set(range(1, 11))
    assert (tmp_path / "out" / "X2-movielens.png").exists() and not (tmp_path / "out" / "X2.png").exists()


def test_cli_x2_movielens_errors_are_one_line_usage_errors(tmp_path, capsys):
    from dmf_edu.cli import main

    bad = tmp_path / "bad.data"
    bad.write_text("1\t1\t5\t0\n1\t2\t9\t0\n")
    for argv, needle in [(["X2", "--data", "movielens"], "--path"),
                         (["X1", "--data", "movielens", "--path", str(bad)], "X2 only"),
                         (["X2", "--data", "movielens", "--path", str(tmp_path / "none")], "does not exist"),
                         (["X2", "--data", "movielens", "--path", str(bad)], "line 2: rating")]:
        with pytest.raises(SystemExit):
            main(["reproduce", *argv, "--quick", "--out", str(tmp_path / "o")])
        assert needle in capsys.readouterr().err
    f = low_rank_ratings(tmp_path)
    assert main(["reproduce", "X2", "--quick", "--data", "movielens", "--path", str(f), "--width", "8",
                 "--out", str(tmp_path / "o")]) == 0
    assert "X2-movielens.png" in capsys.readouterr().out


def test_x2_movielens_runs_through_the_shared_task_runner(tmp_path, capsys):
    """X2 on MovieLens has its own task keys and cache (never X2's), and works with shards,
    --no-compute and `dmf-edu tasks` like every experiment."""
    from dmf_edu.cli import main
    from dmf_edu.experiments import cache_dir, output_name, task_list

    f = low_rank_ratings(tmp_path)
    cfg = dict(data="movielens", path=str(f), width=4)
    keys = [t["key"] for t in task_list("X2", quick=True, config=cfg)]
    assert keys == [f"movielens_width-4_depth-{d}" for d in (1, 2, 3)]
    assert output_name("X2", cfg) == "X2-movielens" and output_name("X2") == "X2"
    assert cache_dir("X2", tmp_path, True, 0, cfg) != cache_dir("X2", tmp_path, True, 0)
    argv = ["reproduce", "X2", "--quick", "--data", "movielens", "--path", str(f), "--width", "4",
            "--out", str(tmp_path / "o")]
    assert main(argv + ["--shard", "1/2"]) == 0 and main(argv + ["--shard", "2/2"]) == 0
    assert main(argv + ["--no-compute"]) == 0                  # every task found in the cache
    out = capsys.readouterr().out
    assert "X2-movielens.png" in out and "test MSE" in out
    cached = tmp_path / "o" / ".cache" / "X2-movielens-quick" / "seed=0"
    assert sorted(p.name for p in cached.iterdir()) == sorted(k + ".json" for k in keys)
    assert main(["tasks", "X2", "--quick", "--data", "movielens", "--path", str(f), "--width", "4"]) == 0
    assert [json.loads(line)["key"] for line in capsys.readouterr().out.splitlines()] == keys


def test_singular_value_decay_values_from_the_definition():
    """On diag(10, 9, ..., 1) everything is known exactly: sigma_i = 11 - i, ratio_10 = 1/10, and the
    energy fractions sum_{i<=r} sigma_i^2 / 385 give r90 = 6 (0.922), r99 = 9 (0.997), r999 = 10."""
    s = np.arange(10.0, 0.0, -1.0)
    M = np.zeros((12, 10))
    M[:10, :10] = np.diag(s[::-1])[::-1]                     # anti-diagonal layout: not a sorted diagonal
    d = singular_value_decay(M)
    assert np.allclose(d["singular_values"], s, rtol=1e-13)
    assert d["ratio_10"] == pytest.approx(0.1, rel=1e-13)
    energy = np.cumsum(s ** 2) / np.sum(s ** 2)
    assert (d["r90"], d["r99"], d["r999"]) == (6, 9, 10) == tuple(int(np.argmax(energy >= q)) + 1
                                                          for q in (0.9, 0.99, 0.999))
