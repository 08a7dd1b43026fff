"""`peer-relay`: the command line. Each subcommand says in --help what it does and what it needs.

Errors are one line each, with named exit codes (relay.exitcodes), so the systemd unit can tell a
config mistake (do not restart) from a crash (restart).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from relay import __version__
from relay.exitcodes import EXIT_KEY, EXIT_OK, EXIT_SCHEMA, EXIT_SOFTWARE, EXIT_USAGE

if TYPE_CHECKING:
    from relay.runtime.supervisor import Relay

log = logging.getLogger("relay")

EXIT_CODES_HELP = """exit codes:
  0   ok
  1   `check` found problems; `verify` found a changed log; `restore` refused a backup;
      `link`: not linked yet; `status`: something is unhealthy; `drill`: no such member
  2   bad command line
  65  the database was written by a newer peer-relay (systemd: do not restart)
  69  signal-cli-rest-api unreachable or not in json-rpc mode (run, link)
  70  internal error, logged without message content (also: a failed backup, or a second
      relay on the same data directory)
  77  the key is missing, unreadable or has unsafe permissions (systemd: do not restart)
  78  the config or the rules are invalid (systemd: do not restart)
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="peer-relay",
        description="A collective's Signal safety desk: check-ins, alerts to buddies, escalation.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"peer-relay {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the relay (the systemd service runs this)",
        description="Run the relay. First the start-up check `check --config` runs too: the "
        "config, the rules, admin and canary.to against them, the data directory, the key, the "
        "database's schema. Any problem and it does not start: every problem on stderr, one "
        "line each; exit 78 (config or rules), 77 (key) or 65 (a newer peer-relay's database).",
    )
    run.add_argument("--config", type=Path, required=True, help="the config file (YAML)")

    check = sub.add_parser(
        "check",
        help="validate the rules (and the config); print every problem with file and line",
        description="Without --config: check the rules (RULES_DIR, default rules/). With "
        "--config: everything `run` checks before it starts, every problem at once, one line "
        "each — the config, its rules (or RULES_DIR instead), the admin and canary.to against "
        "them, the data directory, the key and the database's schema; `run` refuses exactly "
        "these. Run it as the relay's user to check the key and the data directory too; what "
        "it could not check it names in a note. Exit 0: no problems; 1: problems.",
    )
    check.add_argument("rules_dir", type=Path, nargs="?", help="the rules directory to check")
    check.add_argument(
        "--config", type=Path, help="check this config file as `run` would (and its rules)"
    )

    init = sub.add_parser("init", help="create the data directory and a new random key (once)")
    init.add_argument("--data-dir", type=Path, required=True, help="where the database will live")

    demo = sub.add_parser(
        "demo", help="play the whole flow against the built-in simulator (no Signal account needed)"
    )
    demo.add_argument(
        "--interactive", action="store_true", help="type as any member, e.g. `alice: IN 5m`"
    )

    sim = sub.add_parser("sim", help="run the signal-cli-rest-api simulator on 127.0.0.1")
    sim.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    sim.add_argument("--number", default="+12025550100", help="the simulated relay number")

    status = sub.add_parser(
        "status",
        help="is the relay healthy? (signal-cli, outbox, check-ins, end-to-end check, disk)",
    )
    status.add_argument("--config", type=Path, required=True, help="the config file (YAML)")

    link = sub.add_parser(
        "link", help="link the relay's number as a device of a phone's Signal account (QR code)"
    )
    link.add_argument("--config", type=Path, required=True, help="the config file (YAML)")
    link.add_argument("--device-name", default="peer-relay", help="name shown on the phone")
    link.add_argument(
        "--wait", type=float, default=300.0, help="seconds to wait for the phone (default 300)"
    )

    identity = sub.add_parser(
        "identity",
        help="this relay's number, peer key and its fingerprint, for partner collectives",
        description="Print what a partner collective's admin puts in her rules (peers.yaml) to "
        "swap bad-client warnings with this relay: its Signal number, its peer key "
        "(ed25519:…), the key's fingerprint (six groups of five digits), and the key as a QR "
        "code; then each partner already in the rules with the fingerprint of the key written "
        "there. Read the fingerprints to each other (a call, or in person): if one digit "
        "differs, the key was changed on the way. Needs the key: run it as the relay's user. "
        "Exit 0; 77: the key cannot be read; 78: the config or the rules are invalid (the "
        "relay's own identity is still printed when only the rules are).",
    )
    identity.add_argument("--config", type=Path, required=True, help="the config file (YAML)")

    backup = sub.add_parser(
        "backup", help="write a sealed online copy of the database (safe while the relay runs)"
    )
    backup.add_argument("--config", type=Path, required=True, help="the config file (YAML)")
    backup.add_argument(
        "--to", type=Path, required=True, help="the file to write (or a directory for it)"
    )

    verify = sub.add_parser(
        "verify", help="check an exported incident log: says plainly if anything changed"
    )
    verify.add_argument("file", type=Path, help="the exported log (the .json file)")

    drill = sub.add_parser(
        "drill",
        help="a practice alert for one member (or every member) — the relay reports back",
        description="Ask the relay for a practice drill: each member's first tier (or the tiers "
        "drills.yaml names) gets a practice alert that says it is practice; she gets a report "
        "of who got it on their phone and who answered; the admin hears of every member "
        "nobody answered. Not limited by drills.min_interval. Run it as the relay's user.",
    )
    drill.add_argument("--config", type=Path, required=True, help="the config file (YAML)")
    drill.add_argument("--member", help="only this member (her alias); default: every member")

    restore = sub.add_parser(
        "restore", help="replace the database with a sealed backup (stop the relay first)"
    )
    restore.add_argument("--config", type=Path, required=True, help="the config file (YAML)")
    restore.add_argument(
        "--from", dest="source", type=Path, required=True, help="the backup file (.sealed)"
    )

    notice = sub.add_parser(
        "failure-notice",
        help="tell the admin over Signal that a relay unit stopped (systemd's OnFailure= runs it)",
        description="Tell the admin over Signal, straight through signal-cli-rest-api (no "
        "database, no key), that a unit stopped and what to do. Reads what happened from "
        "systemd's $MONITOR_SERVICE_RESULT, $MONITOR_EXIT_CODE and $MONITOR_EXIT_STATUS. A crash "
        "loop is told once. Exit 0: told, or quiet on purpose; 1: could not tell.",
    )
    notice.add_argument("--config", type=Path, required=True, help="the config file (YAML)")
    notice.add_argument(
        "--unit", required=True, help="the unit that stopped, e.g. peer-relay.service"
    )
    notice.add_argument(
        "--state-dir",
        type=Path,
        help="where to remember the last notice, so a crash loop is told once (default: none)",
    )
    notice.add_argument(
        "--quiet",
        type=float,
        default=1800.0,
        help="failures less than this many seconds apart are one loop (default 1800)",
    )
    notice.add_argument(
        "--to", help="send to this number instead of the admin's from the rules (E.164)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args.config)
        if args.command == "check":
            if args.config is not None:
                from relay.admin.startup_check import run_config_check

                return run_config_check(args.config, args.rules_dir, sys.stdout)
            from relay.rules.check import run_check

            return run_check(args.rules_dir, sys.stdout)
        if args.command == "init":
            return _init(args.data_dir)
        if args.command == "demo":
            from relay.admin.demo import run_demo

            return run_demo(interactive=args.interactive)
        if args.command == "sim":
            return _sim(args.port, args.number)
        if args.command == "status":
            from relay.admin.status import run_status

            return run_status(args.config, sys.stdout)
        if args.command == "verify":
            from relay.features.incidents import run_verify

            return run_verify(args.file, sys.stdout)
        if args.command == "link":
            from relay.admin.link import run_link

            return run_link(args.config, args.device_name, sys.stdout, wait=args.wait)
        if args.command == "identity":
            from relay.admin.identity import run_identity

            return run_identity(args.config, sys.stdout)
        if args.command == "backup":
            from relay.admin.backup import run_backup

            return run_backup(args.config, args.to, sys.stdout)
        if args.command == "drill":
            from relay.features.drills.request import run_drill_request

            return run_drill_request(args.config, args.member, sys.stdout)
        if args.command == "failure-notice":
            from relay.admin.failure_notice import run_failure_notice

            return run_failure_notice(
                args.config, args.unit, args.state_dir, args.quiet, args.to, sys.stdout
            )
        if args.command == "restore":
            from relay.admin.backup import run_restore

            return run_restore(args.config, args.source, sys.stdout)
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:
        from relay.store.db import SchemaTooNew  # not at the top: `--help` stays quick

        if isinstance(exc, SchemaTooNew):  # `status`, say, opening a newer relay's database
            _error(str(exc))
            return EXIT_SCHEMA
        raise
    return EXIT_USAGE


def _error(message: str) -> None:
    sys.stderr.write(f"peer-relay: {message}\n")


def _run(config_path: Path) -> int:
    # Start-up allocates a few hundred thousand objects that live as long as the process (the
    # modules, the rules) and makes almost no garbage, so the cyclic collector would only
    # rescan them, again and again: 0.6-0.8 s before the receive connection opened, with
    # 10,000 members. It stays off until the relay is built; what is alive then is frozen out
    # of its later scans (and still freed once unreferenced, e.g. the rules after a reload).
    collecting = gc.isenabled()
    gc.disable()
    try:
        relay = _prepare(config_path)
        if isinstance(relay, int):
            return relay
        gc.freeze()
    finally:
        if collecting:
            gc.enable()
    from relay.store.db import DB_NAME, SchemaTooNew

    try:
        return asyncio.run(relay.run())
    except SchemaTooNew as exc:
        # Checked before start; this is the migration itself finding it (a database swapped
        # meanwhile, or a newer schema still in the write-ahead log after a crash).
        _error(f"{relay.config.data_dir / DB_NAME}: {exc}")
        return EXIT_SCHEMA
    except Exception:
        log.exception("the relay stopped on an internal error")
        return EXIT_SOFTWARE


def _prepare(config_path: Path) -> Relay | int:
    """Config, logging, rules and key → the relay to run, or the exit code of a refusal.

    The refusal lists every problem the start-up check found, one line each: the same list
    `peer-relay check --config` prints (relay.admin.startup_check).
    """
    from relay.admin.startup_check import startup_check
    from relay.runtime.logs import setup_logging
    from relay.runtime.supervisor import Relay

    startup = startup_check(config_path, "run")
    if startup.config is not None:
        setup_logging(startup.config.log_level)
    if startup.problems:
        for problem in startup.problems:
            _error(problem.line)
        return startup.exit_code
    for note in startup.notes:
        log.warning("%s", note)
    # No problems: the check handed over everything a relay starts with.
    assert startup.config is not None and startup.rules is not None  # noqa: S101
    assert startup.sealer is not None  # noqa: S101
    return Relay(
        config=startup.config,
        rules=startup.rules,
        sealer=startup.sealer,
        rules_loaded_from=startup.rules_loaded_from,
    )


def _init(data_dir: Path) -> int:
    from relay.crypto.keys import KeyProblem, init_data_dir

    try:
        key_path = init_data_dir(data_dir)
    except KeyProblem as exc:
        _error(str(exc))
        return EXIT_KEY
    print(f"created {key_path} (keep a copy somewhere safe, away from this box)")
    return EXIT_OK


def _sim(port: int, number: str) -> int:
    from relay.sim import serve_forever

    print(f"simulator of signal-cli-rest-api on 127.0.0.1:{port} (Ctrl-C to stop)")
    asyncio.run(serve_forever("127.0.0.1", port, number))
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
