"""`gqlorders installation reset`: a database cloned from another installation's (staging built
from a production backup) gets an id, hence an arq queue, of its own (review of issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

from tortoise.timezone import now

from gqlorders import jobs
from gqlorders.models import OutboxJob
from tests.live_server import gqlorders, server_env, throwaway_database
from tests.support import Organization
from tests.workers.conftest import REDIS_URL
from tests.workers.support import jobs_since, last_job_id


async def test_a_reset_gives_a_new_id_and_the_jobs_not_done_new_job_ids_in_the_outbox(
    org: Organization,
) -> None:
    # Given jobs waiting, handed on (to the original's queue), and done
    previous = await jobs.installation_id()
    before = await last_job_id()
    for _ in range(3):
        await jobs.enqueue(jobs.RECALC_STOCK, organization_id=org.id, item_ids=[])
    waiting, handed_on, done = await jobs_since(before)
    await OutboxJob.filter(id=handed_on.id).update(dispatched_at=now())
    await OutboxJob.filter(id=done.id).update(dispatched_at=now(), done_at=now())

    # When the installation is reset
    old, new = await jobs.reset_installation()

    # Then it has a new id, so a queue of its own
    assert old == previous
    assert new != old
    assert await jobs.installation_id() == new
    assert jobs.queue_name(new, None) == f"gqlorders:{new}"
    # And the jobs not done wait in the outbox under new job ids; the one done is left alone
    after = await jobs_since(before)
    assert [row.token != was.token for row, was in zip(after, (waiting, handed_on, done))] == [
        True,
        True,
        False,
    ]
    assert [row.dispatched_at is None for row in after] == [True, True, False]
    assert after[2].done_at is not None


def test_the_command_prints_the_old_and_new_ids_and_the_new_queue(
    tmp_path: Path, backend: str
) -> None:
    with throwaway_database(backend, tmp_path) as database_url:
        # Given a migrated database
        env = server_env(database_url, tmp_path) | {"REDIS_URL": REDIS_URL}
        gqlorders(env, "migrate")
        previous = json.loads(gqlorders(env, "jobs", "status"))["installation_id"]

        # When it is reset
        reset = json.loads(gqlorders(env, "installation", "reset"))

        # Then the command says what changed, and the database is the new installation
        new = reset["installation_id"]
        assert reset == {
            "previous_installation_id": previous,
            "installation_id": new,
            "queue": f"gqlorders:{new}",
            "waiting": 0,
        }
        assert new != previous
        status = json.loads(gqlorders(env, "jobs", "status"))
        assert (status["installation_id"], status["queue"]) == (new, f"gqlorders:{new}")
