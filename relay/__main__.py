"""`python -m relay` is `peer-relay`."""

from relay.cli import main

raise SystemExit(main())
