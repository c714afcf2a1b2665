"""The home page reads like the tutorial: its sections in its order; every page has a visible header and an icon."""

from __future__ import annotations

import re

from app.model.experiments import OTHERS, catalogue, sections
from experiments import MODULES, SECTIONS


def test_every_experiment_is_in_one_section_in_the_tutorials_order():
    listed = [module for _, modules in SECTIONS for module in modules]
    assert listed == list(MODULES)


def test_experiments_outside_the_tutorial_come_last_under_their_own_heading():
    grouped = sections(catalogue(MODULES + ("tests.fixtures.experiment_quick",)))
    assert [title for title, _ in grouped] == [title for title, _ in SECTIONS] + [OTHERS]
    assert [e.module for e in grouped[-1][1]] == ["tests.fixtures.experiment_quick"]


def test_the_home_page_shows_the_sections_as_headings_in_order(client):
    page = client.get("/").text
    headings = re.findall(r'<h2 id="section-\d+">([^<]+)</h2>', page)
    assert headings[: len(SECTIONS)] == [title for title, _ in SECTIONS]
    synchronization = page[page.index(">Thread synchronization<") : page.index(">Thread pools<")]
    assert [m for m in re.findall(r'href="/experiments/([a-z-]+)"', synchronization)] == [
        "lock-counter",
        "rlock-counter",
        "condition-dialogue",
        "semaphore-crawler",
    ]


def test_every_page_has_the_header_links_and_the_favicon(client):
    for path in ("/", "/runs", "/experiments/race-counter", "/presenter"):
        page = client.get(path).text
        nav = page[page.index('<nav aria-label="Site">') : page.index("</nav>")]
        assert 'href="/runs">History<' in nav and 'href="/presenter">Presenter<' in nav, path
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
