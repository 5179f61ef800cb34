"""The course (dmf_edu.lessons): every snippet of every lesson runs, the figures land outside the
checkout, each lesson has its parts, and the runner reports failures (a planted broken lesson)."""

import os
import re
import time
from pathlib import Path

import pytest

from dmf_edu import exercises, lessons

CHECKOUT = Path(__file__).resolve().parents[1]
LESSONS = lessons.list_lessons()
E_LABEL = re.compile(r"\bE\d+\b")


def test_the_course_has_six_to_eight_numbered_lessons_in_the_package():
    assert 6 <= len(LESSONS) <= 8
    assert [ls.number for ls in LESSONS] == list(range(1, len(LESSONS) + 1))
    for ls in LESSONS:
        assert ls.path.parent == lessons.lesson_dir()
        assert ls.path.is_relative_to(Path(lessons.__file__).parent)   # package data, not docs/
        assert not ls.title.startswith("Lesson")


def test_docs_index_links_every_lesson_and_is_not_a_second_copy():
    index = (CHECKOUT / "docs" / "lessons" / "README.md").read_text(encoding="utf-8")
    for ls in LESSONS:
        assert f"dmf_edu/lessons_md/{ls.path.name}" in index
    assert not list((CHECKOUT / "docs" / "lessons").glob("0*.md"))


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda ls: ls.path.stem)
def test_every_lesson_has_goal_math_snippets_figure_and_exercises(lesson):
    text = lesson.path.read_text(encoding="utf-8")
    assert "**Goal.**" in text and "## Exercises" in text
    assert E_LABEL.search(text) or re.search(r"\bX\d\b", text)
    code = [s.source for s in lessons.snippets(lesson.number)]
    assert len(code) >= 3
    assert sum("figure_path(" in c and ".savefig(" in c for c in code) >= 1
    exercises_part = text.split("## Exercises", 1)[1]
    assert 1 <= len(re.findall(r"^\*\*\d\.\d", exercises_part, flags=re.M)) <= 3


def test_checkable_exercises_are_set_in_their_lessons():
    for name in exercises.names():
        number = exercises._REGISTRY[name].lesson
        assert f'"{name}"' in lessons.lesson_path(number).read_text(encoding="utf-8"), name


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda ls: ls.path.stem)
def test_every_snippet_runs_in_seconds_and_figures_go_to_the_output_folder(lesson, tmp_path):
    def stray_pngs():
        return set(CHECKOUT.glob("*.png")) | set(Path.cwd().glob("*.png"))
    before = stray_pngs()
    start = time.perf_counter()
    results = lessons.run_lesson(lesson.number, output=tmp_path)
    elapsed = time.perf_counter() - start
    failed = [r for r in results if not r.ok]
    assert not failed, f"snippet {failed[0].snippet.index} (line {failed[0].snippet.line}):\n{failed[0].error}"
    assert len(results) == len(lessons.snippets(lesson.number))
    assert max(r.seconds for r in results) < 20, [round(r.seconds, 2) for r in results]
    assert elapsed < 40
    pngs = list(tmp_path.glob("*.png"))
    assert pngs and all(p.stat().st_size > 5000 for p in pngs)
    assert stray_pngs() == before                          # no figure written into the checkout
    assert lessons.OUTPUT_ENV not in os.environ or os.environ[lessons.OUTPUT_ENV] != str(tmp_path)


def _planted_lesson(tmp_path, monkeypatch, body):
    folder = tmp_path / "lessons_md"
    folder.mkdir()
    (folder / "01_planted.md").write_text(body, encoding="utf-8")
    monkeypatch.setattr(lessons, "lesson_dir", lambda: folder)
    return folder


def test_a_broken_snippet_fails_the_lesson_and_the_cli_exit_code(tmp_path, monkeypatch, capsys):
    _planted_lesson(tmp_path, monkeypatch,
                    "# Lesson 1 — planted\n\n```python\nx = 1\nprint('first ran')\n```\n\n"
                    "```text\nnot code\n```\n\n```python\nassert x == 2, 'planted failure'\n```\n\n"
                    "```python\nprint('never')\n```\n")
    results = lessons.run_lesson(1)
    assert [r.ok for r in results] == [True, False]
    assert "planted failure" in results[1].error and "01_planted.md" in results[1].error
    assert results[0].stdout == "first ran\n"
    assert lessons.lesson_main(1) == 1
    out, err = capsys.readouterr()
    assert "01_planted.md" in out and "planted failure" in err and "never" not in out
    assert [r.ok for r in lessons.run_lesson(1, stop_on_error=False)] == [True, False, True]


def test_lesson_main_prints_the_path_and_succeeds_on_a_good_lesson(tmp_path, monkeypatch, capsys):
    folder = _planted_lesson(tmp_path, monkeypatch, "# Lesson 1 — ok\n\n```python\nprint(2 + 2)\n```\n")
    monkeypatch.setenv(lessons.OUTPUT_ENV, str(tmp_path / "out"))
    assert lessons.lesson_main(1) == 0
    out = capsys.readouterr().out
    assert str(folder / "01_planted.md") in out and "4\n" in out and "all 1 snippets ran" in out
    assert lessons.lesson_main(9) == 2
    assert "no lesson 9" in capsys.readouterr().err


def test_unclosed_blocks_and_bad_names_are_clear_errors(tmp_path, monkeypatch):
    _planted_lesson(tmp_path, monkeypatch, "# Lesson 1 — bad\n\n```python\nx = 1\n")
    with pytest.raises(ValueError, match="never closed"):
        lessons.snippets(1)
    with pytest.raises(ValueError, match="no lesson 4"):
        lessons.lesson_path(4)
    with pytest.raises(TypeError, match="integer"):
        lessons.lesson_path("1")
    with pytest.raises(ValueError, match="plain file name"):
        lessons.figure_path("../escape.png")


def test_figure_path_defaults_to_the_temp_folder(monkeypatch):
    monkeypatch.delenv(lessons.OUTPUT_ENV, raising=False)
    path = Path(lessons.figure_path("x.png"))
    assert not path.is_relative_to(CHECKOUT) and path.parent.is_dir()
