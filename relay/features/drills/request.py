"""`peer-relay drill`: the admin asks the relay for a practice drill — for one member, or all.

The request is a small file in ``<data_dir>/requests`` (written whole, then put in place); the
running relay sees it at once (inotify) and deletes it when it has started the drills. A relay
that is not running finds it when it next starts. The file holds an alias or nothing: no number,
no text. Run it as the relay's user (``sudo -u peer-relay peer-relay drill …``): the data
directory is the relay's alone.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import TextIO

from relay.config import ConfigInvalid, load_config
from relay.crypto.files import write_private_file
from relay.exitcodes import EXIT_CONFIG, EXIT_OK, EXIT_SOFTWARE
from relay.features.drills.runtime import REQUEST_PREFIX, REQUESTS
from relay.rules import RulesInvalid, load_rules
from relay.runtime.watchdog import relay_running

EXIT_NO_SUCH_MEMBER = 1


def run_drill_request(
    config_path: Path, member: str | None, out: TextIO, err: TextIO | None = None
) -> int:
    err = err if err is not None else sys.stderr
    try:
        config = load_config(config_path)
    except ConfigInvalid as exc:
        for issue in exc.issues:
            err.write(f"peer-relay: {issue}\n")
        return EXIT_CONFIG
    try:
        rules = load_rules(config.rules_dir, allow_placeholders=config.allow_placeholder_numbers)
    except RulesInvalid as exc:
        for rule_issue in exc.issues:
            err.write(f"peer-relay: {rule_issue}\n")
        return EXIT_CONFIG
    alias = member.strip().lower() if member is not None else None
    if alias is not None and alias not in rules.members:
        err.write(f"peer-relay: drill: '{alias}' is not a member in the rules\n")
        return EXIT_NO_SUCH_MEMBER
    folder = config.data_dir / REQUESTS
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{REQUEST_PREFIX}{secrets.token_hex(6)}.json"
        write_private_file(folder / name, json.dumps({"member": alias}).encode(), overwrite=False)
    except OSError as exc:
        err.write(f"peer-relay: drill: cannot write the request ({exc.strerror or 'error'})\n")
        return EXIT_SOFTWARE
    who = f"for {alias}" if alias is not None else f"for all {len(rules.members)} members"
    if relay_running(config.data_dir):
        out.write(f"asked the running relay for a practice drill {who}.\n")
    else:
        out.write(f"the relay is not running: the practice drill {who} starts when it does.\n")
    out.write("Reports go to each member; members nobody answered are reported to the admin.\n")
    return EXIT_OK
