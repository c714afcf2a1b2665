"""The Jinja environment the pages and frames are rendered in: the templates, and the helpers they call. A
helper of the web's (its URLs, app/web/urls.py) is added by whoever builds the app, as `extra` globals: the
drawing builds no URL.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app import ROOT
from app.drawing import output
from app.drawing.code import view_of as code_view
from app.drawing.placement import LANE_HEIGHT, LAYERS, ROW_HEIGHT, SERIES_HEIGHT, group_id
from app.drawing.result_words import words_for
from app.drawing.table import tables as timeline_tables
from app.model import lesson_reveal
from app.model.conditions import describe as describe_conditions
from app.model.conditions import fallback_words, late_words
from app.model.cpu import sentences as cpu_sentences
from app.model.sweeps import worker_choices

TEMPLATES = ROOT / "templates"


def environment(extra: Mapping[str, Any] | None = None) -> Environment:
    # auto_reload off: templates do not change under a running server, and checking their files'
    # mtimes on every render cost a few percent of a busy frame loop.
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False)
    env.globals.update(
        lane_height=LANE_HEIGHT,
        row_height=ROW_HEIGHT,
        series_height=SERIES_HEIGHT,
        layers=LAYERS,
        group_id=group_id,
        describe_conditions=describe_conditions,
        cpu_sentences=cpu_sentences,
        oncpu_fallback=fallback_words,
        oncpu_late=late_words,
        lane_colour=output.lane_colour,
        result_words=words_for,
    )
    env.globals.update(code_view=code_view)  # an experiment's code as the pages show it (app/drawing/code.py)
    env.globals.update(timeline_tables=timeline_tables)  # the timeline as text (app/drawing/table.py)
    env.globals.update(sweep_choices=worker_choices)  # the experiment page's "Sweep workers" (app/model/sweeps.py)
    env.filters["datetime"] = when
    env.globals["shared_cores"] = lesson_reveal.SHARED_CORES  # a class's run marked as sharing the machine
    env.filters["measured"] = lesson_reveal.number  # a run's measure as the reveal's bars say it: 0, not 0.0
    env.globals.update(extra or {})
    return env


def when(unix_s: float) -> str:
    """A moment as pages say it: the day and the minute, in UTC (a server's clock has no class's time zone)."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(unix_s))


def warm_up(env: Environment) -> None:
    """Compile every template now, not on the first page or frame a user waits for (some 0.1 s)."""
    for name in env.list_templates(filter_func=lambda name: name.endswith(".html")):
        env.get_template(name)
