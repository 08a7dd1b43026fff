"""The master key: where it lives, how it is created, and the checks it must pass before use.

Key file format (version 1), plain text so an admin can recognise it and copy it onto paper or
removable media without binary-safe tools::

    peer-relay-key v1
    <32 random bytes in standard base64, 44 characters>

A trailing newline (or CRLF) is tolerated; nothing else is. The header names the format version so a
later format can be told apart; an unknown header is refused, not guessed at.

Where the key is read from, first match wins:

1. an explicit ``key_file`` (from the config), e.g. on removable media;
2. ``$CREDENTIALS_DIRECTORY/relay.key``, when systemd passes it as a service credential
   (``LoadCredential=`` / ``LoadCredentialEncrypted=``, which can be TPM-sealed), so the key
   need not sit on the same card as the database;
3. ``<data_dir>/relay.key``, where ``init_data_dir`` writes it.

Every problem is one `KeyProblem` line naming the path and what is wrong, never the key's bytes.
"""

from __future__ import annotations

import base64
import binascii
import errno
import os
import secrets
import stat
from pathlib import Path
from typing import Final

from relay.crypto.files import write_private_file

KEY_BYTES: Final = 32
KEY_FILE_NAME: Final = "relay.key"
KEY_HEADER: Final = "peer-relay-key v1"
CREDENTIALS_ENV: Final = "CREDENTIALS_DIRECTORY"

# A v1 key file is 18 + 1 + 44 + 2 bytes at most; anything much larger is not one, and reading a
# huge file (a wrong path to a disk image, say) must not eat the Pi's memory.
_MAX_KEY_FILE_BYTES: Final = 256


class KeyProblem(Exception):
    """The key is missing, unreadable, exposed or malformed: one line naming the path, not the key.

    The CLI should map this to ``EXIT_KEY`` so systemd stops restarting: retrying will not fix it.
    """

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class MasterKey:
    """256 random bits from which `relay.crypto.seal.Sealer` derives every sub-key.

    The bytes never appear in ``repr``/``str`` (a stray log line or traceback must not print them).
    """

    __slots__ = ("_secret", "source")

    def __init__(self, secret: bytes, source: Path | None = None) -> None:
        if len(secret) != KEY_BYTES:
            # The length is safe to say; the bytes are not.
            raise ValueError(f"a master key is {KEY_BYTES} bytes, got {len(secret)}")
        self._secret = bytes(secret)
        self.source = source

    @classmethod
    def generate(cls) -> MasterKey:
        """A fresh random key (not written anywhere)."""
        return cls(secrets.token_bytes(KEY_BYTES))

    def secret_bytes(self) -> bytes:
        """The raw key, for HKDF only. Never store, log or send what this returns."""
        return self._secret

    def __repr__(self) -> str:
        return f"MasterKey(source={self.source!r})"

    __str__ = __repr__


def encode_key_file(key: MasterKey) -> bytes:
    """The v1 key file's bytes for ``key``."""
    b64 = base64.b64encode(key.secret_bytes()).decode("ascii")
    return f"{KEY_HEADER}\n{b64}\n".encode("ascii")


