r"""A lesson file as a sequence of blocks, and its text made readable in a terminal.

A lesson is Markdown with ``python`` fenced blocks (the snippets, :func:`dmf_edu.course.lessons.snippets`).
:func:`blocks` splits it into text and code, in order: the notebook writer turns them into
markdown and code cells, the terminal runner prints the text through :func:`to_terminal` and
runs the code.  A fence written ```` ```python wrong-on-purpose ```` marks a snippet that
submits a deliberately wrong answer: its rejection is the point.

:func:`latex_to_text` turns the LaTeX of the lessons (``\frac``, ``\sum``, ``^\top``, ...) into
plain Unicode text, e.g. ``\dot W = -\mathcal A_{N,W}(G)`` -> ``Ẇ = −𝒜_{N,W}(G)``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .lessons import snippets

__all__ = ["Block", "blocks", "latex_to_text", "to_terminal"]

_SYMBOLS = {
    "Delta": "Δ", "Omega": "Ω", "sigma": "σ", "rho": "ρ", "varphi": "φ", "phi": "φ", "lambda": "λ",
    "alpha": "α", "beta": "β", "eta": "η", "tau": "τ", "epsilon": "ε", "varepsilon": "ε", "mu": "μ",
    "ell": "ℓ", "nabla": "∇", "partial": "∂", "sum": "Σ", "prod": "∏", "int": "∫", "infty": "∞",
    "in": "∈", "times": "×", "odot": "⊙", "propto": "∝", "cdots": "⋯", "dots": "…", "ldots": "…",
    "cdot": "·", "otimes": "⊗", "bigotimes": "⊗", "langle": "⟨", "rangle": "⟩", "longrightarrow": "⟶", "to": "→", "rightarrow": "→",
    "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "approx": "≈", "ne": "≠", "neq": "≠", "pm": "±",
    "|": "‖", "top": "ᵀ",
    "qquad": "    ", "quad": "  ", ",": " ", ";": " ", "!": "", " ": " ", "{": "{", "}": "}",
}
_OPERATORS = {"ln", "log", "exp", "min", "max", "tr", "det"}
_DROP = {"big", "Big", "bigg", "Bigg", "left", "right", "displaystyle", "mathrm", "operatorname"}
_TEXT_ARG = {"text", "textbf", "mathbf", "boldsymbol", "mathrm", "operatorname"}
_CALLIGRAPHIC = {"A": "𝒜", "L": "ℒ", "N": "𝒩"}
_SUP = dict(zip("0123456789+-−=()nijTNRpst", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿⁱʲᵀᴺᴿᵖˢᵗ"))
_SUB = dict(zip("0123456789+-−=()aeijkmnoprstx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑᵢⱼₖₘₙₒₚᵣₛₜₓ"))
_COMMAND = re.compile(r"\\([A-Za-z]+|.)")


@dataclass(frozen=True)
class Block:
    """A piece of a lesson: ``kind`` is ``"text"`` (Markdown) or ``"code"`` (a :class:`Snippet`)."""

    kind: str
    text: str
    snippet: object = None


def blocks(path):
    """Text and code blocks of a lesson file, in order (text blocks never empty)."""
    lines = open(path, encoding="utf-8").read().splitlines()
    out, cursor = [], 0
    for snip in snippets(path):
        fence = snip.line - 2                       # index of the opening ```python line
        text = "\n".join(lines[cursor:fence]).strip("\n")
        if text.strip():
            out.append(Block("text", text))
        out.append(Block("code", snip.source, snip))
        cursor = fence + snip.source.count("\n") + 2
    tail = "\n".join(lines[cursor:]).strip("\n")
    if tail.strip():
        out.append(Block("text", tail))
    return out


def _group(s, i):
    """The braced group (or single token) starting at ``s[i]``: (content, next index)."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        return "", i
    if s[i] == "{":
        depth, j = 0, i
        while j < len(s):
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            if depth == 0:
                return s[i + 1:j], j + 1
            j += 1
        return s[i + 1:], len(s)
    m = _COMMAND.match(s, i)
    if m:
        return m.group(0), m.end()
    return s[i], i + 1


