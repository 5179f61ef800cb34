"""What exercises each claim of docs/THEORY.md (E1..E22): the data of the coverage table
(:func:`dmf_edu.proofs.runner.coverage_table`, ``dmf-edu prove --list``).

A label with a page ``eNN_*.py`` whose label is exactly ``E<n>`` is *proved* by it; the
others get the status written here: *tested* (the test suite checks the implementation, no
proof) or *empirical* (an experiment measures it).  A page whose label carries a suffix
(``E5inv``, ``E17hvp``) proves part of a claim and is listed on that claim's row.
"""

from __future__ import annotations

import inspect
import re

from dmf_edu.proofs.regimes import ACCEPTS, qualname

__all__ = ["THEORY_LABELS", "CATALOGUE", "coverage_rows"]

THEORY_LABELS = tuple(f"E{n}" for n in range(1, 23))

# label -> (status when no page proves it, tests, experiments)
CATALOGUE = {
    "E1": ("", "test_factorization, test_checks, test_regimes, test_training", ""),
    "E2": ("", "test_factorization, test_regimes, test_dynamics", ""),
    "E3": ("", "test_dynamics, test_geometry, test_regimes", "X6"),
    "E4": ("", "test_linalg, test_dynamics, test_regimes", ""),
    "E5": ("", "test_linalg, test_dynamics, test_regimes", "X6"),
    "E6": ("", "test_dynamics, test_regimes", "X2"),
    "E7": ("", "test_dynamics, test_regimes", ""),
    "E8": ("", "test_dynamics", ""),
    "E9": ("", "test_counterexamples", "X4"),
    "E10": ("", "test_dynamics, test_regimes", "X8"),
    "E11": ("", "test_dynamics, test_regimes", "X8"),
    "E12": ("", "test_metrics, test_counterexamples, test_regimes", "X5"),
    "E13": ("", "test_baselines", "X1, X3, X9"),
    "E14": ("", "test_geometry, test_regimes", ""),
    "E15": ("", "test_geometry", "X6"),
    "E16": ("", "test_geometry", "X6"),
    "E17": ("empirical (X7)", "test_landscape, test_regimes", "X7"),
    "E18": ("tested", "test_baselines", ""),
    "E19": ("", "test_training, test_regimes", "X1, X2, X3, X9"),
    "E20": ("not yet covered", "test_tensors, test_tensor_training, test_exercises (9.1)", "X10"),
    "E21": ("not yet covered", "test_tensors, test_tensor_training", "X10"),
    "E22": ("not yet covered", "test_tensors, test_tensor_training, test_exercises (9.2)", "X10"),
}


def _base(label):
    return re.match(r"E\d+", label).group(0)


def _tied(module):
    """Library functions a page ties (the ``dmf_edu`` defaults of its ``prove`` keywords)."""
    out = []
    for par in inspect.signature(module.prove).parameters.values():
        mod = getattr(par.default, "__module__", "") or ""
        if callable(par.default) and mod.startswith("dmf_edu.") and not mod.startswith("dmf_edu.proofs"):
            out.append(qualname(par.default))
    return sorted(set(out))


def _row_of_pages(label, found, results):
    status, tests, experiments = CATALOGUE.get(label, ("", "", ""))
    exact = found.get(label)
    parts = [lab for lab in found if lab != label]
    verdicts = {lab: results[lab].status if lab in results else "proved" for lab in found}
    if exact is not None:
        status = verdicts[label]
    if parts:
        status = (status + "; " if status else "") + ", ".join(f"{lab} {verdicts[lab]}" for lab in parts)
    covered, functions = [], []
    for lab, module in found.items():
        tied = _tied(module)
        functions += tied
        regimes = sorted(set().union(*(results[lab].regimes.get(f, ()) for f in tied))) if lab in results else \
            sorted(set().union(*(ACCEPTS.get(f, ()) for f in tied)))
        sizes = results[lab].sizes if lab in results else ""
        missing = sorted(set().union(*getattr(module, "UNCOVERED", {}).values()))
        covered.append(f"{lab}: {', '.join(regimes) or '-'}" + (f" | NOT covered: {', '.join(missing)}" if missing
                                                                else "") + (f" | {sizes}" if sizes else ""))
    exercised = ", ".join(x for x in (tests, experiments) if x)
    return dict(label=label, status=status or "not yet covered", covered="; ".join(covered) or "-",
                functions=", ".join(sorted(set(functions))) or "-", exercised=exercised or "-",
                pages=sorted(found))


def coverage_rows(pages, results):
    """Rows (dicts) of the coverage table: one per THEORY.md label, in order."""
    labels = list(THEORY_LABELS) + sorted({_base(lab) for lab in pages} - set(THEORY_LABELS))
    return [_row_of_pages(label, {lab: m for lab, m in pages.items() if _base(lab) == label}, results)
            for label in labels]
