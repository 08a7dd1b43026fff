"""`peer-relay identity`: what a partner collective's admin needs to add this relay to her rules.

Prints the relay's Signal number (from the config), its peer key in the one form the rules take
(``ed25519:…``, `relay.crypto.peer_keys`), the key's fingerprint, and the key as a QR code; then,
for each partner already in the rules, its label and the fingerprint of the key written there.
The two admins read their fingerprints to each other, on a call or in person, as Signal users
compare safety numbers: a key changed on the way (a tampered message, a typo) shows as other
digits on one side.

Needs the key (the peer key is derived from it), so it runs as the relay's user, like `status`.
Nothing here is secret: the key printed is the public half. Nothing is written or logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from relay.admin.opening import open_config
from relay.admin.qr import qr_lines
from relay.crypto.peer_keys import encode_public, fingerprint
from relay.exitcodes import EXIT_CONFIG, EXIT_OK
from relay.rules.issues import RulesInvalid
from relay.rules.loader import load_rules


def run_identity(config_path: Path, out: TextIO) -> int:
    """Print the relay's identity for partners; exit 0, 78 (config or rules) or 77 (key).

    With invalid rules the relay's own identity is still printed (it does not depend on them),
    then what to run to see the problems; the exit code says the rules need fixing.
    """
    opened = open_config(config_path, out)
    if isinstance(opened, int):
        return opened
    config, sealer = opened
    key = sealer.peer_public_key()
    text = encode_public(key)
    out.write(
        "This relay, for partner collectives. Send their admin the number and the key; then\n"
        "read each other your fingerprints (a call, or in person): they must match exactly.\n\n"
        f"  number:      {config.signal.number}\n"
        f"  key:         {text}\n"
        f"  fingerprint: {fingerprint(key)}\n\n"
    )
    out.write("The key as a QR code (scan it to send it on without typing it):\n\n")
    out.write("\n".join(qr_lines(text)) + "\n\n")
    try:
        rules = load_rules(config.rules_dir, allow_placeholders=config.allow_placeholder_numbers)
    except RulesInvalid as exc:
        out.write(
            f"Partners: not listed, the rules in {config.rules_dir} have "
            f"{len(exc.errors)} problem(s): run  peer-relay check --config {config_path}\n"
        )
        return EXIT_CONFIG
    partners = rules.peers.partners
    if not partners:
        out.write(f"Partners: none yet in {config.rules_dir} (see the sample peers.yaml).\n")
        return EXIT_OK
    out.write(
        f"Partners in {config.rules_dir}, with the fingerprint of the key written there.\n"
        "Each must match what its admin reads from her own `peer-relay identity`:\n"
    )
    width = max(len(label) for label in partners)
    for label, partner in partners.items():
        own = "   <- this relay's OWN key: put the partner's there" if partner.key == key else ""
        out.write(f"  {label:<{width}}  {fingerprint(partner.key)}{own}\n")
    return EXIT_OK
