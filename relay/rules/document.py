"""The closed schema of rule files: one pydantic model per section, and `RulesDocument` for a file.

Every field is optional at file level (each file holds some sections); what the merged set must
contain is checked in `relay.rules.crosscheck`. The JSON Schema in ``rules/rules.schema.json`` is
generated from `RulesDocument`, so the descriptions here are what an admin sees in her editor.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from relay.rules.values import (
    Category,
    ClockTime,
    CollectiveName,
    DirectoryNumber,
    Duration,
    GroupIdField,
    LanguageField,
    Name,
    NameList,
    NameRef,
    Paragraph,
    PeerKeyText,
    Phone,
    PositiveDuration,
    ReportSeverity,
    RetentionOrNever,
    RetentionPeriod,
    SignalUuidField,
    Text,
    TimezoneField,
    Word,
    WordList,
)

AlertKind = Literal["missed", "sos", "duress"]
ALERT_KINDS: tuple[AlertKind, ...] = get_args(AlertKind)

Command = Literal[
    "in", "out", "extend", "ack", "resolved", "status", "help", "sos", "loc", "client",
    "report", "check", "log", "export", "forget", "who", "buddies", "approve", "reject",
    "withdraw", "share", "drill",
]  # fmt: skip
COMMANDS: tuple[Command, ...] = get_args(Command)


class _Closed(BaseModel):
    # Closed: a misspelt field is an error, never silently ignored. Inputs stay out of error
    # texts because they may be phone numbers or secret words.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class TimingsIn(_Closed):
    """Timing defaults (under timings:) or one member's own (under her timings:)."""

    checkin: PositiveDuration | None = Field(
        None, description="length of a check-in when she gives none (IN without a time)"
    )
    checkin_max: PositiveDuration | None = Field(None, description="longest check-in allowed")
    extend_max: PositiveDuration | None = Field(None, description="most one EXTEND may add")
    reminder_before: Duration | None = Field(
        None, description="remind her this long before her time is up (0 = no reminder)"
    )
    grace: Duration | None = Field(
        None, description="after her time is up, wait this long for OUT before alerting"
    )
    escalate_after: PositiveDuration | None = Field(
        None, description="an alert nobody answered moves to the next tier after this long"
    )
    repeat_every: PositiveDuration | None = Field(
        None, description="an alert nobody answered is sent again this often"
    )


class MemberIn(_Closed):
    """One member, under members:, keyed by her alias (the name everyone sees)."""

    number: Phone = Field(description='her Signal number with country code, in quotes: "+44 …"')
    uuid: SignalUuidField | None = Field(
        None, description="her Signal UUID, if she hides her number (the relay can tell you)"
    )
    language: LanguageField = Field("en", description="language of her replies: en, es, pt …")
    timezone: TimezoneField | None = Field(
        None, description="her time zone, e.g. Europe/London (default: the collective's)"
    )
    duress_word: Word | None = Field(
        None,
        description="a word that looks like OUT on her screen but raises a silent alert",
    )
    checkin_secret: Word | None = Field(
        None, description="a word she adds to OUT so nobody else can end her check-in"
    )
    buddies: NameList = Field([], description="her buddies (both ways: she also gets their alerts)")
    watchers: NameList = Field(
        [], description="members who get her alerts, one way (she does not get theirs)"
    )
    moderator: bool = Field(False, description="true: she approves reports before they go out")
    admin: bool = Field(
        False, description="true: she is an admin (escalation tiers with admin: true reach her)"
    )
    pronouns: Literal["she", "he", "they"] | None = Field(
        None,
        description="she, he or they: how messages about this member refer to them; "
        "leave it out and messages use the name alone",
    )
    timings: TimingsIn | None = Field(None, description="her own timings, overriding the defaults")


class CircleIn(_Closed):
    """A named group of members, under circles:."""

    members: NameList = Field(description="aliases of the members in this circle")
    group: GroupIdField | None = Field(
        None, description="the Signal group of this circle, if it has one (group.…)"
    )


class ContactIn(_Closed):
    """Someone outside the collective the relay may alert, under contacts:."""

    number: Phone = Field(description="their Signal number with country code, in quotes")
    label: Text = Field(description="who they are, as alerts name them: 'Night support line'")
    language: LanguageField = Field("en", description="language of the alerts they receive")


