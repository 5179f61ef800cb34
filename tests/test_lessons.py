"""The course (dmf_edu.course): every lesson has its parts; the committed notebooks
are exactly the generated ones and every code cell runs in order in one fresh namespace; the
terminal runner prints the text readably, marks the wrong-on-purpose snippets, saves figures into
--out and exits non-zero on an unexpected failure; every exercise has a worked solution."""

import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import dmf_edu.course as course
from dmf_edu.course import figures, lessons, notebook, release, solutions
from dmf_edu.course.checking import REGISTRY
from dmf_edu.course.markdown import blocks, latex_to_text, to_terminal
from dmf_edu.course.runner import lesson_main

CHECKOUT = Path(__file__).resolve().parents[1]
DOCS = CHECKOUT / "docs" / "lessons"
LESSONS = lessons.list_lessons()
E_LABEL = re.compile(r"\bE\d+\b")
EXERCISE = re.compile(r"^\*\*(\d+\.\d+)\b", re.M)


def _exercise_numbers(lesson):
    return EXERCISE.findall(lesson.path.read_text(encoding="utf-8").split("## Exercises", 1)[1])


def test_the_course_has_nine_numbered_lessons_in_the_package():
    assert len(LESSONS) == 9
    assert [ls.number for ls in LESSONS] == list(range(1, len(LESSONS) + 1))
    for ls in LESSONS:
        assert ls.path.parent == lessons.lesson_dir()
        assert ls.path.is_relative_to(Path(lessons.__file__).parent)   # package data, not docs/
        assert not ls.title.startswith("Lesson")


def test_docs_index_links_every_lesson_and_notebook_and_the_three_ways():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for ls in LESSONS:
        assert f"dmf_edu/course/lessons_md/{ls.path.name}" in index
        assert f"({notebook.notebook_name(ls.number)})" in index
    assert not list(DOCS.glob("0*.md"))
    for way in ("dmf-edu lesson", "--notebook", "dmf-edu check", "--solutions", "--json"):
        assert way in index, way


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda ls: ls.path.stem)
def test_every_lesson_has_goal_math_snippets_figure_and_exercises(lesson):
    text = lesson.path.read_text(encoding="utf-8")
    assert "**Goal.**" in text and "## Exercises" in text
    assert E_LABEL.search(text) or re.search(r"\bX\d\b", text)
    code = [s.source for s in lessons.snippets(lesson.number)]
    assert len(code) >= 3
    assert sum("show(fig, " in c for c in code) >= 1
    assert not any(".savefig(" in c for c in code)          # figures go through show(): inline in Jupyter
    assert 1 <= len(_exercise_numbers(lesson)) <= 3


def test_checkable_exercises_are_set_in_their_lessons():
    for name in course.names():
        number = REGISTRY[name].lesson
        assert f'"{name}"' in lessons.lesson_path(number).read_text(encoding="utf-8"), name


# --------------------------------------------------------------------------- notebooks

@pytest.mark.parametrize("lesson", LESSONS, ids=lambda ls: ls.path.stem)
def test_committed_notebook_is_the_generated_one(lesson):
    committed = DOCS / notebook.notebook_name(lesson.number)
    assert committed.is_file(), f"run: dmf-edu lesson {lesson.number} --notebook {committed.relative_to(CHECKOUT)}"
    assert committed.read_text(encoding="utf-8") == notebook.notebook_json(lesson.number), (
        f"{committed.name} is stale: regenerate with dmf-edu lesson {lesson.number} --notebook docs/lessons/")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda ls: ls.path.stem)
