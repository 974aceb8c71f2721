"""The `gqlorders` command: migrate, serve, organizations and tokens, demo data, schema export."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from gqlorders import database, jobs
from gqlorders.config import Settings, load_settings
from gqlorders.errors import DomainError
from gqlorders.tenancy import create_organization, create_token, parse_scopes, revoke_secret

_ON_SQLITE = {
    "serve": "unset REDIS_URL and the server runs jobs itself",
    "import": "unset REDIS_URL and the import runs its jobs itself",
    "worker": "no worker is needed: without REDIS_URL, `gqlorders serve` runs jobs itself",
}


def _print_json(value: dict[str, Any]) -> None:
    print(json.dumps(value), flush=True)


async def _org_create(settings: Settings, args: argparse.Namespace) -> None:
    async with database.connected(settings):
        organization = await create_organization(args.name, args.currency)
        token = await create_token(organization.id, name="cli")
    _print_json({"organization_id": organization.id, "token": token})


async def _token(settings: Settings, args: argparse.Namespace) -> int:
    async with database.connected(settings):
        if args.action == "create":
            token = await create_token(args.org, parse_scopes(args.scopes), name=args.name)
            _print_json({"token": token})
            return 0
        revoked = await revoke_secret(args.token)
    _print_json({"revoked": revoked})
    return 0 if revoked else 1


async def _recalc_stock(settings: Settings, args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from gqlorders.stock.levels import recalculate_everything

    async with database.connected(settings):
        with tqdm(unit="organization", desc="committed stock") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            count = await recalculate_everything(args.org, progress)
    _print_json({"items": count})


def _read_orders(path: Path) -> list[Any]:
    """A JSON array, or JSON lines (one order per line)."""
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def _import(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gqlorders.app import build_runner
    from gqlorders.marketplaces.importing import import_order
    from gqlorders.tenancy import Principal, Scope

    _refuse_workers_on_sqlite(settings, "import")
    payloads = _read_orders(Path(args.file))
    principal = Principal(args.org, 0, frozenset(Scope), f"import:{args.marketplace}")
    summary = {"created": 0, "updated": 0, "failed": 0}
    runner = build_runner(settings)  # the jobs an import causes go where the server's go
    jobs.configure(runner)
    async with database.connected(settings):
        for index, payload in enumerate(tqdm(payloads, unit="order", desc=args.marketplace)):
            try:
                result = await import_order(principal, args.marketplace, payload)
            except DomainError as error:
                summary["failed"] += 1
                print(f"order {index + 1}: {error}", file=sys.stderr)
                continue
            summary["created" if result.created else "updated"] += 1
            await jobs.after_request()
        await runner.drain()
    _print_json(summary)
    return 1 if summary["failed"] else 0


async def _demo(settings: Settings, args: argparse.Namespace) -> None:
    from gqlorders.demo import create_demo_organization

    await database.migrate(settings)
    async with database.connected(settings):
        organization_id, token = await create_demo_organization()
    url = f"http://{args.host}:{args.port}/graphql"
    _print_json({"organization_id": organization_id, "token": token, "graphiql": url})


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    """Serve with uvicorn; with --workers N, N processes share the port (and the metrics)."""
    import uvicorn

    from gqlorders.app import served_app
    from gqlorders.observability import configure_logging, metrics_shared_between_processes

    workers = args.workers or _positive(os.environ.get("WEB_CONCURRENCY", "1"), "WEB_CONCURRENCY")
    if workers > 1 and settings.is_sqlite:
        raise SystemExit(
            "gqlorders serve: several server processes need PostgreSQL (DATABASE_URL); "
            "SQLite takes one writer at a time"
        )
    _refuse_workers_on_sqlite(settings, "serve")
    configure_logging(settings.log_level, settings.log_json)  # the supervisor's own lines, too
    print(f"gqlorders: GraphiQL at http://{args.host}:{args.port}/graphql", flush=True)
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_config": None,  # configure_logging's, in every server process (served_app)
        "timeout_graceful_shutdown": 30,
        "ws_per_message_deflate": settings.live.per_message_deflate,
    }
    if workers == 1:
        uvicorn.run(served_app(), **options)
        return
    with metrics_shared_between_processes(settings.data_dir / "metrics"):
        uvicorn.run("gqlorders.app:served_app", factory=True, workers=workers, **options)


def _positive(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise SystemExit(f"gqlorders: {name} must be a whole number of at least 1, not {value!r}")
    return number


def _refuse_workers_on_sqlite(settings: Settings, command: str) -> None:
    """REDIS_URL hands jobs to `gqlorders worker` processes, which cannot share SQLite's one
    writer (measured: two processes writing one SQLite file fail writes with "database is
    locked"); on SQLite, serve and import run jobs themselves."""
    if settings.redis_url and settings.is_sqlite:
        raise SystemExit(
            f"gqlorders {command}: REDIS_URL hands background jobs to `gqlorders worker` "
            "processes, which need PostgreSQL (DATABASE_URL): SQLite takes one writer at a "
            f"time; {_ON_SQLITE[command]}"
        )


def _worker(settings: Settings) -> None:
    from gqlorders.observability import configure_logging
    from workers.arq_worker import build_worker, worker_queue

    if not settings.redis_url:
        raise SystemExit(
            "gqlorders worker needs REDIS_URL; without it `gqlorders serve` runs jobs itself"
        )
    _refuse_workers_on_sqlite(settings, "worker")
    configure_logging(settings.log_level, settings.log_json)
    try:
        queue = asyncio.run(worker_queue(settings))
        build_worker(settings, queue=queue).run()
    except jobs.QueueClaimedError as error:
        raise SystemExit(f"gqlorders worker: {error}") from None


async def _jobs_status(settings: Settings) -> None:
    """Where this installation's jobs are: its queue (and who owns it in Redis), the outbox."""
    status: dict[str, Any] = {}
    async with database.connected(settings):
        installation = await jobs.installation_id()
        status["installation_id"] = installation
        status["queue"] = None
        if settings.redis_url:  # without it, jobs run in the server's own process
            status["queue"] = jobs.queue_name(installation, settings.arq_queue)
            status |= await jobs.queue_status(settings.redis_url, status["queue"])
        status |= await jobs.outbox_status()
    _print_json(status)


async def _installation_reset(settings: Settings) -> None:
    """A new installation id for a cloned database (`jobs.reset_installation`)."""
    async with database.connected(settings):
        old, new = await jobs.reset_installation()
        outbox = await jobs.outbox_status()
    result: dict[str, Any] = {"previous_installation_id": old, "installation_id": new}
    result["queue"] = None
    if settings.redis_url:  # refused for an ARQ_QUEUE naming the previous id's own queue
        result["queue"] = jobs.queue_name(new, settings.arq_queue)
    result["waiting"] = outbox["waiting"]
    _print_json(result)
    print(
        "gqlorders installation reset: restart this deployment's `serve` and `worker` processes:"
        " those still running use the previous installation's queue",
        file=sys.stderr,
    )


def _export_schema(args: argparse.Namespace) -> None:
    from gqlorders.api.schema import schema

    Path(args.output).write_text(schema.as_str() + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gqlorders", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations")
    serve = commands.add_parser("serve", help="run the API server")
    demo = commands.add_parser("demo", help="migrate, then create a demo organization")
    for command in (serve, demo):
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=lambda value: _positive(value, "--workers"),
        default=None,
        help="server processes, PostgreSQL only (default: WEB_CONCURRENCY or 1)",
    )
    org = commands.add_parser("org", help="organizations").add_subparsers(
        dest="action", required=True
    )
    org_create = org.add_parser("create", help="create an organization and a full-scope token")
    org_create.add_argument("name")
    org_create.add_argument("--currency", default="USD")
    token = commands.add_parser("token", help="API tokens").add_subparsers(
        dest="action", required=True
    )
    token_create = token.add_parser("create", help="create a token with the given scopes")
    token_create.add_argument("--org", type=int, required=True)
    token_create.add_argument("--scopes", required=True, help="e.g. orders:read,orders:write")
    token_create.add_argument("--name", default="")
    token_revoke = token.add_parser("revoke", help="revoke a token at once")
    token_revoke.add_argument("token", help="the token's secret (gqo_...)")
    commands.add_parser("worker", help="run the background worker (needs REDIS_URL)")
    job_commands = commands.add_parser("jobs", help="background jobs").add_subparsers(
        dest="action", required=True
    )
    job_commands.add_parser(
        "status", help="installation id, queue, and the outbox's backlog (JSON)"
    )
    installation = commands.add_parser(
        "installation", help="this database's installation id"
    ).add_subparsers(dest="action", required=True)
    installation.add_parser(
        "reset",
        help="give a cloned database (e.g. staging from a production backup) a new id, hence "
        "its own arq queue",
    )
    importer = commands.add_parser("import", help="import marketplace orders from a file")
    importer.add_argument("marketplace", help="e.g. shopify, amazon, woocommerce")
    importer.add_argument("file", help="a JSON array of orders, or JSON lines")
    importer.add_argument("--org", type=int, required=True)
    recalc = commands.add_parser("recalc-stock", help="recompute committed stock from scratch")
    recalc.add_argument("--org", type=int, default=None, help="only this organization")
    export = commands.add_parser("export-schema", help="write the GraphQL schema (SDL)")
    export.add_argument("--output", default="schema.graphql")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    actions: dict[str, Callable[[], Coroutine[Any, Any, int | None]]] = {
        "migrate": lambda: database.migrate(settings),
        "demo": lambda: _demo(settings, args),
        "org": lambda: _org_create(settings, args),
        "token": lambda: _token(settings, args),
        "recalc-stock": lambda: _recalc_stock(settings, args),
        "jobs": lambda: _jobs_status(settings),
        "installation": lambda: _installation_reset(settings),
    }
    try:
        if args.command == "serve":
            _serve(settings, args)
        elif args.command == "worker":
            _worker(settings)
        elif args.command == "export-schema":
            _export_schema(args)
        elif args.command == "import":
            return asyncio.run(_import(settings, args))
        else:
            return asyncio.run(actions[args.command]()) or 0
    except DomainError as error:
        print(f"gqlorders: {error}", file=sys.stderr)
        return 2
    except jobs.QueueClaimedError as error:  # e.g. `jobs status` with another's ARQ_QUEUE
        print(f"gqlorders {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
