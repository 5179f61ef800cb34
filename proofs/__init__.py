"""Proof pages, one claim of THEORY.md per file (installed as ``dmf_edu.proofs``).

Each page ``eNN_*.py`` holds its statement, numbered steps, construction, checks, library
tie-in, planted wrong variants and a worked example; ``dmf-edu prove`` runs them all and
``python -m dmf_edu.proofs.e07_singular_vectors`` runs one.  The shared machinery (symbol
matrices, exact zero decisions, rational points, the runner) is ``dmf_edu.proofs.symbolic``.
"""
