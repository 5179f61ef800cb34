r"""The grader's outputs: a table per submission, a class summary, a CSV gradebook and
Gradescope's ``results.json`` (its documented format: ``score``, ``output`` and ``tests`` with
``name``, ``score``, ``max_score``, ``status``, ``output``).  Input: the dicts of
:func:`dmf_edu.course.grader.grade`.
"""

from __future__ import annotations

import csv
import textwrap

__all__ = ["table", "class_summary", "write_csv", "gradescope_results"]


def _unknown_line(unknown):
    return (f"NOT GRADED: no checker knows {', '.join(unknown)}. If a function answers an exercise, its "
            "checker is missing (dmf-edu check --exercises FILE); if it is a helper, ignore this or start "
            "its name with _")


def table(result, timeout):
    """The verdicts of one submission as text."""
    head = (f"dmf-edu check {result['file']}: seed {result['seed']} (--seed S to change), "
            f"time limit {timeout:g} s per exercise, dmf_edu {result['version']}")
    if result["status"] != "graded":
        return f"{head}\n\nNOT GRADED ({result['status']}): {result['message']}"
    rows = result["rows"]
    width = max(len("exercise"), *(len(r["name"]) for r in rows))
    lines = [head, "", f"{'exercise':<{width}}  {'result':<10}  {'points':<7}  hint",
             f"{'-' * width}  {'-' * 10}  {'-' * 7}  {'-' * 56}"]
    for r in rows:
        result_text = "passed" if r["success"] else r["status"].upper()
        text = r["message"] + "".join(f" WARNING: {w}" for w in r.get("warnings", []))
        wrapped = textwrap.wrap(text, max(50, 90 - width)) or [""]
        points = f"{r['points']:g}/{r['max_points']:g}"
        lines.append(f"{r['name']:<{width}}  {result_text:<10}  {points:<7}  {wrapped[0]}")
        lines += [f"{'':<{width}}  {'':<10}  {'':<7}  {w}" for w in wrapped[1:]]
    passed = sum(r["success"] for r in rows)
    lines += ["", f"{passed} of {len(rows)} exercises passed, {result['points']:g} of "
                  f"{result['max_points']:g} points"]
    if result["unknown"]:
        lines += textwrap.wrap(_unknown_line(result["unknown"]), 100)
    return "\n".join(lines)


def class_summary(results, problems, seconds, jobs):
    """One paragraph: how many submissions were graded, which could not be, and the time."""
    graded = [r for r in results if r["status"] == "graded"]
    lines = [f"graded {len(graded)} of {len(results)} submissions in {seconds:.1f} s (--jobs {jobs})"]
    lines += [f"  could not grade {r['file']}: {r['status']}" for r in results if r["status"] != "graded"]
    lines += [f"  {p}" for p in problems]
    return "\n".join(lines)


def write_csv(results, path):
    """One row per submission: file, student, status, seed, version, points per exercise, total, max_total."""
    exercises = list(dict.fromkeys(r["name"] for res in results for r in res["rows"]))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["file", "student", "status", "seed", "version", *exercises, "total", "max_total",
                      "not_graded"])
        for res in results:
            points = {r["name"]: r["points"] for r in res["rows"]}
            out.writerow([res["file"], res["student"], res["status"], res["seed"], res["version"],
                          *(points.get(n, "") for n in exercises), res["points"], res["max_points"],
                          " ".join(res["unknown"])])


def gradescope_results(results):
    """Gradescope's ``results.json`` as a dict (tests named ``FILE: exercise`` when several files)."""
    many = len(results) > 1
    tests, notes = [], []
    for res in results:
        prefix = f"{res['student']}: " if many else ""
        if res["status"] != "graded":
            tests.append(dict(name=f"{prefix}submission", score=0, max_score=0, status="failed",
                              output=f"not graded ({res['status']}): {res['message']}"))
        for r in res["rows"]:
            output = r["message"] + "".join(f"\nwarning: {w}" for w in r.get("warnings", []))
            tests.append(dict(name=f"{prefix}{r['name']}", score=r["points"], max_score=r["max_points"],
                              status="passed" if r["success"] else "failed", output=output))
        if res["unknown"]:
            notes.append(prefix + _unknown_line(res["unknown"]))
        notes.append(f"{prefix}seed {res['seed']}, dmf_edu {res['version']}")
    return dict(score=sum(r["points"] for r in results), output="\n".join(notes), tests=tests)
