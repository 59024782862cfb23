"""The `feedsvc` command: `serve` publishes a folder, `parse` prints documents as JSON lines."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from feedsvc.ops import logs
from feedsvc.settings import SPEC, Settings, SettingsError, add_arguments

if TYPE_CHECKING:
    from aiohttp import web

    from feedsvc.http import connections

log = logging.getLogger("feedsvc")


def _settings_table() -> str:
    width = max(len(s.env) for s in SPEC)
    lines = [f"  {s.env:<{width}}  {s.flag} (default: {s.default})" for s in SPEC]
    return "every serve flag is also an environment variable; flags win:\n" + "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="feedsvc", description="Publish a folder of bilingual press digests as RSS, Atom and JSON Feed.",
        epilog=_settings_table(), formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="watch the seeds folder and serve its feeds over HTTP",
                                epilog=_settings_table(), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(serve)
    parse = commands.add_parser("parse", help="print one JSON record per document file (JSON lines)")
    parse.add_argument("files", nargs="+", metavar="FILE")
    check = commands.add_parser("check", help="say what the service would do with each file: FILE:LINE: findings",
                                description="Check digest files (or folders, recursively) before they go out. "
                                "Exit 0: every file would be published; 1: a file would be rejected (or, with "
                                "--strict, has a warning); 2: usage error.")
    check.add_argument("files", nargs="+", metavar="PATH")
    check.add_argument("--strict", action="store_true", help="a warning fails the check too")
    check.add_argument("--json", action="store_true", dest="as_json", help="print one JSON record per file")
    for command in (parse, check):
        for spec in SPEC:
            if spec.name in ("pattern", "max_bytes"):
                command.add_argument(spec.flag, dest=spec.name, default=None,
                                     help=f"{spec.help} [{spec.env}, default: {spec.default}]")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    values = {k: v for k, v in vars(args).items() if k not in ("command", "files", "strict", "as_json")}
    try:
        settings = Settings.build(values, check_dirs=args.command == "serve")
    except SettingsError as exc:
        print(f"feedsvc: {exc}", file=sys.stderr)
        return 2
    if args.command == "parse":
        from feedsvc.cli.parse import parse_command

        logs.configure("warning", settings.log_format)
        return parse_command(args.files, pattern=settings.pattern, max_bytes=settings.max_bytes)
    if args.command == "check":
        from feedsvc.cli.check import check_command

        logs.configure("error", settings.log_format)
        return check_command(args.files, strict=args.strict, as_json=args.as_json, pattern=settings.pattern,
                             max_bytes=settings.max_bytes)
    return serve(settings)


def serve(settings: Settings) -> int:
    from feedsvc.ingest import pool
    from feedsvc.ops import limits

    # First: the parser processes forked below inherit the limit.
    nofile_before, nofile = limits.raise_nofile()
    # Before the imports below: the parser processes' server then loads while they run.
    pool.start_server()
    from aiohttp import web

    from feedsvc.http import connections
    from feedsvc.http.app import create_app

    logs.configure(settings.log_level, settings.log_format)
    if nofile != nofile_before:
        log.info("open-files limit raised from %d to %d", nofile_before, nofile)
    loop = _new_loop(settings.uvloop)
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(connections.AcceptErrors())
    app = create_app(settings)
    access = logging.getLogger("aiohttp.access") if settings.log_level == "debug" else None
    guard = connections.ConnectionGuard(limits.connection_cap(nofile))
    log.info("serving %s on http://%s:%d", settings.seeds, settings.host, settings.port)
    log.debug("at most %d connections; %.0f s to send a request, %.0f s idle between requests",
              guard.cap, guard.header_timeout, connections.KEEPALIVE_TIMEOUT)
    try:
        _run(loop, web.AppRunner(app, handle_signals=True, shutdown_timeout=5.0, access_log=access,
                                 keepalive_timeout=connections.KEEPALIVE_TIMEOUT),
             settings, guard, {"access_log": access, "keepalive_timeout": connections.KEEPALIVE_TIMEOUT})
    except OSError as exc:
        print(f"feedsvc: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    log.info("stopped")
    return 0


def _run(loop: asyncio.AbstractEventLoop, runner: web.AppRunner, settings: Settings,
         guard: connections.ConnectionGuard, handler_kwargs: dict[str, Any]) -> None:
    """web.run_app's life cycle (aiohttp 3.x), on our own site: run_app cannot be given one, and
    the guard has to build the connections' handlers."""
    from aiohttp import web

    from feedsvc.http import connections

    async def main() -> None:
        await runner.setup()  # installs SIGINT/SIGTERM handlers that raise GracefulExit
        try:
            site = connections.GuardedSite(runner, settings.host, settings.port, guard=guard,
                                           handler_kwargs=handler_kwargs)
            await site.start()
            while True:
                await asyncio.sleep(3600)
        finally:
            await runner.cleanup()  # stops listening, lets requests in flight finish

    task = loop.create_task(main())
    try:
        loop.run_until_complete(task)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(task)
        finally:
            _cancel_all(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def _new_loop(use_uvloop: bool) -> asyncio.AbstractEventLoop:
    if use_uvloop:
        try:
            import uvloop

            return uvloop.new_event_loop()
        except ImportError:
            pass
    return asyncio.new_event_loop()


if __name__ == "__main__":
    sys.exit(main())
