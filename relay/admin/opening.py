"""What most admin commands open first: the config and the key, or one line and the exit code.

`status`, `identity`, `backup` and `restore` each need both; a config that does not load is
`EXIT_CONFIG` (78), a key that does not is `EXIT_KEY` (77), each said in one line that names the
file and the problem, never key material.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from relay.config import Config, ConfigInvalid, load_config
from relay.crypto.keys import KeyProblem, load_key
from relay.crypto.seal import Sealer
from relay.exitcodes import EXIT_CONFIG, EXIT_KEY


def open_config(config_path: Path, out: TextIO) -> tuple[Config, Sealer] | int:
    """The config at ``config_path`` and a sealer with its key; or, after one line on ``out``,
    the exit code to return."""
    try:
        config = load_config(config_path)
    except ConfigInvalid as exc:
        out.write(f"{exc}\n")
        return EXIT_CONFIG
    try:
        key = load_key(config.data_dir, config.key_file)
    except KeyProblem as exc:
        out.write(f"{exc}\n")
        return EXIT_KEY
    return config, Sealer(key)