def test_notebook_cells_follow_the_lesson_in_order(lesson):
    nb = json.loads((DOCS / notebook.notebook_name(lesson.number)).read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4 and nb["metadata"]["kernelspec"]["name"] == "python3"
    assert len({c["id"] for c in nb["cells"]}) == len(nb["cells"])
    snippets = lessons.snippets(lesson.number)
    extra = [c for c in nb["cells"] if {"exercise", "check"} & set(c["metadata"].get("tags", []))]
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and c not in extra]
    assert len(cells) == len(snippets)
    checkable = [n for n in course.names() if REGISTRY[n].lesson == lesson.number]
    stubs = ["".join(c["source"]) for c in extra if "exercise" in c["metadata"]["tags"]]
    checks = ["".join(c["source"]) for c in extra if "check" in c["metadata"]["tags"]]
    assert len(stubs) == len(checks) == len(checkable)
    for name in checkable:
        assert any(f"def {name}(" in s and "raise NotImplementedError" in s for s in stubs), name
        assert any(f'check("{name}", {name})' in c for c in checks), name
    assert not any("def solution_" in s for s in stubs)
    for cell, snip in zip(cells, snippets):
        source = "".join(cell["source"])
        wrong = "wrong-on-purpose" in cell["metadata"].get("tags", [])
        assert wrong == snip.wrong_on_purpose
        assert source == (notebook.WRONG_BANNER if wrong else "") + snip.source.rstrip("\n")
        assert cell["outputs"] == [] and cell["execution_count"] is None
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "## Exercises" in text
    assert "Solution" not in text.replace("solutions", "")      # worked solutions stay out of the notebook


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda ls: ls.path.stem)
def test_notebook_code_cells_run_in_order_in_one_fresh_namespace(lesson, tmp_path, monkeypatch):
    """As a kernel would: the committed notebook's code cells, in order, one namespace, Agg backend;
    figures land in the output folder (outside a kernel show() saves instead of displaying)."""
    monkeypatch.setenv(figures.OUTPUT_ENV, str(tmp_path))
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    for k, source in enumerate(notebook.code_cells(DOCS / notebook.notebook_name(lesson.number)), start=1):
        exec(compile(source, f"<{lesson.path.stem} cell {k}>", "exec"), namespace)   # noqa: S102
    assert all(isinstance(namespace.get(n), type(len)) or callable(namespace.get(n))
               for n in course.names() if REGISTRY[n].lesson == lesson.number)   # the stubs ran, no crash
    pngs = list(tmp_path.glob("*.png"))
    assert pngs and all(p.stat().st_size > 5000 for p in pngs)


def test_show_displays_inline_in_a_kernel_and_writes_nothing(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    shown = []
    display_module = types.SimpleNamespace(Image=lambda data, format: ("image", format, data),
                                           display=lambda obj: shown.append(obj))
    kernel_shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: kernel_shell))
    monkeypatch.setitem(sys.modules, "IPython.display", display_module)
    monkeypatch.delenv(figures.OUTPUT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    assert figures.show(fig, "x.png") is None
    assert len(shown) == 1 and shown[0][1] == "png" and shown[0][2][:4] == b"\x89PNG"
    assert not list(tmp_path.rglob("*.png"))
    monkeypatch.setenv(figures.OUTPUT_ENV, str(tmp_path / "out"))     # a forced folder wins, even in a kernel
    assert Path(figures.show(fig, "x.png")).parent == tmp_path / "out"


def test_notebook_cli_writes_the_file(tmp_path, capsys):
    assert lesson_main(2, notebook=str(tmp_path / "two.ipynb")) == 0
    assert (tmp_path / "two.ipynb").read_text(encoding="utf-8") == notebook.notebook_json(2)
    assert "two.ipynb" in capsys.readouterr().out


# --------------------------------------------------------------------------- the terminal runner

def test_latex_becomes_unicode():
    assert latex_to_text(r"\dot W = -\mathcal A_{N,W}(G)") == "Ẇ = −𝒜_{N,W}(G)"
    assert latex_to_text(r"\frac{\partial\varphi}{\partial W_j} = W_{N:j+1}^\top\, G") == "∂φ/∂Wⱼ = W_{N:j+1}ᵀ  G"
    assert latex_to_text(r"\int_0^1 (x^2)^{1-s}\,ds") == "∫₀¹ (x²)¹⁻ˢ ds"
    assert latex_to_text(r"\ln x^2 - \ln y^{2/N}") == "ln x² − ln y^(2/N)"
    assert latex_to_text(r"\sum_{p=1}^N") == "Σₚ₌₁ᴺ"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda ls: ls.path.stem)
def test_lesson_text_reads_in_a_terminal_without_raw_latex_or_markup(lesson):
    for block in blocks(lesson.path):
        if block.kind != "text":
            continue
        text = to_terminal(block.text)
        assert not re.search(r"\\[A-Za-z]+|\$\$|\*\*|`", text), text
    first = to_terminal(blocks(lesson.path)[0].text).splitlines()
    assert first[0].startswith("Lesson") and set(first[1]) == {"="}


def _planted_lesson(tmp_path, monkeypatch, body):
    folder = tmp_path / "lessons_md"
    folder.mkdir()
    (folder / "01_planted.md").write_text(body, encoding="utf-8")
    monkeypatch.setattr(lessons, "lesson_dir", lambda: folder)
    return folder


