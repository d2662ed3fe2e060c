"""The `idp` command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..platform import runner
from .app import add_parser as add_app_parser
from .catalog import add_parser as add_catalog_parser
from .diff import add_parser as add_diff_parser
from .health import add_parser as add_health_parser
from .render import add_parser as add_render_parser
from .repo import add_parser as add_repo_parser
from .template import add_parser as add_template_parser
from .trace import add_parser as add_trace_parser
from .xrd import add_parser as add_xrd_parsers


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir).expanduser().resolve() if args.data_dir else runner.default_data_dir()


def cmd_up(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    target = runner.Target()
    if args.kubeconfig:
        path = Path(args.kubeconfig).expanduser().resolve()
        if not path.is_file():
            print(f"idp up: --kubeconfig {args.kubeconfig}: no such file", file=sys.stderr)
            return 2
        target = runner.Target(path, args.context)
    elif args.context:
        print("idp up: --context needs --kubeconfig", file=sys.stderr)
        return 2
    if args.detach:
        try:
            pid = runner.start_detached(data_dir, args.host, args.port, target)
        except RuntimeError as exc:
            print(f"idp up: {exc}", file=sys.stderr)
            return 1
        print(f"idpbuilder is running in the background (pid {pid}); stop it with: idp down"
              + (f" --data-dir {data_dir}" if args.data_dir else ""))
        if target.embedded:
            print(f"  kubeconfig: {runner.Paths(data_dir).kubeconfig}")
        else:
            print(f"  controllers work in the cluster of {target.kubeconfig}; health: idp status")
        return 0
    if runner.running_pid(data_dir):
        print(f"idp up: a platform is already running from {data_dir} (pid {runner.running_pid(data_dir)})",
              file=sys.stderr)
        return 1
    return runner.run_foreground(data_dir, args.host, args.port, target)


def cmd_down(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    if runner.stop(data_dir):
        print("idpbuilder stopped")
        return 0
    print(f"idp down: no platform is running from {data_dir}", file=sys.stderr)
    return 1


def cmd_status(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    pid = runner.running_pid(data_dir)
    components = runner.component_health(data_dir) if pid else []
    healthy = bool(pid) and bool(components) and all(c["healthy"] for c in components)
    if args.output == "json":
        print(json.dumps({"running": bool(pid), "pid": pid, "dataDir": str(data_dir), "healthy": healthy,
                          "components": components}))
    else:
        print(f"platform: {'running (pid ' + str(pid) + ')' if pid else 'not running'}   data dir: {data_dir}")
        for c in components:
            print(f"  {c['component']:<22} {'healthy' if c['healthy'] else 'UNHEALTHY'}  {c['detail']}")
    return 0 if healthy else 1


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    source = runner.Paths(data_dir).kubeconfig
    if not source.exists():
        print(f"idp kubeconfig: {source} does not exist; start the platform first with: idp up", file=sys.stderr)
        return 1
    text = source.read_text()
    if args.output:
        out = Path(args.output).expanduser()
        import yaml

        from ..platform.kubeconfig import write

        write(out, yaml.safe_load(text))
        print(f"wrote {out}")
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="idp", description="idpbuilder: an Internal Developer Platform in one "
                                     "process.")
    parser.add_argument("--data-dir", help="where the platform keeps its state (default: $IDP_HOME or ~/.idp)")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="bring the platform up (foreground; Ctrl-C stops it)")
    up.add_argument("--data-dir", default=argparse.SUPPRESS)
    up.add_argument("--port", type=int, default=runner.DEFAULT_PORT)
    up.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    up.add_argument("--detach", "-d", action="store_true", help="run in the background; stop with idp down")
    up.add_argument("--kubeconfig", help="run the platform's controllers against this existing cluster instead "
                    "of the embedded control plane")
    up.add_argument("--context", help="kubeconfig context to use (default: its current context)")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop a platform started with --detach")
    down.add_argument("--data-dir", default=argparse.SUPPRESS)
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="show the health of each component")
    status.add_argument("--data-dir", default=argparse.SUPPRESS)
    status.add_argument("-o", "--output", choices=["text", "json"], default="text")
    status.set_defaults(func=cmd_status)

    kc = sub.add_parser("kubeconfig", help="print the admin kubeconfig, or write it with -o FILE")
    kc.add_argument("--data-dir", default=argparse.SUPPRESS)
    kc.add_argument("-o", "--output", help="file to write (mode 0600)")
    kc.set_defaults(func=cmd_kubeconfig)

    add_health_parser(sub)
    add_repo_parser(sub)
    add_xrd_parsers(sub)
    add_catalog_parser(sub)
    add_render_parser(sub)
    add_trace_parser(sub)
    add_template_parser(sub)
    add_app_parser(sub)
    add_diff_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
