"""``acutance serve``: the local web page (upload, compare before/after, download) and its JSON API."""

from __future__ import annotations

import argparse
import ipaddress
import sys


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
    parser.add_argument("--jobs", type=int, default=1, help="images processed at the same time (default: 1)")
    parser.add_argument("--max-upload-mb", type=float, default=50.0, help="largest upload in MB (default: 50)")
    parser.add_argument(
        "--max-pixels", type=float, default=16.0, help="largest input image in megapixels (default: 16)"
    )
    parser.add_argument(
        "--max-output-pixels", type=float, default=64.0, help="largest result in megapixels (default: 64)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from acutance.errors import AcutanceError
    from acutance.web import WebSettings

    settings = WebSettings(
        max_upload_bytes=int(args.max_upload_mb * 1e6),
        max_input_pixels=int(args.max_pixels * 1e6),
        max_output_pixels=int(args.max_output_pixels * 1e6),
        jobs=args.jobs,
    )
    if not 0 < args.port < 65536:
        from acutance.errors import OptionError

        raise OptionError(f"--port must be in 1..65535, got {args.port}")
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
