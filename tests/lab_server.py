"""`python -m tests.lab_server FD`: the real server (uvicorn) with the test-only experiments, for restart tests.

It serves on the listening socket it inherits as file descriptor FD (tests/helpers.py's ServerProcess
binds it), so no other process can take the port between its choice and the server's start.
Settings come from the environment (LAB_DATABASE, ...), as for `python -m app`.
"""

from __future__ import annotations

import sys

import uvicorn

from app.settings import Settings
from app.web.server import create_app
from tests.helpers import TEST_MODULES

if __name__ == "__main__":
    from app.__main__ import uvicorn_options

    settings = Settings()
    # As `python -m app` serves (whom it believes X-Forwarded-For from, the header deadline), uvicorn's own logging.
    options = {key: value for key, value in uvicorn_options(settings).items() if key != "log_config"}
    uvicorn.run(create_app(settings, modules=TEST_MODULES), fd=int(sys.argv[1]), log_level="warning", **options)
