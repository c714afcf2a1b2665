"""The key that signs client cookies (app/storage/lab_secret.py): made once, kept beside the database or in
Redis, the same for every server of a lab; and a cookie signed by a lab stays good after it restarts."""

from __future__ import annotations

import asyncio
import stat
import threading

from fastapi.testclient import TestClient
from redis.asyncio import Redis

from app.storage.lab_secret import file_secret, redis_secret, secret_file
from app.web.clients import COOKIE, verified
from app.web.server import create_app
from tests.helpers import TEST_MODULES, make_settings


def test_the_secret_is_made_once_beside_the_database_readable_only_by_its_owner(tmp_path):
    path = secret_file(str(tmp_path / "lab.db"))
    assert path is not None and path == tmp_path / "lab.db.secret"
    first = file_secret(path)
    assert len(first) == 32 and file_secret(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["lab.db.secret"]  # nothing left aside


def test_servers_starting_at_once_on_one_database_agree_on_its_secret(tmp_path):
    path = tmp_path / "lab.db.secret"
    found: list[bytes] = []
    threads = [threading.Thread(target=lambda: found.append(file_secret(path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and len(set(found)) == 1


def test_a_database_in_memory_has_a_secret_of_its_own_each_time():
    assert secret_file(":memory:") is None
    assert file_secret(None) != file_secret(None)


def test_every_replica_reads_the_secret_the_first_set_in_redis(redis_server):
    async def replicas() -> list[bytes]:
        async with Redis.from_url(redis_server.url) as a, Redis.from_url(redis_server.url) as b:
            return list(await asyncio.gather(*(redis_secret(r) for r in (a, b, a, b))))

    found = asyncio.run(replicas())
    assert len(set(found)) == 1 and len(found[0]) == 32


def test_a_cookie_the_lab_gave_is_still_good_after_it_restarts(tmp_path):
    settings = make_settings(database=str(tmp_path / "lab.db"))
    app = create_app(settings, modules=TEST_MODULES)
    with TestClient(app) as c:
        given = c.get("/healthz").headers["set-cookie"].split(";")[0].split("=", 1)[1]
        key = app.state.client_key
    restarted = create_app(settings, modules=TEST_MODULES)
    with TestClient(restarted) as c:
        assert restarted.state.client_key == key and verified(key, given)
        assert "set-cookie" not in c.get("/healthz", headers={"cookie": f"{COOKIE}={given}"}).headers


def test_lab_secret_is_the_key_when_set(tmp_path):
    app = create_app(make_settings(secret="shared by the setting"), modules=TEST_MODULES)
    with TestClient(app):
        assert app.state.client_key == b"shared by the setting"