def _script(body, table, mark):
    """``body`` as Unicode super/subscripts when every character has one, else ``mark(body)``."""
    if body and all(c in table for c in body):
        return "".join(table[c] for c in body)
    if body == "ᵀ":
        return body
    if len(body) == 1:
        return mark + body
    return f"{mark}({body})" if mark == "^" else f"_{{{body}}}"


def _wrap(x):
    return f"({x})" if re.search(r"[\s+−/·]", x.strip()) else x.strip()


def latex_to_text(s):
    r"""Plain Unicode for a LaTeX formula (the subset the lessons use)."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            m = _COMMAND.match(s, i)
            name, i = m.group(1), m.end()
            if name.isalpha():                      # as in TeX, spaces after a control word are skipped
                while i < len(s) and s[i] == " ":
                    i += 1
            if name in _OPERATORS:
                out.append(name + " ")
            elif name in ("frac", "tfrac", "dfrac"):
                num, i = _group(s, i)
                den, i = _group(s, i)
                out.append(f"{_wrap(latex_to_text(num))}/{_wrap(latex_to_text(den))}")
                if i < len(s) and s[i] not in " )]},.;:^_":
                    out.append(" ")
            elif name in _TEXT_ARG:
                arg, i = _group(s, i)
                out.append(latex_to_text(arg))
            elif name == "mathcal":
                arg, i = _group(s, i)
                out.append(_CALLIGRAPHIC.get(arg.strip(), arg.strip()))
            elif name == "dot":
                arg, i = _group(s, i)
                out.append(latex_to_text(arg) + "\u0307")
            elif name == "sqrt":
                arg, i = _group(s, i)
                out.append("√" + _wrap(latex_to_text(arg)))
            elif name in _DROP:
                continue
            else:
                out.append(_SYMBOLS.get(name, name))
        elif c in "^_":
            body, i = _group(s, i + 1)
            body = latex_to_text(body).strip()
            out.append(_script(body, _SUP if c == "^" else _SUB, c))
        elif c in "{}":
            i += 1
        elif c == "-":
            out.append("−")
            i += 1
        else:
            out.append(c)
            i += 1
    return unicodedata.normalize("NFC", re.sub(r"[ \t]{5,}", "    ", "".join(out)))


_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<!\$)\$([^$\n]+)\$(?!\$)")


def _inline(line):
    line = _INLINE.sub(lambda m: latex_to_text(m.group(1)), line)
    line = re.sub(r"\*\*(.+?)\*\*", r"\1", line)
    line = re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"\1", line)
    line = re.sub(r"`([^`]+)`", r"\1", line)
    line = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1 (\2)", line)
    return line


def to_terminal(text, width=92):
    """Lesson Markdown as terminal text: underlined headings, maths in Unicode, no markup."""
    text = _DISPLAY.sub(lambda m: "\n\n    " + " ".join(latex_to_text(m.group(1)).split()) + "\n\n", text)
    parts = re.split(r"(^```.*?^```[ \t]*$)", text, flags=re.M | re.S)   # spans may cross lines, fences not
    text = "".join(part if part.startswith("```") else re.sub(r"\*\*([^*]+?)\*\*", r"\1",
                                                               re.sub(r"`([^`]+)`", r"\1", part))
                   for part in parts)
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            out.append("    " + line)
            continue
        heading = re.match(r"^(#{1,4})\s+(.*)$", line)
        if heading:
            title = _inline(heading.group(2))
            rule = {1: "=", 2: "-"}.get(len(heading.group(1)), "")
            out += ["", title] + ([rule * min(len(title), width)] if rule else [])
            continue
        line = re.sub(r"^(\s*)[*-] ", r"\1  • ", line)
        out.append(_inline(line))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n") + "\n"
