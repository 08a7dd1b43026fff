"""Hot reload with real files: valid edits apply, invalid ones are refused with file and line,
live check-ins of removed members keep their rules, and the watcher wakes on real changes."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import threading
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from relay.rules import load_rules
from relay.rules.model import Rules
from relay.rules.reload import ReloadResult, RulesHolder, RulesWatcher

SAMPLES = Path(__file__).resolve().parents[2] / "rules"
WAIT = 10.0  # a guard against hanging, not a speed requirement

NEW_MEMBER = '\n  erin:\n    number: "+1 202-555-0107"\n    buddies: [dana]\n'


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(SAMPLES, target)
    return target


def holder_for(folder: Path) -> RulesHolder:
    return RulesHolder(folder, load_rules(folder, allow_placeholders=True), allow_placeholders=True)


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def remove_elena(folder: Path) -> None:
    members = folder / "members.yaml"
    text = members.read_text(encoding="utf-8")
    members.write_text(text[: text.index("  elena:")], encoding="utf-8")
    replace_in(folder / "circles.yaml", "dana, elena]", "dana]")


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# ---- the holder ----------------------------------------------------------------------------------


def test_a_valid_edit_applies(folder: Path) -> None:
    holder = holder_for(folder)
    before = holder.current
    append(folder / "members.yaml", NEW_MEMBER)
    result = holder.reload()
    assert result.status == "applied"
    assert holder.current is result.rules is not before
    assert "erin" in holder.current.members and "erin" not in before.members


def test_an_invalid_edit_is_refused_and_the_last_good_rules_stay(folder: Path) -> None:
    holder = holder_for(folder)
    before = holder.current
    replace_in(folder / "members.yaml", "buddies: [alice]", "buddies: [alicia]")
    result = holder.reload()
    assert result.status == "refused"
    assert holder.current is before and result.rules is before
    assert result.problems == (
        f"{folder / 'members.yaml'}:30: members.bob.buddies[0]: 'alicia' is not a member "
        "(did you mean 'alice'?)",
    )
    # The same broken contents are not reported again; fixing them applies.
    assert holder.reload().status == "unchanged"
    replace_in(folder / "members.yaml", "buddies: [alicia]", "buddies: [alice]")
    assert holder.reload().status == "applied"


def test_a_forced_reload_reads_even_unchanged_files(folder: Path) -> None:
    holder = holder_for(folder)
    assert holder.reload().status == "unchanged"
    assert holder.reload(force=True).status == "applied"


def test_a_removed_member_with_a_live_check_in_keeps_her_alert_path(folder: Path) -> None:
    holder = holder_for(folder)
    old_path = holder.current.alert_path("alice", "missed")
    members = folder / "members.yaml"
    text = members.read_text(encoding="utf-8")
    start = text.index("  alice:")
    text = text[:start] + text[text.index("  bob:") :]
    members.write_text(text.replace("buddies: [alice]", "buddies: [carol]"), encoding="utf-8")
    replace_in(folder / "circles.yaml", "[alice, bob,", "[bob,")

    result = holder.reload(live={"alice", "bob"})
    assert result.status == "applied"
    assert "alice" not in holder.current.members
    assert result.retained == ("alice",)
    assert holder.rules_for("alice").alert_path("alice", "missed") == old_path
    assert holder.rules_for("alice").buddies_of("alice") == ("bob", "carol")
    # Everyone else follows the new rules at once.
    assert holder.rules_for("bob") is holder.current
    assert holder.rules_for("bob").buddies_of("bob") == ("carol",)

    # Still live at the next reload: still hers. Closed: gone, with or without `release`.
    assert holder.reload(live={"alice"}, force=True).retained == ("alice",)
    assert holder.reload(live=set(), force=True).retained == ()
    assert holder.rules_for("alice") is holder.current


def test_release_forgets_her_old_rules_at_once(folder: Path) -> None:
    holder = holder_for(folder)
    remove_elena(folder)
    assert holder.reload(live={"elena"}).retained == ("elena",)
    holder.release("elena")  # her check-in closed
    assert holder.rules_for("elena") is holder.current
    assert holder.retained == ()


def test_a_removed_member_without_a_live_check_in_is_simply_gone(folder: Path) -> None:
    holder = holder_for(folder)
    remove_elena(folder)
    result = holder.reload(live={"alice"})
    assert (result.status, result.retained) == ("applied", ())
    assert holder.rules_for("elena") is holder.current


# ---- the watcher ---------------------------------------------------------------------------------


@asynccontextmanager
async def watching(
    holder: RulesHolder,
    *,
    use_inotify: bool = True,
    live: Collection[str] = (),
    fail_first: bool = False,
) -> AsyncIterator[tuple[RulesWatcher, asyncio.Queue[ReloadResult]]]:
    results: asyncio.Queue[ReloadResult] = asyncio.Queue()
    failed = False

    async def on_result(result: ReloadResult) -> None:
        nonlocal failed
        await results.put(result)
        if fail_first and not failed:
            failed = True
            raise RuntimeError("could not message the admin")

    async def live_now() -> Collection[str]:
        return live

    watcher = RulesWatcher(
        holder,
        on_result,
        live=live_now,
        debounce=0.05,
        poll_interval=0.05,
        use_inotify=use_inotify,
    )
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.wait_for(watcher.ready.wait(), WAIT)
        yield watcher, results
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def next_result(results: asyncio.Queue[ReloadResult]) -> ReloadResult:
    return await asyncio.wait_for(results.get(), WAIT)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux-only")
async def test_the_watcher_uses_inotify_and_reacts_to_edits_and_renames(folder: Path) -> None:
    holder = holder_for(folder)
    async with watching(holder) as (watcher, results):
        assert watcher.mode == "inotify"
        # A file that is not a rules file changes: nothing to report. Then a real edit: the
        # first result is that edit, so the harmless change was filtered out.
        (folder / "README.md").write_text("changed", encoding="utf-8")
        append(folder / "members.yaml", NEW_MEMBER)
        result = await next_result(results)
        assert result.status == "applied" and "erin" in holder.current.members

        replace_in(folder / "timings.yaml", "grace: 10m", "grace: [")
        refused = await next_result(results)
        assert refused.status == "refused"
        assert refused.problems[0].startswith(f"{folder / 'timings.yaml'}:")
        assert "erin" in holder.current.members

        # Editors and deploy tools often write a new file and rename it over the old one.
        fixed = folder / ".timings.yaml.tmp"
        fixed.write_text("timings:\n  grace: 3m\n", encoding="utf-8")
        os.replace(fixed, folder / "timings.yaml")
        result = await next_result(results)
        assert result.status == "applied"
        assert holder.current.timings.grace.total_seconds() == 180
        assert results.empty()


async def test_sighup_reloads_and_reports_even_without_changes(folder: Path) -> None:
    holder = holder_for(folder)
    async with watching(holder) as (watcher, results):
        watcher.request_reload()
        result = await next_result(results)
        assert result.status == "applied"
        assert result.rules is holder.current


async def test_the_poll_fallback_notices_edits(folder: Path) -> None:
    holder = holder_for(folder)
    async with watching(holder, use_inotify=False) as (watcher, results):
        assert watcher.mode == "poll"
        append(folder / "members.yaml", NEW_MEMBER)
        result = await next_result(results)
        assert result.status == "applied" and "erin" in holder.current.members


async def test_live_members_are_asked_for_at_each_reload(folder: Path) -> None:
    holder = holder_for(folder)
    async with watching(holder, live={"elena"}) as (_, results):
        remove_elena(folder)
        result = await next_result(results)
        assert result.retained == ("elena",)
        assert "elena" in holder.rules_for("elena").members


async def test_live_members_are_not_read_while_nothing_changed(folder: Path) -> None:
    """Listing who is live unseals every live check-in (thousands after downtime): the watcher's
    first look at start-up, with the folder as loaded, must not do it."""
    holder = holder_for(folder)
    asked: list[int] = []
    results: asyncio.Queue[ReloadResult] = asyncio.Queue()

    async def live_now() -> Collection[str]:
        asked.append(1)
        return ()

    watcher = RulesWatcher(
        holder, results.put, live=live_now, debounce=0.05, poll_interval=0.05, use_inotify=False
    )
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.wait_for(watcher.ready.wait(), WAIT)
        await asyncio.sleep(0.3)  # several polls of an unchanged folder
        assert asked == [] and results.empty()
        append(folder / "members.yaml", NEW_MEMBER)
        assert (await next_result(results)).status == "applied"
        assert asked == [1]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_the_folder_is_read_and_checked_off_the_event_loop(folder: Path) -> None:
    """Checking thousands of members takes about a second: the timers must not wait for it."""
    threads: list[threading.Thread] = []

    def loader(path: Path, **options: bool) -> Rules:
        threads.append(threading.current_thread())
        return load_rules(path, **options)

    holder = RulesHolder(
        folder, load_rules(folder, allow_placeholders=True), allow_placeholders=True, loader=loader
    )
    async with watching(holder) as (_, results):
        append(folder / "members.yaml", NEW_MEMBER)
        assert (await next_result(results)).status == "applied"
    assert threads and threading.main_thread() not in threads
    assert "erin" in holder.current.members  # and applied, on the loop


async def test_a_failing_notice_does_not_stop_the_watching(folder: Path) -> None:
    holder = holder_for(folder)
    async with watching(holder, fail_first=True) as (_, results):
        replace_in(folder / "collective.yaml", "strangers: silence", "strangers: neutral")
        assert (await next_result(results)).status == "applied"
        append(folder / "members.yaml", NEW_MEMBER)
        assert (await next_result(results)).status == "applied"
        assert holder.current.strangers == "neutral" and "erin" in holder.current.members


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux-only")
async def test_a_replaced_folder_is_followed(folder: Path) -> None:
    holder = holder_for(folder)
    async with watching(holder) as (watcher, results):
        assert watcher.mode == "inotify"
        staged = folder.parent / "rules.new"
        shutil.copytree(folder, staged)
        append(staged / "members.yaml", NEW_MEMBER)
        shutil.rmtree(folder)
        refused = await next_result(results)  # the folder is gone (or half gone) for a moment
        assert refused.status == "refused"
        assert "erin" not in holder.current.members
        staged.rename(folder)
        result = await next_result(results)
        while result.status == "refused":  # a slow runner may see the folder half deleted
            result = await next_result(results)
        assert result.status == "applied" and "erin" in holder.current.members
        assert watcher.mode == "inotify"  # back from polling once the folder is there again