def decode_key_file(data: bytes, path: Path) -> MasterKey:
    """Parse a v1 key file's bytes; ``path`` only names the file in errors."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyProblem(path, "not a peer-relay key file (not ASCII text)") from None
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != KEY_HEADER:
        raise KeyProblem(path, f"not a peer-relay key file (first line must be {KEY_HEADER!r})")
    if len(lines) != 2:
        raise KeyProblem(path, "malformed key file (expected the header line and one key line)")
    try:
        secret = base64.b64decode(lines[1], validate=True)
    except (binascii.Error, ValueError):
        raise KeyProblem(path, "malformed key file (key line is not base64)") from None
    if len(secret) != KEY_BYTES:
        raise KeyProblem(
            path, f"wrong key length ({len(secret)} bytes, a peer-relay key is {KEY_BYTES})"
        )
    return MasterKey(secret, source=path)


def create_key_file(path: Path) -> MasterKey:
    """Write a new random key to ``path`` (mode 0600); refuse if anything already exists there.

    Written atomically and exclusively (see `write_private_file`): an existing key is never
    overwritten, even by a race, and a power cut leaves no key file or a whole one.
    """
    key = MasterKey.generate()
    try:
        write_private_file(path, encode_key_file(key), overwrite=False)
    except FileExistsError:
        raise KeyProblem(path, "a key file already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise KeyProblem(path, f"cannot create key file ({_why(exc)})") from None
    return MasterKey(key.secret_bytes(), source=path)


def init_data_dir(data_dir: Path) -> Path:
    """Create ``data_dir`` (mode 0700) and a new key in it; return the key file's path.

    Refuses (`KeyProblem`) if ``data_dir/relay.key`` already exists: a second key would make every
    sealed field unreadable, so replacing one must be a deliberate act done by hand.
    """
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir's mode is masked by the umask, and an existing directory keeps its mode.
        os.chmod(data_dir, 0o700)
    except OSError as exc:
        raise KeyProblem(data_dir, f"cannot create the data directory ({_why(exc)})") from None
    key_path = data_dir / KEY_FILE_NAME
    create_key_file(key_path)
    return key_path


def load_key(data_dir: Path, key_file: Path | None = None) -> MasterKey:
    """Find, check and read the master key (see the module docstring for the order).

    An explicit ``key_file`` that is missing is an error, not a reason to fall back: the admin said
    where the key is, and silently using another one would seal new data under the wrong key.
    A systemd credential directory without ``relay.key`` is passed over (the unit may carry other
    credentials).
    """
    if key_file is not None:
        return _read_key(key_file, from_credentials=False, follow_links=True)
    creds = os.environ.get(CREDENTIALS_ENV)
    if creds:
        cred_path = Path(creds) / KEY_FILE_NAME
        try:
            os.lstat(cred_path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise KeyProblem(cred_path, f"cannot read credential ({_why(exc)})") from None
        else:
            return _read_key(cred_path, from_credentials=True, follow_links=False)
    return _read_key(data_dir / KEY_FILE_NAME, from_credentials=False, follow_links=False)


def _read_key(path: Path, *, from_credentials: bool, follow_links: bool) -> MasterKey:
    # O_NONBLOCK: a FIFO planted at the key path must not hang start-up (no effect on files).
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK
    if not follow_links:
        # The default locations hold the key itself; a link there may point somewhere an attacker
        # chose. An admin who keeps the key elsewhere names it explicitly in the config instead.
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise KeyProblem(
            path, "no key file here; run `peer-relay init` or set the key file in the config"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise KeyProblem(path, "key file is a symbolic link; refusing to follow it") from None
        raise KeyProblem(path, f"cannot read key file ({_why(exc)})") from None
    try:
        # Check the file we opened, not the name: no window for a swap between check and read.
        st = os.fstat(fd)
        _check_mode(path, st, from_credentials=from_credentials)
        with os.fdopen(fd, "rb", closefd=False) as src:
            data = src.read(_MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyProblem(path, f"cannot read key file ({_why(exc)})") from None
    finally:
        os.close(fd)
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise KeyProblem(path, "not a peer-relay key file (far too large)")
    return decode_key_file(data, path)


def _check_mode(path: Path, st: os.stat_result, *, from_credentials: bool) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise KeyProblem(path, "key file is not a regular file")
    perms = stat.S_IMODE(st.st_mode)
    if from_credentials:
        # systemd writes a credential 0400 owned by root and grants the service's user read access
        # with a POSIX ACL; stat shows the ACL mask in the group bits (0440) although no group can
        # read it. The directory is systemd's own, per unit and read-only, so accept the owner
        # being root and a group *read* bit, but still refuse any bit for others and any write bit.
        if perms & 0o007 or perms & 0o022:
            raise KeyProblem(
                path, f"credential is readable or writable by other users (mode {perms:04o})"
            )
        if st.st_uid not in (0, os.geteuid()):
            raise KeyProblem(path, f"credential is owned by uid {st.st_uid}, not root or the relay")
        return
    if perms & 0o077:
        raise KeyProblem(
            path,
            f"key file is open to group or others (mode {perms:04o}); run chmod 600 on it",
        )
    if st.st_uid != os.geteuid():
        raise KeyProblem(
            path,
            f"key file is owned by uid {st.st_uid}, not the relay's user (uid {os.geteuid()})",
        )


def _why(exc: OSError) -> str:
    # strerror ("Permission denied") says what is wrong without repeating the path.
    return exc.strerror or type(exc).__name__