def test_a_broken_snippet_fails_the_lesson_and_the_exit_code(tmp_path, monkeypatch, capsys):
    _planted_lesson(tmp_path, monkeypatch,
                    "# Lesson 1 — planted\n\n```python\nx = 1\nprint('first ran')\n```\n\n"
                    "```text\nnot code\n```\n\n```python\nassert x == 2, 'planted failure'\n```\n\n"
                    "```python\nprint('never')\n```\n")
    results = lessons.run_lesson(1)
    assert [r.success for r in results] == [True, False]
    assert "planted failure" in results[1].error and "01_planted.md" in results[1].error
    assert lesson_main(1, out=tmp_path / "out") == 1
    out, err = capsys.readouterr()
    assert "first ran" in out and "planted failure" in err and "failed unexpectedly" in err
    assert "never" not in out.replace("print('never')", "")
    assert [r.success for r in lessons.run_lesson(1, stop_on_error=False)] == [True, False, True]


def test_runner_prints_text_marks_wrong_snippets_and_saves_figures_into_out(tmp_path, monkeypatch, capsys):
    _planted_lesson(tmp_path, monkeypatch,
                    "# Lesson 1 — planted\n\n## Part one\n\nThe flow $\\dot W = -G$ and **bold**.\n\n"
                    "```python\nfrom matplotlib.figure import Figure\nfrom dmf_edu.course import show\n"
                    "fig = Figure()\nfig.subplots().plot([0, 1])\nshow(fig, 'planted.png')\n```\n\n"
                    "```python wrong-on-purpose\nprint('[FAILED] planted: a deliberately wrong answer')\n```\n\n"
                    "Closing words.\n")
    monkeypatch.delenv(figures.OUTPUT_ENV, raising=False)
    assert lesson_main(1, out=tmp_path / "figs") == 0
    out = capsys.readouterr().out
    assert "Part one\n--------" in out and "Ẇ = −G" in out and "**" not in out
    assert "WRONG ON PURPOSE" in out and "expected failure, the point of this snippet" in out
    assert "rejected as intended" in out and "1 wrong on purpose" in out and "Closing words." in out
    assert out.index("Part one") < out.index("snippet 1/2") < out.index("snippet 2/2") < out.index("Closing")
    assert (tmp_path / "figs" / "planted.png").is_file()
    assert f"figure: {tmp_path / 'figs' / 'planted.png'}" in out
    assert lesson_main(9) == 2 and "no lesson 9" in capsys.readouterr().err     # (the planted course has one lesson)


def test_a_real_lesson_through_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "dmf_edu", "lesson", "2", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Balancedness" in proc.stdout and "Ḋⱼ" in proc.stdout and "\\frac" not in proc.stdout
    assert "WRONG ON PURPOSE" in proc.stdout and "[FAILED]" in proc.stdout
    assert (tmp_path / "o" / "lesson2_balancedness.png").is_file()
    assert not list(tmp_path.glob("*.png"))


def test_unclosed_blocks_and_bad_names_are_clear_errors(tmp_path, monkeypatch):
    _planted_lesson(tmp_path, monkeypatch, "# Lesson 1 — bad\n\n```python\nx = 1\n")
    with pytest.raises(ValueError, match="never closed"):
        lessons.snippets(1)
    with pytest.raises(ValueError, match="no lesson 4"):
        lessons.lesson_path(4)
    with pytest.raises(TypeError, match="integer"):
        lessons.lesson_path("1")
    with pytest.raises(ValueError, match="plain file name"):
        figures.figure_path("../escape.png")


def test_figure_folder_defaults_to_dmf_edu_lessons_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(figures.OUTPUT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert Path(figures.figure_path("x.png")).resolve() == tmp_path / "dmf-edu-lessons" / "x.png"


# --------------------------------------------------------------------------- worked solutions

@pytest.mark.parametrize("lesson", LESSONS, ids=lambda ls: ls.path.stem)
def test_every_exercise_has_a_worked_solution_apart_from_the_lesson(lesson):
    for key, (text, name) in solutions.sections(lesson.number).items():
        assert name or "**Rubric.**" in text, f"written exercise {key} needs a rubric"
    numbers = _exercise_numbers(lesson)
    found = solutions.sections(lesson.number)
    assert list(found) == numbers
    checkable = {n for n in course.names() if REGISTRY[n].lesson == lesson.number}
    assert {c for _, c in found.values() if c} == checkable
    for key, (text, name) in found.items():
        assert len(text.split()) > 60, f"{key}: too short to be a worked solution"
        if name:
            assert f"def solution_{name}" in text                # the reference code, filled in
    assert solutions.solutions_path(lesson.number) != lesson.path


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda ls: ls.path.stem)
def test_solution_code_runs(lesson, monkeypatch, tmp_path):
    """The python blocks of a solutions page run (blocks fenced ``python slow`` are long experiments)."""
    monkeypatch.setenv(figures.OUTPUT_ENV, str(tmp_path))
    code = re.findall(r"^```python\n(.*?)^```", solutions.solutions_text(lesson.number), flags=re.M | re.S)
    namespace = {"__name__": "__main__"}
    for k, source in enumerate(code):
        if "def solution_" in source:
            continue
        exec(compile(source, f"<solutions {lesson.number} block {k}>", "exec"), namespace)   # noqa: S102