class TierIn(_Closed):
    """One step of an escalation: whom to alert, and when."""

    after: Duration | None = Field(
        None,
        description="how long after the alert started, if nobody answered; default: the "
        "previous tier's time plus escalate_after (the first tier: at once)",
    )
    buddies: bool = Field(False, description="true: her buddies and watchers")
    her_circles: bool = Field(False, description="true: everyone in the circles she is in")
    circles: NameList = Field([], description="everyone in these circles, one by one")
    groups: NameList = Field(
        [], description="post in the Signal group of these circles (not allowed for duress)"
    )
    admin: bool = Field(False, description="true: the admins")
    contacts: NameList = Field([], description="these outside contacts (from contacts:)")

    @model_validator(mode="after")
    def _names_someone(self) -> TierIn:
        if not (
            self.buddies
            or self.her_circles
            or self.circles
            or self.groups
            or self.admin
            or self.contacts
        ):
            raise ValueError(
                "this tier alerts nobody: set buddies, her_circles, circles, groups, admin "
                "or contacts"
            )
        return self


class EscalationIn(_Closed):
    """Who is alerted, tier after tier, until someone answers ACK."""

    missed: list[TierIn] | None = Field(
        None, min_length=1, description="when she misses a check-in (required)"
    )
    sos: list[TierIn] | None = Field(
        None,
        min_length=1,
        description="when she sends SOS; default: every tier of missed, all at once",
    )
    duress: list[TierIn] | None = Field(
        None,
        min_length=1,
        description="when she uses her duress word; default: the tiers of missed, without groups",
    )
    undelivered_after: PositiveDuration | None = Field(
        None,
        description="an alert that reached no phone of a tier within this long (no delivery "
        "receipt: phones off, no signal) moves on to the next tier at once; default: off",
    )


class KeywordsIn(_Closed):
    """Extra words for each command in one language (the built-in words keep working)."""

    in_: WordList = Field([], alias="in", description="start a check-in (IN 90 Hotel Rex)")
    out: WordList = Field([], description="end a check-in: she is safe")
    extend: WordList = Field([], description="push her deadline (EXTEND 30)")
    ack: WordList = Field([], description="a buddy answers an alert: I'm on it")
    resolved: WordList = Field([], description="a buddy closes an alert")
    status: WordList = Field([], description="her check-in and who is watching")
    help: WordList = Field([], description="the list of commands")
    sos: WordList = Field([], description="immediate alert (codewords, emoji)")
    loc: WordList = Field([], description="her location")
    client: WordList = Field([], description="client details for the check-in")
    report: WordList = Field([], description="warn others about a client")
    check: WordList = Field([], description="screen a number or plate")
    log: WordList = Field([], description="add to her private incident log")
    export: WordList = Field([], description="her incident log as a file")
    forget: WordList = Field([], description="delete her stored data")
    who: WordList = Field([], description="who to call (the directory)")
    buddies: WordList = Field([], description="who gets her alerts, at which tier")
    approve: WordList = Field([], description="a moderator approves a report")
    reject: WordList = Field([], description="a moderator rejects a report")
    withdraw: WordList = Field([], description="withdraw her own report")
    share: WordList = Field(
        [], description="a moderator sends an approved report to partner collectives"
    )
    drill: WordList = Field([], description="a practice alert to her first tier (DRILL)")
    confirm: WordList = Field([], description="not a command: words that confirm FORGET (yes)")
    ask_first: WordList = Field(
        [],
        description="not a command: SOS words (built-in or above) the relay asks about before "
        "alerting ('are you in danger? reply SOS'), for a word often said in jest here",
    )

    def words(self) -> dict[str, tuple[str, ...]]:
        """Command name → the words given for it (commands with none are left out)."""
        out: dict[str, tuple[str, ...]] = {}
        for command in (*COMMANDS, "confirm", "ask_first"):
            words = getattr(self, "in_" if command == "in" else command)
            if words:
                out[command] = tuple(words)
        return out


class ReportsIn(_Closed):
    """How bad-client reports are shared."""

    moderation: Literal["moderators", "direct"] = Field(
        "moderators",
        description="moderators: a moderator approves each report first; direct: reports go "
        "straight to members",
    )
    share_with: NameRef | None = Field(
        None, description="the circle that receives reports (default: every member)"
    )


class RetentionIn(_Closed):
    """How long things are kept before they are deleted."""

    checkins: RetentionPeriod = Field(
        timedelta(hours=12),
        description="closed check-ins with their notes, locations and client details",
    )
    alerts: RetentionPeriod = Field(timedelta(days=30), description="closed alerts")
    reports: RetentionOrNever = Field(
        timedelta(days=365), description="bad-client reports (or never)"
    )
    incident_logs: RetentionOrNever = Field(
        None, description="members' own incident logs (never = until she deletes them)"
    )
    messages: RetentionPeriod = Field(
        timedelta(days=2), description="copies of sent and received messages"
    )


class WelcomeIn(_Closed):
    """The welcome a member gets when she first appears in the rules."""

    enabled: bool = Field(
        True, description="false: no welcome (members added while it is off are not welcomed later)"
    )
    run_by: Text | None = Field(
        None,
        description="who runs this number, as the welcome says it: 'the Night Owls collective' "
        "(default: the admin, by name)",
    )
    lines: dict[LanguageField, Paragraph] = Field(
        {},
        description="the collective's own words added to the welcome, per language (en: …, "
        "es: …); a member whose language has none gets the en line",
    )


