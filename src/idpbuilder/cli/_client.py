"""Plumbing shared by `idp app` and `idp diff`: the connection, errors, and argocd-style tables and times.

Commands are `async def handler(args, client) -> exit status`. `run` connects (the admin kubeconfig of the
running platform in the data dir, or `--kubeconfig`/`--context` as kubectl takes them) inside `asyncio.run`,
and turns failures into one-line messages. Tests run handlers with `run_async` under `use_client(client)`,
which hands them an in-process client instead of connecting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ..client.base import ResourceClient, ResourceRef
from ..core.errors import ApiError
from ..platform import runner

APPLICATIONS = ResourceRef("argoproj.io", "v1alpha1", "applications", "Application")
SELF_SUBJECT_REVIEWS = ResourceRef("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview",
                                   False)
CONTROL_PLANE_NAMESPACE = "argocd"
FIELD_MANAGER = "idp-cli"

Handler = Callable[[argparse.Namespace, ResourceClient], Awaitable[int]]

_injected: ContextVar[ResourceClient | None] = ContextVar("idp_cli_client", default=None)


class CliError(Exception):
    """A failure the command reports in one line; `code` is the exit status (None: the command's default)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@contextlib.contextmanager
def use_client(client: ResourceClient) -> Iterator[None]:
    """Within the block, commands use `client` (not closed by them) instead of connecting."""
    token = _injected.set(client)
    try:
        yield
    finally:
        _injected.reset(token)


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", metavar="FILE",
                        help="kubeconfig of the cluster to use (default: the running platform's admin "
                             "kubeconfig)")
    parser.add_argument("--context", help="kubeconfig context to use (default: its current context)")
    parser.add_argument("--data-dir", default=argparse.SUPPRESS,
                        help="the platform's data dir (default: $IDP_HOME or ~/.idp)")


def data_dir(args: argparse.Namespace) -> Path:
    value = getattr(args, "data_dir", None)
    return Path(value).expanduser().resolve() if value else runner.default_data_dir()


def kubeconfig_of(args: argparse.Namespace) -> tuple[Path, str | None]:
    """The kubeconfig (and context) to connect with; CliError naming the data dir when no platform runs."""
    context = getattr(args, "context", None)
    if getattr(args, "kubeconfig", None):
        path = Path(args.kubeconfig).expanduser()
        if not path.is_file():
            raise CliError(f"--kubeconfig {args.kubeconfig}: no such file")
        return path, context
    directory = data_dir(args)
    hint = f"idp up --data-dir {directory}" if getattr(args, "data_dir", None) else "idp up"
    if runner.running_pid(directory) is None:
        raise CliError(f"no platform is running from {directory}; start it with: {hint} "
                       "(or pass --kubeconfig to use another cluster)")
    path = runner.Paths(directory).kubeconfig
    if not path.is_file():
        raise CliError(f"the platform running from {directory} has no admin kubeconfig ({path}): it works "
                       "against an existing cluster; pass that cluster's --kubeconfig")
    return path, context


async def open_client(args: argparse.Namespace) -> ResourceClient:
    from ..client.remote import RemoteClient

    path, context = kubeconfig_of(args)
    try:
        return RemoteClient.from_kubeconfig(path, context, default_manager=FIELD_MANAGER)
    except Exception as exc:  # lightkube reports bad kubeconfigs with assorted exception types
        raise CliError(f"cannot use kubeconfig {path}: {exc}") from None


async def run_async(args: argparse.Namespace, handler: Handler, *, error_code: int = 1) -> int:
    """Run `handler` with the injected client or a new connection; failures become a message and
    `error_code`."""
    prog = getattr(args, "prog_name", "idp")
    client = _injected.get()
    own = client is None
    try:
        if client is None:
            client = await open_client(args)
        return await handler(args, client)
    except CliError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return error_code if exc.code is None else exc.code
    except ApiError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return error_code
    except (httpx.HTTPError, OSError) as exc:
        print(f"{prog}: cannot reach the API server: {exc}", file=sys.stderr)
        return error_code
    finally:
        if own and client is not None:
            await client.close()


def run(args: argparse.Namespace, handler: Handler, *, error_code: int = 1) -> int:
    try:
        return asyncio.run(run_async(args, handler, error_code=error_code))
    except KeyboardInterrupt:
        return 130


async def username(client: ResourceClient) -> str:
    """Who the client authenticates as (SelfSubjectReview); "" when the server cannot say."""
    try:
        review = await client.create(SELF_SUBJECT_REVIEWS, {"apiVersion": "authentication.k8s.io/v1",
                                                           "kind": "SelfSubjectReview"})
    except ApiError:
        return ""
    return str(((review.get("status") or {}).get("userInfo") or {}).get("username") or "")


def qualified_name(args_name: str, app_namespace: str | None) -> tuple[str, str]:
    """`ns/name` or `name` (with -N, else the control-plane namespace) as (namespace, name)."""
    namespace, _, name = args_name.rpartition("/")
    return namespace or app_namespace or CONTROL_PLANE_NAMESPACE, name


# ---- output as argocd prints it


def tabwrite(rows: Sequence[Sequence[Any]], *, padding: int = 2, minwidth: int = 0) -> str:
    """Rows aligned like Go's text/tabwriter: every cell but a row's last is a column cell, and a column's
    width is set per run of consecutive rows that have that column."""
    lines = [[str(cell) for cell in row] for row in rows]
    widths: list[int] = []
    out: list[str] = []

    def write(lo: int, hi: int) -> None:
        for line in lines[lo:hi]:
            text = "".join(cell.ljust(widths[j]) if j < len(widths) else cell for j, cell in enumerate(line))
            out.append(text.rstrip())

    def block(lo: int, hi: int) -> None:
        column = len(widths)
        this = lo
        while this < hi:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write(lo, this)
            lo = this
            width = minwidth
            while this < hi and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            block(lo, this)
            widths.pop()
            lo = this
        write(lo, hi)

    block(0, len(lines))
    return "\n".join(out)


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime (None when absent or malformed)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def go_time(value: Any, *, missing: str = "<nil>") -> str:
    """A timestamp as Go prints a UTC `time.Time`: `2006-01-02 15:04:05 +0000 UTC`."""
    parsed = parse_time(value)
    if parsed is None:
        return missing
    parsed = parsed.astimezone(UTC)
    fraction = f".{parsed.microsecond:06d}".rstrip("0") if parsed.microsecond else ""
    return f"{parsed:%Y-%m-%d %H:%M:%S}{fraction} +0000 UTC"


def go_duration(seconds: float) -> str:
    """Whole seconds as Go's `time.Duration.String`: 0s, 45s, 1m5s, 2h0m3s."""
    total = int(seconds)
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"
