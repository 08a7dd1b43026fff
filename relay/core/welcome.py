"""The welcome: the two messages a member gets once, when she first appears in the rules.

The first says what this number is and who runs it, the four commands that matter (IN, OUT,
SOS, HELP), who her buddies are (or that she has none yet), how to check with the admin that
this really is the collective's number (the safety number), and FORGET; then the collective's
own line, if the rules give one. The second shows her, step by step for someone who is not
technical, how to reach SOS in one tap: pin the chat; on Android a home-screen shortcut to the
chat; on an iPhone a Shortcut (or Siri phrase) that sends SOS with Signal — and to try it with
HELP, which is never an alarm.

Pure: the runtime (`relay.features.welcomer`) decides who is new and sends.
"""

from __future__ import annotations

from collections.abc import Sequence

from relay.core.render import display, names
from relay.core.voice import Voice


def welcome_texts(
    voice: Voice,
    alias: str,
    *,
    run_by: str | None,
    admin: str | None,
    buddies: Sequence[str],
    own_line: str | None = None,
) -> tuple[str, str]:
    """Her two welcome messages, in her language."""
    admin_name = display(admin) if admin else voice.text(alias, "welcome_the_admin")
    runner = run_by or voice.text(alias, "welcome_run_by_admin", admin=admin_name)
    first = [
        voice.text(alias, "welcome_hello", who=display(alias), run_by=runner),
        voice.text(alias, "welcome_commands"),
        voice.text(alias, "welcome_buddies", buddies=names(buddies, ""))
        if buddies
        else voice.text(alias, "welcome_no_buddies", admin=admin_name),
        voice.text(alias, "welcome_safety_number", admin=admin_name),
        voice.text(alias, "welcome_forget"),
    ]
    if own_line:
        first.append(own_line)
    return "\n\n".join(first), voice.text(alias, "welcome_one_tap")
