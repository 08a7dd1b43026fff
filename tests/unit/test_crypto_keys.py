"""The master key file: creation, the refusal to overwrite, where it is looked for, and the checks
a key file must pass. Real files in tmp_path; the systemd credential directory is a real directory
named by the real environment variable."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from relay.crypto import KeyProblem, MasterKey, Sealer, init_data_dir, load_key
from relay.crypto.keys import CREDENTIALS_ENV, KEY_HEADER, encode_key_file


@pytest.fixture(autouse=True)
def _no_inherited_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's shell or a CI runner under systemd may have CREDENTIALS_DIRECTORY set.
    monkeypatch.delenv(CREDENTIALS_ENV, raising=False)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_key(path: Path, key: MasterKey | None = None, mode: int = 0o600) -> MasterKey:
    key = key or MasterKey.generate()
    path.write_bytes(encode_key_file(key))
    path.chmod(mode)
    return key


def same_key(a: MasterKey, b: MasterKey) -> bool:
    return a.secret_bytes() == b.secret_bytes()


# -- init_data_dir ---------------------------------------------------------------------------------


def test_init_creates_private_dir_and_key_that_loads(tmp_path: Path, open_umask: None) -> None:
    data_dir = tmp_path / "var" / "peer-relay"
    key_path = init_data_dir(data_dir)

    assert key_path == data_dir / "relay.key"
    assert mode_of(data_dir) == 0o700
    assert mode_of(key_path) == 0o600
    key = load_key(data_dir)
    assert key.source == key_path
    assert len(key.secret_bytes()) == 32
    lines = key_path.read_text().splitlines()
    assert lines[0] == KEY_HEADER
    assert base64.b64decode(lines[1]) == key.secret_bytes()
    # Nothing else left behind (no temporary file holding a copy of the key).
    assert sorted(p.name for p in data_dir.iterdir()) == ["relay.key"]


def test_init_tightens_an_existing_open_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    init_data_dir(data_dir)
    assert mode_of(data_dir) == 0o700


def test_two_inits_make_different_keys(tmp_path: Path) -> None:
    init_data_dir(tmp_path / "a")
    init_data_dir(tmp_path / "b")
    assert not same_key(load_key(tmp_path / "a"), load_key(tmp_path / "b"))


def test_init_refuses_to_overwrite_an_existing_key(tmp_path: Path) -> None:
    key_path = init_data_dir(tmp_path)
    before = key_path.read_bytes()

    with pytest.raises(KeyProblem) as err:
        init_data_dir(tmp_path)

    assert "refusing to overwrite" in str(err.value)
    assert str(key_path) in str(err.value)
    assert key_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["relay.key"]


def test_init_refuses_even_a_dangling_link_at_the_key_path(tmp_path: Path) -> None:
    (tmp_path / "relay.key").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(KeyProblem, match="refusing to overwrite"):
        init_data_dir(tmp_path)
    assert not (tmp_path / "elsewhere").exists()


# -- file checks -----------------------------------------------------------------------------------


def test_key_file_0600_accepted_and_0400_too(tmp_path: Path) -> None:
    key = write_key(tmp_path / "relay.key", mode=0o600)
    assert same_key(load_key(tmp_path), key)
    (tmp_path / "relay.key").chmod(0o400)
    assert same_key(load_key(tmp_path), key)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o620, 0o602, 0o700 | 0o004])
def test_key_file_open_to_group_or_others_refused(tmp_path: Path, mode: int) -> None:
    key = write_key(tmp_path / "relay.key", mode=mode)

    with pytest.raises(KeyProblem) as err:
        load_key(tmp_path)

    message = str(err.value)
    assert str(tmp_path / "relay.key") in message
    assert f"mode {stat.S_IMODE(mode):04o}" in message
    assert "\n" not in message
    assert base64.b64encode(key.secret_bytes()).decode() not in message


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_key_file_owned_by_another_user_refused(tmp_path: Path) -> None:
    path = tmp_path / "relay.key"
    write_key(path)
    os.chown(path, 65534, 65534)
    with pytest.raises(KeyProblem, match=r"owned by uid 65534"):
        load_key(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_key_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "relay.key"
    write_key(path, mode=0o000)
    with pytest.raises(KeyProblem, match="cannot read key file"):
        load_key(tmp_path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "first line must be"),
        (b"peer-relay-key v2\n" + base64.b64encode(bytes(32)) + b"\n", "first line must be"),
        (base64.b64encode(bytes(32)) + b"\n", "first line must be"),
        (bytes(32), "first line must be"),
        (b"\xff" * 32, "not ASCII"),
        (KEY_HEADER.encode() + b"\n" + base64.b64encode(bytes(31)) + b"\n", "wrong key length"),
        (KEY_HEADER.encode() + b"\n" + base64.b64encode(bytes(33)) + b"\n", "wrong key length"),
        (KEY_HEADER.encode() + b"\n\n", "wrong key length"),
        (KEY_HEADER.encode() + b"\n", "expected the header line and one key line"),
        (KEY_HEADER.encode() + b"\nnot base64 at all!\n", "not base64"),
        (
            KEY_HEADER.encode() + b"\n" + base64.b64encode(bytes(32)) + b"\nextra\n",
            "expected the header line and one key line",
        ),
        (b"x" * 4096, "far too large"),
    ],
)
def test_malformed_key_file_refused_in_one_line(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "relay.key"
    path.write_bytes(content)
    path.chmod(0o600)

    with pytest.raises(KeyProblem) as err:
        load_key(tmp_path)

    assert problem in str(err.value)
    assert str(err.value).startswith(f"{path}: ")
    assert "\n" not in str(err.value)


def test_key_file_with_crlf_line_ends_accepted(tmp_path: Path) -> None:
    key = MasterKey.generate()
    path = tmp_path / "relay.key"
    path.write_bytes(encode_key_file(key).replace(b"\n", b"\r\n"))
    path.chmod(0o600)
    assert same_key(load_key(tmp_path), key)


def test_key_path_that_is_a_directory_refused(tmp_path: Path) -> None:
    (tmp_path / "relay.key").mkdir(mode=0o700)
    with pytest.raises(KeyProblem, match="not a regular file"):
        load_key(tmp_path)


def test_fifo_at_key_path_refused_without_hanging(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "relay.key", 0o600)
    with pytest.raises(KeyProblem, match="not a regular file"):
        load_key(tmp_path)


def test_missing_key_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyProblem) as err:
        load_key(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'relay.key'}: ")
    assert "peer-relay init" in str(err.value)


def test_symlink_in_data_dir_refused_but_explicit_key_file_may_be_one(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    key = write_key(media / "relay.key")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "relay.key").symlink_to(media / "relay.key")

    with pytest.raises(KeyProblem, match="symbolic link"):
        load_key(data_dir)

    assert same_key(load_key(data_dir, key_file=data_dir / "relay.key"), key)


# -- where the key is looked for -------------------------------------------------------------------


def make_sources(tmp_path: Path) -> tuple[Path, Path, Path, dict[str, MasterKey]]:
    data_dir = tmp_path / "data"
    creds = tmp_path / "credentials"
    media = tmp_path / "media"
    for d in (data_dir, creds, media):
        d.mkdir(mode=0o700)
    keys = {
        "data": write_key(data_dir / "relay.key"),
        "creds": write_key(creds / "relay.key", mode=0o400),
        "explicit": write_key(media / "peer-relay.key"),
    }
    return data_dir, creds, media / "peer-relay.key", keys


def test_explicit_key_file_wins_over_credentials_and_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, creds, explicit, keys = make_sources(tmp_path)
    monkeypatch.setenv(CREDENTIALS_ENV, str(creds))

    key = load_key(data_dir, key_file=explicit)

    assert same_key(key, keys["explicit"])
    assert key.source == explicit


def test_credential_wins_over_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir, creds, _, keys = make_sources(tmp_path)
    monkeypatch.setenv(CREDENTIALS_ENV, str(creds))

    key = load_key(data_dir)

    assert same_key(key, keys["creds"])
    assert key.source == creds / "relay.key"


def test_data_dir_used_without_credentials_or_config(tmp_path: Path) -> None:
    data_dir, _, _, keys = make_sources(tmp_path)
    assert same_key(load_key(data_dir), keys["data"])


def test_credential_dir_without_relay_key_falls_back_to_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, creds, _, keys = make_sources(tmp_path)
    (creds / "relay.key").unlink()
    (creds / "other-credential").write_text("unrelated")
    monkeypatch.setenv(CREDENTIALS_ENV, str(creds))

    assert same_key(load_key(data_dir), keys["data"])


def test_missing_explicit_key_file_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    data_dir, _, explicit, _ = make_sources(tmp_path)
    explicit.unlink()
    with pytest.raises(KeyProblem) as err:
        load_key(data_dir, key_file=explicit)
    assert str(err.value).startswith(f"{explicit}: ")


def test_credential_with_acl_mask_in_group_bits_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # systemd grants a non-root service read access to its credential with a POSIX ACL; stat then
    # shows the ACL mask as a group read bit (0440). The same mode in the data dir is refused.
    data_dir, creds, _, keys = make_sources(tmp_path)
    (creds / "relay.key").chmod(0o440)
    monkeypatch.setenv(CREDENTIALS_ENV, str(creds))

    assert same_key(load_key(data_dir), keys["creds"])

    monkeypatch.delenv(CREDENTIALS_ENV)
    (data_dir / "relay.key").chmod(0o440)
    with pytest.raises(KeyProblem, match="open to group or others"):
        load_key(data_dir)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_credential_owned_by_another_user_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, creds, _, _ = make_sources(tmp_path)
    os.chown(creds / "relay.key", 65534, 65534)
    monkeypatch.setenv(CREDENTIALS_ENV, str(creds))
    with pytest.raises(KeyProblem, match="owned by uid 65534"):
        load_key(data_dir)


@pytest.mark.parametrize("mode", [0o444, 0o404, 0o460, 0o600 | 0o002])
def test_credential_open_to_others_or_writable_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    data_dir, creds, _, _ = make_sources(tmp_path)
    (creds / "relay.key").chmod(mode)
    monkeypatch.setenv(CREDENTIALS_ENV, str(creds))

    with pytest.raises(KeyProblem) as err:
        load_key(data_dir)

    assert str(err.value).startswith(f"{creds / 'relay.key'}: ")
    assert "other users" in str(err.value)


def test_malformed_credential_does_not_fall_back_to_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A broken credential is the admin's mistake to see, not a reason to use a different key.
    data_dir, creds, _, _ = make_sources(tmp_path)
    (creds / "relay.key").chmod(0o600)
    (creds / "relay.key").write_bytes(b"garbage")
    monkeypatch.setenv(CREDENTIALS_ENV, str(creds))

    with pytest.raises(KeyProblem) as err:
        load_key(data_dir)
    assert str(err.value).startswith(f"{creds / 'relay.key'}: ")


# -- the key object --------------------------------------------------------------------------------


def test_master_key_never_shows_its_bytes(tmp_path: Path) -> None:
    init_data_dir(tmp_path)
    key = load_key(tmp_path)
    secret = key.secret_bytes()
    for shown in (repr(key), str(key), f"{key}", repr([key])):
        assert secret.hex() not in shown
        assert base64.b64encode(secret).decode() not in shown
        assert repr(secret) not in shown


def test_master_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes, got 16"):
        MasterKey(bytes(16))


def test_loaded_key_seals_what_the_same_key_file_opens_after_restart(tmp_path: Path) -> None:
    init_data_dir(tmp_path)
    blob = Sealer(load_key(tmp_path)).seal(b"note", aad="t.c/r")
    assert Sealer(load_key(tmp_path)).open(blob, aad="t.c/r") == b"note"
