"""`concurrency-lab` / `python -m app`: serve the lab with uvicorn (on 127.0.0.1 unless told otherwise);
`concurrency-lab class`: serve it to a class on the network (app/web/classroom.py); `concurrency-lab worker`:
be a runner node; `concurrency-lab lessons check`: check the lesson files (app/model/lesson_files.py)."""

from __future__ import annotations

import argparse
import copy
import gc
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.settings import Settings, get_settings
from experiments.harness.wording import plural

if TYPE_CHECKING:
    from fastapi import FastAPI

# The web side (uvicorn, FastAPI, the app, its templates) is imported by the commands that serve, not at the
# top: a runner node and the checks never use it, and it is half a start's CPU (~0.8 s here, with bytecode).


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="concurrency-lab", description=__doc__)
    parser.add_argument("--host", default=settings.host, help=f"address to listen on (default {settings.host})")
    parser.add_argument("--port", type=int, default=settings.port, help=f"port (default {settings.port})")
    commands = parser.add_subparsers(
        dest="command", metavar="class|worker|lessons|experiments", help="without one: serve the lab"
    )
    lesson = commands.add_parser(
        "class",
        help="serve a class on this machine's network: prints the students' "
        "address, a QR code and your presenter link (docs/teacher.md)",
    )
    lesson.add_argument(
        "--host",
        default="0.0.0.0",
        help="address to listen on (default 0.0.0.0: every interface; 127.0.0.1 behind a proxy on this machine)",
    )
    lesson.add_argument("--port", type=int, default=settings.port, help=f"port (default {settings.port})")
    lesson.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="NAME",
        help="a name students may type for this machine, e.g. lab.local (repeatable)",
    )
    worker = commands.add_parser("worker", help="a runner node: run the runs queued on Redis (docs/distributed.md)")
    worker.add_argument("--redis", default=settings.redis_url, help="Redis URL (default LAB_REDIS_URL)")
    worker.add_argument("--name", default=None, help="this node's name, unique among the nodes (default host-pid)")
    worker.add_argument(
        "--module",
        action="append",
        default=[],
        metavar="MODULE",
        help="an experiment module to offer beside the catalogue's (repeatable)",
    )
    lessons = commands.add_parser("lessons", help="the lessons a class follows (docs/lessons.md)")
    lessons_commands = lessons.add_subparsers(dest="lessons_command", metavar="check", required=True)
    check = lessons_commands.add_parser(
        "check",
        help="check every lesson in lessons/ and LAB_LESSONS_DIR against this lab's experiments and interpreters",
    )
    check.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="lesson files or directories to check instead (default: lessons/ and LAB_LESSONS_DIR)",
    )
    checks = commands.add_parser("experiments", help="your own experiments (LAB_EXPERIMENTS_DIR, docs/experiments.md)")
    checks.add_argument("action", choices=["check"], help="check them as the lab does at start")
    checks.add_argument("--dir", type=Path, default=settings.experiments_dir, help="(default LAB_EXPERIMENTS_DIR)")
    args = parser.parse_args(argv)
    if args.command == "lessons":
        sys.exit(check_lessons(settings, args.paths))
    if args.command == "experiments":
        sys.exit(check_experiments(settings, args.dir))
    if args.command == "worker":
        work(settings, args.redis, args.name, tuple(args.module))
        return
    if args.command == "class":
        serve_class(settings, args.host, args.port, args.name)
        return
    from app.web.server import create_app

    # The address it binds to is part of the settings: the Host check answers to a name it was bound by.
    settings = settings.model_copy(update={"host": args.host, "port": args.port})
    serve(create_app(settings), settings, host=args.host, port=args.port)


def work(settings: Settings, redis_url: str | None, name: str | None, modules: tuple[str, ...]) -> None:
    """Be a runner node (app/running/node.py) until SIGTERM."""
    import asyncio
    import logging

    from app.running.node import default_name
    from app.running.node import work as node_work
    from experiments import MODULES

    if not redis_url:
        raise SystemExit("concurrency-lab worker: give the Redis to take runs from: --redis URL or LAB_REDIS_URL")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = settings.model_copy(update={"redis_url": redis_url})
    asyncio.run(node_work(settings, name or default_name(), MODULES + modules))


def check_lessons(settings: Settings, paths: list[Path]) -> int:
    """Print each lesson (id, title, steps, minutes), or else each error on its own line: checked against the
    catalogue the server offers, the `python` param naming the same interpreters. 1 if any error, else 0."""
    from app.model import lesson_files
    from app.model.experiments import catalogue
    from app.model.own_experiments import add_own
    from app.running import pythons
    from experiments import MODULES

    interpreters = pythons.offered(settings.python, settings.pythons)
    lab_params = (pythons.param(interpreters),)
    # The teacher's own experiments too (LAB_EXPERIMENTS_DIR): a lesson may name one, as the server offers it.
    experiments, _ = add_own(catalogue(MODULES, pythons.lab_params(interpreters)), settings.experiments_dir, lab_params)
    lessons, errors = lesson_files.load(paths or lesson_files.places(settings.lessons_dir), experiments)
    if errors:
        print(*errors, sep="\n", file=sys.stderr)
        print(f"lessons check: {plural(len(errors), 'error')}", file=sys.stderr)
        return 1
    for lesson in lessons:
        steps = len(lesson.steps)
        print(f"{lesson.id}: {lesson.title} ({plural(steps, 'step')}, {lesson.minutes} minutes)")
    return 0


