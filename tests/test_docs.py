"""The documentation: its generated tables are what the declarations render now, README.md
stays short and points at every page, and every relative link leads somewhere."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import docs
from pipelines.entry_points import ENTRY_POINTS, EntryPoint

from helpers.runs import REPO

README = REPO / "README.md"
PAGES = docs.pages()


def test_generated_blocks_are_what_the_declarations_render():
    stale = [str(page.relative_to(REPO)) for page in docs.stale()]
    assert stale == [], f"generated tables out of date in {stale}: run `make docs`"


def test_every_block_is_on_a_page_and_every_page_on_the_list():
    found = {m["name"] for page in PAGES for m in docs.BLOCK.finditer(page.read_text())}
    assert found == set(docs.BLOCKS)
    assert set(PAGES) == {README, *REPO.glob("docs/*.md")}


def test_a_stale_or_unknown_block_is_rewritten_or_refused(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- generated: groups -->\n| old |\n<!-- end generated -->\nend\n")
    text = docs.rendered(page)
    assert text.startswith("intro\n<!-- generated: groups -->\n\n| group | parameters |\n")
    assert "| old |" not in text and text.endswith("\n\n<!-- end generated -->\nend\n")
    assert docs.rendered(page, text) == text  # rendering is stable
    page.write_text("<!-- generated: nonsense -->\n<!-- end generated -->\n")
    with pytest.raises(SystemExit, match="unknown generated block 'nonsense'"):
        docs.rendered(page)


def test_a_new_entry_point_gets_its_row_in_the_lesson_table(monkeypatch):
    entry = EntryPoint(
        name="squares_mean",
        pipeline="squares_lesson",
        lessons="99-100,7",
        summary="the mean of a data set's target",
        shows="the mean of `y` (`-P dataset=a|b`)",
        takes=("dataset", "seed"),
    )
    monkeypatch.setitem(ENTRY_POINTS, entry.name, entry)
    row = (
        "| 99\N{EN DASH}100, 7 | [`squares_mean`](../pipelines/squares_lesson.py) | "
        "the mean of `y` (`-P dataset=a\\|b`) |"
    )
    assert row in docs.lessons(REPO / "docs" / "lessons.md").splitlines()
    assert REPO / "docs" / "lessons.md" in docs.stale()


def test_every_entry_point_says_what_its_run_shows():
    assert [name for name, entry in ENTRY_POINTS.items() if not entry.shows.strip()] == []


def test_the_renderer_imports_nothing_heavy():
    heavy = ("tensorflow", "keras", "mlflow", "optuna", "jax", "torch", "sklearn", "pandas")
    code = f"import sys, pipelines.docs; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_readme_is_short_and_links_every_page():
    lines = README.read_text().splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines: move detail to docs/"
    linked = {REPO / target for _, target, _ in links(README)}
    assert sorted(set(REPO.glob("docs/*.md")) - linked) == []


# ---------------------------------------------------------------- links


def without_code(text: str) -> str:
    """Markdown outside fenced blocks and code spans, where links are links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """A heading's anchor as GitHub writes it."""
    text = heading.strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    for match in re.finditer(r"^#+ (.+)$", text, flags=re.M):
        base = slug(match[1])
        anchor, n = base, 0
        while anchor in found:  # GitHub numbers repeated headings
            n += 1
            anchor = f"{base}-{n}"
        found.add(anchor)
    return found


def links(page: Path, text: str | None = None) -> list[tuple[str, Path, str]]:
    """(link as written, target file relative to the repository, anchor) of `page`'s
    relative links and images."""
    text = page.read_text() if text is None else text
    found = []
    for match in re.finditer(r"!?\[[^\]]*\]\(([^)\s]+)\)", without_code(text)):
        written = match[1]
        if re.match(r"[a-z]+:", written):
            continue  # http(s), mailto: not ours to check here
        path, _, anchor = written.partition("#")
        target = (page.parent / path).resolve() if path else page
        found.append((written, target.relative_to(REPO), anchor))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_points_at_an_existing_file_and_heading(page):
    broken = []
    for written, target, anchor in links(page):
        path = REPO / target
        if not path.exists():
            broken.append(f"{written}: no file {target}")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{written}: no heading #{anchor} in {target}")
    assert broken == []


def test_the_link_check_reads_links_as_github_does():
    assert slug("Serving: `make serve`") == "serving-make-serve"
    assert slug("What happens when…") == "what-happens-when"
    page = REPO / "docs" / "lessons.md"
    written = "[a](nowhere.md) [b](runs.md#no-such-heading) `[c](skipped.md)` [d](https://x.org)"
    assert [(w, str(t), a) for w, t, a in links(page, written)] == [
        ("nowhere.md", "docs/nowhere.md", ""),
        ("runs.md#no-such-heading", "docs/runs.md", "no-such-heading"),
    ]


# ---------------------------------------------------------------- make bench's table


def test_make_bench_writes_its_table_between_the_markers_of_the_performance_page(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.PAGE == REPO / "docs" / "performance.md"
    text = bench.PAGE.read_text()
    assert text.index(bench.START) < text.index(bench.END)
    page = tmp_path / "performance.md"
    page.write_text(f"## Speed\n{bench.START}\nold\n{bench.END}\nafter\n")
    bench.update_page(page, "# make bench: new\n\n| a |\n")
    assert (
        page.read_text()
        == f"## Speed\n{bench.START}\nmake bench: new\n\n| a |\n{bench.END}\nafter\n"
    )
