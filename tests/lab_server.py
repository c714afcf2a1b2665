"""`python -m tests.lab_server PORT`: the real server (uvicorn) with the test-only experiments, for restart tests.

Settings come from the environment (LAB_DATABASE, ...), as for `python -m app`.
"""
from __future__ import annotations

import sys

import uvicorn

from app.settings import Settings
from app.web.server import create_app
from tests.conftest import TEST_MODULES

if __name__ == "__main__":
    uvicorn.run(create_app(Settings(), modules=TEST_MODULES), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