def check_experiments(settings: Settings, directory: Path | None) -> int:
    """Check the teacher's experiments as the lab does at start: each file served or what is wrong with it.
    Exit status 0: all served; 1: a file is left out; 2: no directory to check."""
    from app.model.experiments import catalogue
    from app.model.own_experiments import add_own, summary
    from app.running import pythons

    if directory is None:
        print(
            "concurrency-lab experiments check: give the directory: --dir PATH or LAB_EXPERIMENTS_DIR", file=sys.stderr
        )
        return 2
    directory = directory.expanduser().resolve()
    # Only the `python` param's name matters to the check: not every interpreter found is asked its version.
    lab_params = (pythons.param(pythons.offered(settings.python, settings.pythons or [settings.python])),)
    experiments, problems = add_own(catalogue(lab_params=lab_params), directory, lab_params)
    print("\n".join(summary(directory, experiments, problems)))
    return 1 if problems else 0


def serve_class(settings: Settings, host: str, port: int, names: list[str]) -> None:
    """Listen (on every interface unless told `host`; the port bound first, so that what is printed is where
    it listens), then print the class's addresses, the teacher's link and the QR code, and serve."""
    from app.web.classroom import admin_token, banner, class_settings, oncpu_line
    from app.web.join import interface_addresses, reachable_addresses
    from app.web.server import create_app
    from experiments.harness import sampler

    listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as error:
        raise SystemExit(
            f"concurrency-lab class: cannot listen on port {port}: {error.strerror}. "
            "Another lab running? Stop it, or choose another port: --port 8001"
        ) from None
    listening.listen(2048)
    token = admin_token(settings)
    settings = class_settings(settings, token, host, listening.getsockname()[1], names)
    source = sampler.source_here(settings.oncpu_source, settings.oncpu_pretend_paranoid) if settings.oncpu else {}
    print(
        banner(
            settings,
            token,
            reachable_addresses(host, interface_addresses()),
            names,
            settings.port,
            oncpu_line(settings, source),
        ),
        flush=True,
    )
    try:
        serve(create_app(settings), settings, sockets=[listening])
    except KeyboardInterrupt:  # Ctrl-C: before the server started, or after it shut down (uvicorn re-raises it)
        pass


def serve(app: FastAPI, settings: Settings, sockets: list[socket.socket] | None = None, **options: Any) -> None:
    """Compile the templates, tune the collector, then serve `app` (benchmarks/serve.py serves this way too):
    on `sockets` already bound, or where `options` say (host, port)."""
    import uvicorn

    from app.drawing.environment import warm_up

    warm_up(app.state.templates.env)
    tune_collector()
    if sockets is None:
        uvicorn.run(app, **options, **uvicorn_options(settings))
        return
    server = uvicorn.Server(uvicorn.Config(app, **options, **uvicorn_options(settings)))
    server.run(sockets=sockets)
    if not server.started:
        sys.exit(1)


GC_YOUNG_THRESHOLD = 10_000  # Python's default is 700


def tune_collector() -> None:
    """Collect cycles less often, and never look again at what start-up built.

    Parsing a flood makes a list per wire event (json.loads) and a tuple per Event: at Python's
    default threshold a young collection ran every ~700 of them, some 20% of the ingest path's CPU
    (benchmarks/throughput.py's parse+fold: 320 000 -> 370 000 events per CPU s at 10 000). Frozen,
    the app's own objects (routes, templates, modules) are no longer scanned by full collections.
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What the server is run with, beside host and port (the tests serve the app with the same)."""
    from app.web import header_deadline

    # ws_max_size: a bigger frame from a browser is refused (1009) before it is buffered.
    # permessage-deflate keeps compression state per connection, so every viewer's socket
    # compressed the same frame again: with 200 viewers of one run, a quarter of the server's CPU
    # (benchmarks/fanout.py). Frames are small HTML fragments: send them as they are.
    # proxy_headers off: the app believes X-Forwarded-For only from LAB_TRUSTED_PROXIES (app/web/clients.py),
    # where uvicorn's would believe FORWARDED_ALLOW_IPS, which deployments set to "*".
    # http: uvicorn's own protocol with a deadline and a size bound for a request's line and headers, which
    # uvicorn has neither of (app/web/header_deadline.py). h11's own bound on an incomplete event backs it up
    # (a 400 for one chunk far past the bound, before the protocol has counted it).
    return {
        "http": header_deadline.protocol(settings.header_timeout_s, settings.max_header_bytes),
        "h11_max_incomplete_event_size": 2 * settings.max_header_bytes,
        "proxy_headers": False,
        "ws_max_size": settings.max_ws_message_bytes,
        "ws_per_message_deflate": False,
        "log_config": log_config(),
    }


def log_config() -> dict[str, Any]:
    """uvicorn's logging, and the app's loggers (`app.*`: what they caught, with its traceback) on the same
    stderr from INFO up, each line naming its module. They still propagate: a handler on the root (pytest's
    caplog) sees them too; uvicorn's config puts none there, so nothing is written twice."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["app"] = {
        "()": "uvicorn.logging.DefaultFormatter",
        "fmt": "%(levelprefix)s %(name)s: %(message)s",
        "use_colors": None,
    }
    config["handlers"]["app"] = {"class": "logging.StreamHandler", "formatter": "app", "stream": "ext://sys.stderr"}
    config["loggers"]["app"] = {"handlers": ["app"], "level": "INFO", "propagate": True}
    return config


if __name__ == "__main__":
    main()
