"""Names that come from the server, made safe to use on Windows, macOS and Linux, and files put in place.

`disposition_filename` reads the name a server sends in `Content-Disposition` with the standard library's MIME
parameter parser (RFC 2231 / RFC 5987 `filename*=` preferred, as RFC 6266 asks).

Whatever name a server sends, `safe_filename` makes a single path component that every common file system
accepts: no path separators or `..`, no control or bidirectional-override characters, none of Windows'
`<>:"/\\|?*`, no trailing dots or spaces, no reserved device name (`CON`, `NUL`, `COM1`, ...), Unicode in NFC,
and at most 255 UTF-8 bytes (which also keeps it within NTFS's 255 UTF-16 units).

`place_file` moves a finished download into its PO folder without ever overwriting a file, even when two
processes race for the same name, and refuses any destination outside that folder.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import unicodedata
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

from coupadl.coupa.po import PONumber
from coupadl.errors import PermanentTaskError

__all__ = [
    "DEFAULT_FILE_NAME",
    "MAX_NAME_BYTES",
    "UNKNOWN_SUPPLIER",
    "disposition_filename",
    "folder_name",
    "place_file",
    "po_folder",
    "safe_filename",
    "split_extension",
    "unique_destination",
]

MAX_NAME_BYTES = 255
MAX_FOLDER_BYTES = 120  # folders nest (supplier / PO / file): keep room for the file name on Windows
DEFAULT_FILE_NAME = "attachment"
UNKNOWN_SUPPLIER = "_unknown supplier"
_MAX_EXTENSION_BYTES = 16  # a longer "extension" is part of the name, not a type
_MAX_COPIES = 10_000

_FORBIDDEN = re.compile(r'[<>:"|?*]')
_SEPARATORS = re.compile(r"[/\\]")
# Bidirectional overrides and isolates let `invoice\u202efdp.exe` pose as a PDF; marks have no visible use.
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in (*"123456789", "¹", "²", "³")}
)
_DOUBLE_EXTENSIONS = (".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst")
_NO_LINK_ERRNOS = frozenset({errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


def disposition_filename(header: str) -> str:
    """The file name in a `Content-Disposition` header, or ``""``.

    The extended `filename*=` (RFC 2231 / RFC 5987: charset, language, percent-encoded bytes, continuations)
    wins over the plain `filename=`, which old clients read; an extended value without a charset, in an
    unknown charset or whose bytes do not decode in it is skipped for the plain one. The name is returned as
    sent: `safe_filename` makes it safe.
    """
    if "\r" in header or "\n" in header:
        return ""  # no header a server could have sent
    # `Message.get_params` keeps both forms of a repeated parameter; `email.policy.default`'s header objects
    # keep only the first (so `filename="x"; filename*=...` would lose the extended name).
    message = Message()
    message["Content-Disposition"] = header
    plain, extended = "", None
    for key, value in message.get_params([], header="content-disposition"):
        if key.lower() != "filename":
            continue
        if isinstance(value, tuple):
            charset, _language, text = value  # text: the percent-decoded bytes, one char per byte
            try:
                extended = text.encode("latin-1").decode(charset) if charset else None
            except (LookupError, UnicodeError):
                extended = None
            if extended is not None:
                return extended
        elif not plain:
            plain = value
    return plain


def safe_filename(name: str, *, default: str = DEFAULT_FILE_NAME, max_bytes: int = MAX_NAME_BYTES) -> str:
    """Turn a name sent by the server into a safe single file name.

    The function is idempotent: a safe name comes back unchanged.

    Args:
        name: The name as received (from `Content-Disposition`, a URL, a label...).
        default: The name used when nothing usable is left.
        max_bytes: The cap on the UTF-8 length; the extension is kept when the name is shortened.

    Returns:
        A name without any directory part that is valid on Windows, macOS and Linux.
    """
    cleaned = _clean(name)
    if not cleaned:
        return default
    stem, ext = split_extension(cleaned)
    return _fit(stem, ext, max_bytes) or default


def folder_name(text: str, *, default: str = DEFAULT_FILE_NAME, max_bytes: int = MAX_FOLDER_BYTES) -> str:
    """Turn text such as a supplier name into a safe single folder name.

    Args:
        text: The text, e.g. `ACME, S.A.`.
        default: The name used when nothing usable is left.
        max_bytes: The cap on the UTF-8 length.

    Returns:
        A folder name valid on Windows, macOS and Linux.
    """
    cleaned = _clean(text)
    return _fit(cleaned, "", max_bytes) or default


def split_extension(name: str) -> tuple[str, str]:
    """Split a name into stem and extension (`.pdf`, or a known double one such as `.tar.gz`).

    Args:
        name: A file name.

    Returns:
        `(stem, extension)`; the extension is empty when there is none or it is too long to be one.
    """
    lowered = name.lower()
    for double in _DOUBLE_EXTENSIONS:
        if lowered.endswith(double) and len(name) > len(double):
            return name[: -len(double)], name[-len(double) :]
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    ext = name[dot:]
    if len(ext) == 1 or len(ext.encode()) > _MAX_EXTENSION_BYTES or " " in ext:
        return name, ""
    return name[:dot], ext


def unique_destination(folder: Path, name: str) -> Path:
    """The first free path for `name` in `folder`: `name`, then `name (2).ext`, `name (3).ext`, ...

    This only looks; another process may take the name before it is used. `place_file` is the race-free way.

    Args:
        folder: The target folder.
        name: The wanted name; it is made safe first.

    Returns:
        A path inside `folder` where nothing exists yet (not even a dangling symlink).
    """
    for candidate in _candidates(safe_filename(name)):
        path = folder / candidate
        if not os.path.lexists(path):
            return path
    raise PermanentTaskError(f"no free name for {name!r} in {folder} after {_MAX_COPIES} tries")


def place_file(src: Path, folder: Path, name: str) -> Path:
    """Move a completed download into `folder` under a safe, unique name, never overwriting anything.

    The name is reserved atomically (a hard link, or an exclusive create when the file systems differ or do
    not support links), so two processes placing the same name both keep their file.

    Args:
        src: The downloaded file; it is gone once this returns.
        folder: The PO's folder; created if missing.
        name: The name the server gave the file.

    Returns:
        The final path of the file, inside `folder`.

    Raises:
        PermanentTaskError: The destination would be outside `folder`, or no free name was found.
        OSError: The file could not be moved (disk full, permissions...).
    """
    folder.mkdir(parents=True, exist_ok=True)
    real_folder = folder.resolve(strict=True)
    src_real = src.resolve(strict=True)
    for candidate in _candidates(safe_filename(name)):
        dest = real_folder / candidate
        _check_destination(dest, real_folder)
        if dest == src_real:  # already in place under this very name
            return dest
        if _reserve(src, dest):
            src.unlink()
            return dest
    raise PermanentTaskError(f"no free name for {name!r} in {folder} after {_MAX_COPIES} tries")


def po_folder(out_root: Path, supplier: str | None, po: PONumber) -> Path:
    """The folder for a PO's attachments: `out_root/<supplier>/<PO display>`.

    Args:
        out_root: The run's output root.
        supplier: The supplier's name as shown by Coupa, or `None` when unknown.
        po: The PO.

    Returns:
        An absolute path inside `out_root` (not created here).

    Raises:
        PermanentTaskError: The path would resolve outside `out_root` (e.g. through a symlink).
    """
    root = out_root.absolute()
    supplier_dir = folder_name(supplier or "", default=UNKNOWN_SUPPLIER)
    path = root / supplier_dir / folder_name(po.display)
    _ensure_inside(path, root.resolve())
    return path


# --- internals -------------------------------------------------------------------------------------------


def _clean(name: str) -> str:
    text = unicodedata.normalize("NFC", name)
    parts = [p for p in _SEPARATORS.split(text) if p.strip(" .")]
    text = parts[-1] if parts else ""
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
    text = _FORBIDDEN.sub("_", text)
    # Leading dots would hide the file on macOS and Linux; trailing dots and spaces are dropped by Windows.
    text = text.strip(" .")
    if text.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        text = f"_{text}"
    return text


def _fit(stem: str, ext: str, max_bytes: int) -> str:
    ext_bytes = len(ext.encode())
    if ext_bytes >= max_bytes:
        ext, ext_bytes = "", 0
    budget = max_bytes - ext_bytes
    encoded = stem.encode()
    if len(encoded) > budget:
        stem = encoded[:budget].decode(errors="ignore")  # cut on a character boundary
        stem = unicodedata.normalize("NFC", stem).rstrip(" .")
        while len(stem.encode()) > budget:  # NFC of a cut sequence can in theory grow
            stem = stem[:-1].rstrip(" .")
    if not stem:
        return ""
    return f"{stem}{ext}"


def _candidates(name: str) -> Iterator[str]:
    yield name
    stem, ext = split_extension(name)
    for n in range(2, _MAX_COPIES + 1):
        suffix = f" ({n})"
        yield _fit(stem, "", MAX_NAME_BYTES - len(suffix.encode()) - len(ext.encode())) + suffix + ext


def _ensure_inside(path: Path, real_root: Path) -> None:
    resolved = path.resolve()
    if resolved != real_root and real_root not in resolved.parents:
        raise PermanentTaskError(f"refused to write {path}: it resolves outside {real_root}")


def _check_destination(dest: Path, real_folder: Path) -> None:
    # The last component is checked by name only: os.link and O_EXCL never follow a symlink that sits there.
    name = dest.name
    if name in ("", ".", "..") or _SEPARATORS.search(name) or dest.parent.resolve() != real_folder:
        raise PermanentTaskError(f"refused to write {dest}: it is not directly inside {real_folder}")


def _reserve(src: Path, dest: Path) -> bool:
    """Put `src` at `dest` if that name is free; False when it is taken."""
    try:
        os.link(src, dest)
    except FileExistsError:
        return False
    except OSError as exc:
        # Another device, or a file system without hard links (FAT, some network shares): copy instead.
        if os.name == "nt" or exc.errno in _NO_LINK_ERRNOS:
            return _copy_exclusive(src, dest)
        raise
    return True


def _copy_exclusive(src: Path, dest: Path) -> bool:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(dest, flags, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as source:
            shutil.copyfileobj(source, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        shutil.copystat(src, dest)
    except BaseException:
        dest.unlink(missing_ok=True)  # only our own, half-copied reservation
        raise
    return True
