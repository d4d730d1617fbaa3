"""The ``povsim dashboard`` command: serve the dashboard page on this machine.

    povsim dashboard [--port P] [--host H]

It prints the address and serves until Ctrl-C. A bad port, or one already in use, ends with a
one-line error and exit code 2 before anything starts.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import warnings

from povsim.errors import PovsimInputError

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"
APP = "povsim.dashboard.app"


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``dashboard`` on the ``povsim`` sub-command parser."""
    dash = sub.add_parser(
        "dashboard",
        help="serve an interactive dashboard: levers, step the model, live plots",
        description="Serve the povsim dashboard (Mesa's Solara visualisation) at http://HOST:PORT/: sliders for "
        "programme funds, pool shares, post-exit support years, the floor and the sampling scale; Step / Play / "
        "Reset; live plots of poor people against the NBS survey and the 2020 target, exits by channel and "
        "relapse. Ctrl-C stops it.",
    )
    dash.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to serve on (default {DEFAULT_PORT})")
    dash.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}, this machine only; 0.0.0.0 for every interface)",
    )
    dash.set_defaults(func=_dashboard)


def check_address(host: str, port: int) -> None:
    """Fail early, with a one-line reason, when the server could not listen on ``host:port``."""
    if not 1 <= port <= 65535:
        raise PovsimInputError(f"--port {port}: a port is a number from 1 to 65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise PovsimInputError(f"--host {host!r}: not an address of this machine ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise PovsimInputError(
                f"cannot serve on {host}:{port} ({exc.strerror}); is another dashboard running? try --port {port + 1}"
            ) from None


def _dashboard(args: argparse.Namespace) -> int:
    check_address(args.host, args.port)
    # Solara reads its settings on import: no usage statistics sent, no version check.
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    try:
        from solara.__main__ import cli as solara_cli
    except ImportError as exc:  # pragma: no cover - solara is a dependency of povsim
        raise PovsimInputError(f"the dashboard needs Solara ({exc}); reinstall povsim: pip install -e .") from None

    # Served over plain http to one browser: Solara's advice on cookies for embedding in iframes
    # over https does not apply.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    url = f"http://{args.host}:{args.port}/"
    print(f"povsim dashboard: serving at {url} (Ctrl-C to stop)", flush=True)
    try:
        solara_cli.main(
            args=[
                "run",
                APP,
                "--port",
                str(args.port),
                "--host",
                args.host,
                "--production",
                "--no-open",
                "--no-check-version",
                "--log-level",
                "warning",
            ],
            prog_name="povsim dashboard",
            standalone_mode=False,
        )
    except KeyboardInterrupt:
        pass
    print("povsim dashboard: stopped", file=sys.stderr)
    return 0
