"""The relay's outbox queries read the rows still to run, not the finished ones (migration 0011).

Every process asks every 2 seconds for the jobs still to run, and the table keeps 7 days of
finished ones: a query that walked those would grow with the traffic. The outbox gets a week
and an hour of finished jobs (inserted in SQL, one a minute), analyzed as autovacuum would, and
each query of the relay is explained as sent.
"""

from __future__ import annotations

from datetime import timedelta

from tortoise import connections

from gqlorders import jobs
from gqlorders.models import OutboxJob
from tests.support import Organization, captured_statements, explained

FINISHED = 7 * 24 * 60 + 60  # a week and an hour of jobs, one a minute: an hour to prune


async def _outbox_of_a_busy_week() -> None:
    db = connections.get("default")
    if db.capabilities.dialect == "postgres":
        await db.execute_script(
            "INSERT INTO outbox_job (job, payload, created_at, dispatched_at, done_at)"
            " SELECT 'index_check', '{}', at, at, at FROM ("
            "   SELECT now() - (n * 60 - 30) * interval '1 second' AS at"
            f"  FROM generate_series(1, {FINISHED}) AS n"
            " ) AS finished;"
            " INSERT INTO outbox_job (job, payload, created_at, dispatched_at)"
            " SELECT 'index_check', '{}', now(), now() FROM generate_series(1, 5);"
            " ANALYZE outbox_job"
        )
    else:
        await db.execute_script(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
            f" WHERE i < {FINISHED})"
            " INSERT INTO outbox_job (job, payload, created_at, dispatched_at, done_at)"
            " SELECT 'index_check', '{}', datetime('now', '-' || (i * 60 - 30) || ' seconds'),"
            " datetime('now', '-' || (i * 60 - 30) || ' seconds'),"
            " datetime('now', '-' || (i * 60 - 30) || ' seconds') FROM n;"
            " INSERT INTO outbox_job (job, payload, created_at, dispatched_at)"
            " VALUES ('index_check', '{}', datetime('now'), datetime('now'));"
            " ANALYZE outbox_job"
        )


async def test_the_relay_reads_only_the_jobs_still_to_run(org: Organization) -> None:
    # Given a week and an hour of finished jobs and a few in flight
    await _outbox_of_a_busy_week()

    # When the relay claims, hands out stale claims, asks what is pending, and prunes
    try:
        with captured_statements("outbox_job", verbs=("SELECT", "UPDATE", "DELETE")) as sent:
            assert await jobs.claim_pending() == []
            assert await jobs.reclaim_stale() == 0
            assert await jobs.pending_payload_values("index_check", "item_id", [1, 2]) == set()
            pruned = await jobs.prune_done(older_than=timedelta(days=7))
    finally:  # the database is shared with the other tests
        await OutboxJob.filter(job="index_check").delete()

    # Then the rows still to run come from the partial index, the old ones to delete from the
    # index of finished rows: none of them reads the table whole
    plans = [await explained(sql, values) for sql, values in sent]
    assert len(plans) == 4, sent
    *unfinished, prune = plans
    for plan in unfinished:
        assert "outbox_job_unfinished" in plan, plan
    assert "outbox_job_done" in prune, prune
    assert pruned == 60  # the hour of jobs finished over 7 days ago
