"""Generated worlds to measure in: a rules folder of N members, a config, a key, seeded watches.

Members are `m00000`, `m00001` …, paired as buddies (m0 with m1, m2 with m3 …); their numbers are
generated (never dialled: the simulator listens on 127.0.0.1 only). One member, `sos`, has a tier
of `sos_watchers` members for the SOS figure. The admin is `m00000`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from relay.config import load_config
from relay.core import intents
from relay.core.decide import Context, on_message
from relay.core.types import MemberAlias
from relay.crypto.keys import init_data_dir, load_key
from relay.crypto.seal import Sealer, new_row_key
from relay.locales import load_catalog
from relay.rules import Rules, load_rules
from relay.rules.core_policy import RulesPolicy
from relay.store.db import Database
from relay.store.watches import WatchRepo

RELAY_NUMBER = "+12025550100"
ZONE = "Europe/London"


def alias(i: int) -> str:
    return f"m{i:05d}"


def number(i: int) -> str:
    # Generated Dutch-mobile-shaped numbers: valid for phonenumbers, unique, never dialled.
    return f"+316{10_000_000 + i:08d}"


def buddy_of(i: int) -> int:
    return i ^ 1


@dataclass(frozen=True)
class World:
    root: Path
    config: Path
    rules_dir: Path
    data_dir: Path
    members: int

    def rules(self) -> Rules:
        return load_rules(self.rules_dir, allow_placeholders=True)

    def sealer(self) -> Sealer:
        return Sealer(load_key(self.data_dir))


def make_world(
    root: Path,
    service: str,
    members: int,
    *,
    timings: dict[str, str],
    sos_watchers: int = 0,
    log_level: str = "INFO",
    retry_cap: str = "2s",
    socket: Path | None = None,
) -> World:
    """Write rules, a data dir with a fresh key, and a config under `root`.

    With `socket` the relay receives from signal-cli's JSON-RPC socket there (manual mode), else
    over signal-cli-rest-api's WebSocket."""
    rules_dir = root / "rules"
    rules_dir.mkdir(parents=True)
    table: dict[str, dict[str, object]] = {}
    for i in range(members):
        entry: dict[str, object] = {"number": number(i), "language": "en"}
        if buddy_of(i) < members:
            entry["buddies"] = [alias(buddy_of(i))]
        if i == 0:
            entry["admin"] = True
        table[alias(i)] = entry
    if sos_watchers:
        table["sos"] = {
            "number": number(members),
            "language": "en",
            "watchers": [alias(i) for i in range(1, sos_watchers + 1)],
        }
    escalation = {
        "missed": [{"buddies": True}, {"admin": True}],
        "sos": [{"buddies": True}, {"after": "1h", "admin": True}],
        "duress": [{"buddies": True}],
    }
    # Rule files are capped at 512 kB (a real collective's are a few kB): 500 members a file.
    names = list(table)
    for start in range(0, len(names), 500):
        part = {name: table[name] for name in names[start : start + 500]}
        path = rules_dir / f"members-{start // 500:03d}.yaml"
        path.write_text(yaml.safe_dump({"members": part}, sort_keys=False))
    (rules_dir / "timings.yaml").write_text(yaml.safe_dump({"timings": timings}))
    (rules_dir / "escalation.yaml").write_text(yaml.safe_dump({"escalation": escalation}))
    # Measured without the first start's welcome (two messages per member, once ever).
    (rules_dir / "welcome.yaml").write_text(yaml.safe_dump({"welcome": {"enabled": False}}))
    data_dir = root / "data"
    init_data_dir(data_dir)
    config = root / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "signal": {
                    "service": service,
                    "number": RELAY_NUMBER,
                    "request_timeout": "5s",
                    **(
                        {"receive": "socket", "socket": str(socket)}
                        if socket is not None
                        else {"receive": "websocket"}
                    ),
                },
                "rules_dir": str(rules_dir),
                "data_dir": str(data_dir),
                "admin": alias(0),
                "timezone": ZONE,
                "log_level": log_level,
                "allow_placeholder_numbers": True,
                "outbox": {"retry_cap": retry_cap, "alert_undelivered_after": "10m"},
            }
        )
    )
    load_config(config)  # fail here, not in the child, if the generator drifts from the schema
    return World(root, config, rules_dir, data_dir, members)


async def seed_checkins(
    world: World, deadlines: Iterable[tuple[int, datetime]], duration: timedelta
) -> int:
    """Store a live check-in for each (member index, deadline), as `IN <duration>` would.

    Decided by the pure core at `deadline - duration`, so each watch is exactly what the relay
    would have stored; written straight to the database (many per transaction) before the
    relay starts. Returns how many were stored.
    """
    rules = world.rules()
    sealer = world.sealer()
    ctx = Context(policy=RulesPolicy(rules, ZONE), catalog=load_catalog(), default_timezone=ZONE)
    db = await Database.open(world.data_dir)
    repo = WatchRepo(db, sealer)
    stored = 0
    try:
        batch = []
        for index, deadline in deadlines:
            decision = on_message(
                ctx,
                MemberAlias(alias(index)),
                intents.CheckIn(duration=duration, note=f"bench note {index}"),
                None,
                [],
                deadline - duration,
                new_row_key(),
            )
            batch.extend(decision.watches)
            if len(batch) >= 1000:
                await _save(db, repo, batch)
                stored += len(batch)
                batch = []
        await _save(db, repo, batch)
        stored += len(batch)
    finally:
        await db.close()
    return stored


async def _save(db: Database, repo: WatchRepo, watches: list[object]) -> None:
    async with db.transaction() as conn:
        for watch in watches:
            await repo.save(conn, watch)  # type: ignore[arg-type]


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]
