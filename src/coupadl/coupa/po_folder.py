"""The PO folder of one task: temporary files a killed worker left are swept, finished downloads are put in
place (never overwriting, never a second copy of a file an earlier attempt saved), and a folder this task made
but left empty is removed again."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from coupadl.coupa.attachments import Attachment
from coupadl.coupa.filenames import place_file, safe_filename, split_extension
from coupadl.coupa.http_files import is_temp_name, sweep_temp_files
from coupadl.coupa.po import SavedFile
from coupadl.errors import SessionExpiredError
from coupadl.log import get_logger

__all__ = ["POFolder", "file_digest", "looks_like_signin_page"]

_HTML_SNIFF_BYTES = 65_536
_SIGNIN_MARKERS = (b'type="password"', b"type='password'", b"type=password", b"user_password")


def file_digest(path: Path) -> tuple[int, str]:
    """Size and hex SHA-256 of a file (the size is what was read)."""
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256")
        return fh.tell(), digest.hexdigest()


def looks_like_signin_page(path: Path, expected_name: str) -> bool:
    """A sign-in page saved as a download: what a file route returns once the session has expired."""
    if expected_name.lower().endswith((".htm", ".html", ".xhtml")):
        return False
    with path.open("rb") as fh:
        head = fh.read(_HTML_SNIFF_BYTES)
    start = head.lstrip()[:15].lower()
    if not (start.startswith((b"<!doctype html", b"<html"))):
        return False
    lowered = head.lower()
    return any(marker in lowered for marker in _SIGNIN_MARKERS)


class POFolder:
    """Where one task's files go.

    Args:
        path: The PO folder (made by the caller when the first file is due; `tidy` removes it again when this
            task made it and saved nothing).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._log = get_logger()
        self._preexisting: set[str] | None = None
        self._adopted: set[str] = set()
        self._existed = True

    def start(self) -> None:
        """Once per PO: remove temporary files a killed worker left, note which files were there before."""
        if self._preexisting is not None:
            return
        removed = sweep_temp_files(self.path)
        if removed:
            self._log.info("attachment.leftovers_removed", files=len(removed))
        try:
            self._preexisting = {
                p.name for p in self.path.iterdir() if p.is_file() and not is_temp_name(p.name)
            }
        except (FileNotFoundError, NotADirectoryError):
            self._preexisting = set()
            self._existed = False

    def tidy(self) -> None:
        """Remove the PO folder again when this task made it and nothing was saved in it."""
        if self._existed:
            return
        with contextlib.suppress(OSError):  # not empty (or never made): keep it
            self.path.rmdir()

    def place(
        self,
        attachment: Attachment,
        staged: Path,
        server_name: str,
        *,
        came_from: str,
        digest: tuple[int, str] | None = None,
    ) -> SavedFile:
        """Move a finished download into the folder under a safe, unused form of `server_name`.

        Args:
            attachment: The attachment the file is.
            staged: The finished file (a staging folder's, or a temporary name in this folder).
            server_name: The name the server gave.
            came_from: The address the file was answered from (the evidence when it is a sign-in page).
            digest: Size and SHA-256 when already known (hashed while streaming).

        Raises:
            SessionExpiredError: The file is a sign-in page (it is deleted).
        """
        if looks_like_signin_page(staged, attachment.name_hint):
            staged.unlink(missing_ok=True)
            raise SessionExpiredError(
                f"the file route of {attachment.name_hint or attachment.key} answered with a sign-in page",
                redirected_to=came_from,
            )
        size, sha256 = digest if digest is not None else file_digest(staged)
        existing = self._identical_earlier_file(server_name, sha256)
        if existing is not None:
            # Saved by an attempt whose result never reached the progress store (e.g. the session expired
            # half-way): keep that file instead of a second copy.
            staged.unlink(missing_ok=True)
            self._adopted.add(existing.name)
            self._log.info("attachment.already_on_disk", file=existing.name, url=attachment.key)
            return SavedFile(key=attachment.key, name=existing.name, size=size, sha256=sha256, path=existing)
        final = place_file(staged, self.path, server_name)
        self._log.info("attachment.saved", file=final.name, size=size, url=attachment.key)
        return SavedFile(key=attachment.key, name=final.name, size=size, sha256=sha256, path=final)

    def _identical_earlier_file(self, name: str, sha256: str) -> Path | None:
        """A file of the same name (or its `name (n).ext` copy) that was in the folder before this task."""
        self.start()
        if not self._preexisting:
            return None
        stem, ext = split_extension(safe_filename(name))
        for other in sorted(self._preexisting - self._adopted):
            other_stem, other_ext = split_extension(other)
            same_name = other_ext == ext and (
                other_stem == stem or (other_stem.startswith(f"{stem} (") and other_stem.endswith(")"))
            )
            if same_name and file_digest(self.path / other)[1] == sha256:
                return self.path / other
        return None
