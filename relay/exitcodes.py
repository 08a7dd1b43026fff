"""Named exit codes, so the systemd unit can tell a config error (don't restart) from a crash."""

EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # `peer-relay check` found errors; `verify` found a changed log
EXIT_USAGE = 2  # argparse's own code for a bad command line
EXIT_CONFIG = 78  # EX_CONFIG: config or rules invalid; systemd must not restart
EXIT_KEY = 77  # EX_NOPERM: key file missing, unreadable or wrong; systemd must not restart
EXIT_SCHEMA = 65  # EX_DATAERR: the database is a newer peer-relay's; systemd must not restart
EXIT_SIGNAL = 69  # EX_UNAVAILABLE: signal-cli-rest-api unreachable or in the wrong mode at start
EXIT_SOFTWARE = 70  # EX_SOFTWARE: an internal error (logged without content)
