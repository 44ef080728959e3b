"""``acutance serve``: the local web page (upload, compare before/after, download) and its JSON API."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from acutance.cli.limit_options import add_limit_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="start the local web page: upload, compare before/after, download",
        description=(
            "Serve a web page for enhancing images in the browser, and the JSON API behind it (OpenAPI at "
            "/openapi.json, interactive docs at /docs). Works offline. It has no login: keep it on "
            "127.0.0.1 unless the network is trusted. Needs the 'web' extra."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME",
        help="another name the Host header may carry, e.g. behind a reverse proxy (repeatable); requests for "
             "any other name are refused, which stops DNS rebinding",
    )  # fmt: skip
    parser.add_argument("--jobs", type=int, default=1, help="images processed at the same time (default: 1)")
    parser.add_argument(
        "--queue", type=int, default=8, help="jobs that may wait for a worker; more get 503 (default: 8)"
    )
    parser.add_argument(
        "--max-queued-mb", type=float, default=128.0,
        help="uploads that waiting jobs may hold in memory, in MB; more get 503 (default: 128)",
    )  # fmt: skip
    parser.add_argument("--max-upload-mb", type=float, default=50.0, help="largest upload in MB (default: 50)")
    parser.add_argument(
        "--max-kept-mb", type=float, default=128.0,
        help="finished results kept for download, in MB; the oldest go first (default: 128)",
    )  # fmt: skip
    parser.add_argument(
        "--tile", type=int, default=256,
        help="tile size in input pixels for integer scales: a deleted job stops between tiles (default: 256)",
    )  # fmt: skip
    add_limit_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from acutance import limits
    from acutance.errors import AcutanceError, OptionError
    from acutance.web import WebSettings

    if not 0 < args.port < 65536:
        raise OptionError(f"--port must be in 1..65535, got {args.port}")
    for flag in ("jobs", "tile"):
        if getattr(args, flag) < 1:
            raise OptionError(f"--{flag} must be at least 1, got {getattr(args, flag)}")
    for flag in ("queue", "max_queued_mb", "max_upload_mb", "max_kept_mb"):
        if not getattr(args, flag) >= 0:
            raise OptionError(f"--{flag.replace('_', '-')} must be >= 0, got {getattr(args, flag)}")
    settings = WebSettings(
        max_upload_bytes=int(args.max_upload_mb * 1e6),
        limits=limits.current(),  # --max-pixels, --max-output-pixels, --max-memory (applied by cli.main)
        jobs=args.jobs,
        queue=args.queue,
        max_queued_bytes=int(args.max_queued_mb * 1e6),
        max_kept_bytes=int(args.max_kept_mb * 1e6),
        tile=args.tile,
        host=args.host,
        allowed_hosts=tuple(args.allow_host),
    )
    try:
        import uvicorn

        from acutance.web import create_app
    except ImportError as error:
        raise AcutanceError(f"'acutance serve' needs the 'web' extra (pip install 'acutance[web]'): {error}") from None
    if not _is_loopback(args.host):
        print(f"acutance: warning: serving on {args.host} without a login: anyone who can reach it can use it",
              file=sys.stderr)  # fmt: skip
    print(f"acutance: serving on http://{args.host}:{args.port}/  (Ctrl-C stops)", file=sys.stderr)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