class DrillScheduleIn(_Closed):
    """A practice drill for every member, on a schedule."""

    every: PositiveDuration = Field(description="how often: 4w (every four weeks), 30d")
    at: ClockTime = Field(
        "18:00", description='time of day it runs, in the relay\'s time zone ("18:00")'
    )


class DrillsIn(_Closed):
    """Practice alerts (DRILL): who gets them, when she hears back, how often she may ask."""

    tiers: list[Annotated[int, Field(ge=1, le=20)]] = Field(
        [1],
        min_length=1,
        description="which tiers of her missed-check-in escalation get the practice alert "
        "(members only: never a group post or an outside contact); default: [1]",
    )
    report_after: PositiveDuration = Field(
        timedelta(minutes=10), description="when she gets her report (who got it, who answered)"
    )
    min_interval: Duration = Field(
        timedelta(days=1),
        description="at most one DRILL of her own this often (the admin's drills are not limited)",
    )
    schedule: DrillScheduleIn | None = Field(
        None, description="a drill for every member on a schedule (default: none)"
    )


class DirectoryEntryIn(_Closed):
    """One line of the "who to call" directory members get with WHO."""

    name: Text = Field(description="who they are")
    number: DirectoryNumber = Field(description="how to reach them")
    for_: Text = Field(alias="for", description="what to call them for")
    language: LanguageField | None = Field(
        None, description="shown only to members with this language (default: to everyone)"
    )


class PartnerSendIn(_Closed):
    """Which approved reports a moderator's SHARE may send to this partner."""

    min_severity: ReportSeverity = Field(
        1,
        description="only reports at least this severe: 1 time-waster, 2 unsafe, 3 violent "
        "(a report nobody rated counts as 1); default 1",
    )
    categories: list[Category] | None = Field(
        None,
        min_length=1,
        description="only reports of at least one of these kinds; leave out: every kind",
    )


class PartnerIn(_Closed):
    """Another collective's relay, under peers: partners:, keyed by the label moderators see."""

    number: Phone = Field(description='the partner relay\'s Signal number, in quotes: "+44 …"')
    key: PeerKeyText = Field(
        description="the partner relay's key, exactly as its admin reads it from "
        "`peer-relay identity` (ed25519:…); compare the fingerprint `peer-relay check` shows "
        "with the one she reads out"
    )
    send: PartnerSendIn | None = Field(
        None,
        description="what SHARE may send to this partner (send: {} for every approved report); "
        "leave out: nothing is ever sent to it",
    )
    accept: bool = Field(
        True,
        description="true: its warnings come in, always to this collective's moderators first, "
        "never straight to members; false: its messages are treated as a stranger's",
    )
    daily_cap: int = Field(
        20,
        ge=1,
        le=500,
        description="at most this many warnings a day from it, and to it (1 to 500); default 20",
    )


class PeersIn(_Closed):
    """Partner relays: other collectives this one swaps bad-client warnings with."""

    name: CollectiveName | None = Field(
        None,
        description="how partners see this collective, sent with every warning "
        "('Night Owls'); required when there are partners",
    )
    partners: dict[Name, PartnerIn] = Field(
        {}, description="the partner relays, by the label this collective's moderators see"
    )


class RulesDocument(_Closed):
    """One rules file. Files in the rules folder are merged section by section."""

    members: dict[Name, MemberIn] | None = Field(None, description="the members, by alias")
    circles: dict[Name, CircleIn] | None = Field(None, description="named groups of members")
    contacts: dict[Name, ContactIn] | None = Field(
        None, description="people outside the collective that escalation may alert"
    )
    timings: TimingsIn | None = Field(None, description="timing defaults for every member")
    escalation: EscalationIn | None = Field(None, description="who is alerted, tier by tier")
    keywords: dict[LanguageField, KeywordsIn] | None = Field(
        None, description="extra command words per language (codewords, emoji)"
    )
    reports: ReportsIn | None = Field(None, description="how bad-client reports are shared")
    retention: RetentionIn | None = Field(None, description="how long things are kept")
    strangers: Literal["silence", "neutral"] | None = Field(
        None,
        description="what a number that is not a member gets: silence, or one neutral line",
    )
    directory: list[DirectoryEntryIn] | None = Field(
        None, description="the 'who to call' directory"
    )
    welcome: WelcomeIn | None = Field(
        None, description="the welcome new members get (on unless switched off)"
    )
    drills: DrillsIn | None = Field(None, description="practice alerts (DRILL)")
    peers: PeersIn | None = Field(
        None, description="partner relays: other collectives to swap bad-client warnings with"
    )


SECTIONS: tuple[str, ...] = tuple(RulesDocument.model_fields)