def test_solution_by_number_and_by_name(capsys):
    text = course.solution("1.3")
    assert isinstance(text, str) and "**Rubric.**" in capsys.readouterr().out
    assert callable(course.solution("1.2")) and "W_2ᵀ G" in capsys.readouterr().out   # now checkable
    ref = course.solution("1.1")
    assert course.check("layer_gradients", ref).success
    assert "def solution_layer_gradients" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no exercise 1.9"):
        course.solution("1.9")
    with pytest.raises(ValueError, match="unknown exercise"):
        course.solution("gradient")


def test_solutions_cli_prints_readable_text(capsys):
    assert lesson_main(5, solutions=True) == 0
    out = capsys.readouterr().out
    assert "5.1" in out and "5.2" in out and "5.3" in out and "def solution_completion_schatten_norm" in out
    assert "{{reference" not in out
    for lesson in LESSONS:
        text = to_terminal(solutions.solutions_text(lesson.number))
        prose = re.sub(r"^    .*$", "", text, flags=re.M)          # code blocks are indented
        assert not re.search(r"\\[A-Za-z]+|\$\$|\*\*[A-Za-z]|`", prose), lesson.number      # (x ** 2 is code)


# --------------------------------------------------------------------------- the package's layout

COURSE = Path(lessons.__file__).parent
# each module of dmf_edu.course imports from the course only modules listed before it (no cycles)
COURSE_ORDER = ("figures", "lessons", "markdown", "checking", "exercises", "exercises_depth", "checkers",
                "exercises_written", "solutions", "notebook", "runner", "sandbox", "submissions", "gradebook",
                "grader", "release")
LAZY_OK = ("matplotlib", "sympy", "IPython")


def test_course_modules_import_public_names_at_the_top_from_lower_modules_only():
    import ast

    assert {p.stem for p in COURSE.glob("*.py")} == {"__init__", *COURSE_ORDER}
    for rank, stem in enumerate(COURSE_ORDER):
        tree = ast.parse((COURSE / f"{stem}.py").read_text(encoding="utf-8"))
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            module = (node.module or "") if isinstance(node, ast.ImportFrom) else node.names[0].name
            if id(node) not in top:
                assert module.split(".")[0] in LAZY_OK, f"{stem}.py line {node.lineno}: lazy import of {module}"
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                targets = [module] if module else [a.name for a in node.names]
                for target in targets:
                    assert COURSE_ORDER.index(target) < rank, f"{stem}.py imports the higher module {target}"
                assert not any(a.name.startswith("_") for a in node.names), (
                    f"{stem}.py line {node.lineno} imports a private name from .{module}")


def test_release_writes_student_notebooks_without_solutions(tmp_path, capsys):
    import argparse

    parser = release.add_arguments(argparse.ArgumentParser())
    assert release.main(parser.parse_args([str(tmp_path / "students"), "--no-solutions"])) == 0
    written = sorted(p.name for p in (tmp_path / "students").iterdir())
    assert written == sorted([notebook.notebook_name(ls.number) for ls in LESSONS] + ["README.md"])
    for ls in LESSONS:
        text = (tmp_path / "students" / notebook.notebook_name(ls.number)).read_text(encoding="utf-8")
        assert "def solution_" not in text and "Worked solutions are kept apart" not in text
        assert text.count('"exercise"') == sum(REGISTRY[n].lesson == ls.number for n in course.names())
    assert release.main(parser.parse_args([str(tmp_path / "teacher")])) == 0
    assert len(list((tmp_path / "teacher" / "solutions").glob("*.md"))) == len(LESSONS)
    (tmp_path / "file").write_text("x")
    assert release.main(parser.parse_args([str(tmp_path / "file")])) == 2
    assert "not a folder" in capsys.readouterr().err
