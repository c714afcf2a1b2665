"""The code the pages show: highlighted on the server, the lab's parts set apart, the fix as a diff."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from app.drawing.code import code_view, highlight, variant_source, view_of
from app.model.experiments import catalogue

CATALOGUE = catalogue()
CSS = (Path(__file__).resolve().parents[2] / "static" / "pygments.css").read_text()
VARIANTS = {e.id for e in CATALOGUE.values() if any(p.name == "variant" for p in e.params)}


def text(markup: object) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", str(markup)))


@pytest.mark.parametrize("exp_id", sorted(CATALOGUE))
def test_highlighting_keeps_every_line_and_each_class_has_a_colour_in_the_stylesheet(exp_id):
    source = CATALOGUE[exp_id].source
    lines = highlight(source)
    assert [text(line) for line in lines] == source.splitlines()
    classes = set(re.findall(r'class="([a-z0-9]+)"', "".join(lines)))
    assert classes and all(re.search(rf"^\.hl \.{cls} \{{", CSS, re.M) for cls in classes), classes


def test_the_metadata_and_the_labs_functions_are_folded_and_recorder_calls_greyed():
    view = view_of(CATALOGUE["race-counter"])
    folded = [b for b in view.blocks if b.summary]
    assert folded[0].summary.startswith("The experiment's metadata: ID, TITLE, SUMMARY, KIND")
    assert text(folded[0].lines[0].html).startswith("ID = ")
    starts = {text(b.lines[0].html).split("(")[0] for b in folded[1:]}
    assert starts == {"def bytecode", "def findings", "def verdict"}  # the lab's, not the tutorial's
    plumbing = {text(line.html).strip() for b in view.blocks for line in b.lines if line.plumbing}
    assert 'with rec.activity("start threads", "phase"):' in plumbing
    assert "from experiments.harness.recorder import gil_enabled, traced" in plumbing
    shown = [text(line.html) for b in view.blocks if not b.summary for line in b.lines]
    assert "def increment_with_window(iterations):" in shown
    assert not any(line.plumbing for b in view.blocks for line in b.lines if "counter" in text(line.html))
    # every line once, in order
    assert [line.number for b in view.blocks for line in b.lines] == list(
        range(1, len(CATALOGUE["race-counter"].source.splitlines()) + 1)
    )


def test_each_variant_runs_its_own_branches():
    source = CATALOGUE["mp-pipe"].source
    tutorial, fixed = variant_source(source, "tutorial"), variant_source(source, "fixed")
    assert "target=sender_closing_unused" in fixed and "target=sender_closing_unused" not in tutorial
    assert (
        "target=sender," in tutorial
        and 'params["variant"]' not in tutorial.split("def run(")[1].split("def findings")[0]
    )
    semaphore = CATALOGUE["semaphore-crawler"].source
    assert "with self.semaphore:\n                self.start_crawler(url)" in variant_source(semaphore, "tutorial")
    assert "for url in urls:\n            self.start_crawler(url)" in variant_source(semaphore, "fixed")


def test_every_experiment_with_a_fixed_variant_shows_what_the_fix_changes():
    assert {
        "shared-list-polling",
        "queue-producer-consumer",
        "condition-dialogue",
        "semaphore-crawler",
        "mp-pipe",
    } <= VARIANTS
    for exp_id, exp in CATALOGUE.items():
        diffs = view_of(exp).diffs
        assert bool(diffs) == (exp_id in VARIANTS), exp_id
        for d in diffs:
            signs = {line.sign for hunk in d.hunks for line in hunk}
            assert {"+", "-"} & signs, (exp_id, d.title)
    polling = view_of(CATALOGUE["shared-list-polling"]).diffs
    assert [d.title for d in polling][1] == "process_data() as the tutorial wrote it → process_data_fixed()"
    added = [text(line.html) for hunk in polling[0].hunks for line in hunk if line.sign == "+"]
    assert "        data_queue.append(None)  # one sentinel per poller, after the last item" in added


def test_a_module_without_variants_has_no_diff():
    assert code_view("x = 1\n").diffs == ()


def test_experiment_and_run_pages_show_the_code_highlighted(client):
    page = client.get("/experiments/mp-pipe").text
    assert '<link rel="stylesheet" href="/static/pygments.css">' in page
    assert '<details class="fold"><summary>The experiment&#39;s metadata: ID, TITLE' in page
    assert '<span class="kn">from</span>' in page and 'class="plumbing"' in page
    assert '<section class="fix"' in page and 'class="d-add"' in page
    assert client.get("/static/pygments.css").status_code == 200
    assert '<section class="fix"' not in client.get("/experiments/race-counter").text
