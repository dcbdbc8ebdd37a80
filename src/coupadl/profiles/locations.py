"""Where profiles live: the browsers' default user-data-dirs, coupadl's own profile folder, the temp root.

`default_user_data_dir` is a pure function of (browser, platform, environment) so every OS can be tested on
any OS; it returns a `PureWindowsPath` for Windows and a `PurePosixPath` elsewhere.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

import platformdirs

from coupadl.choices import BrowserKind
from coupadl.errors import PermissionDeniedException

__all__ = [
    "EDGE_DEFAULT",
    "default_temp_root",
    "default_user_data_dir",
    "ensure_private_dir",
    "is_default_user_data_dir",
    "resolve_profile_dir",
    "tool_profile_dir",
    "which_default_user_data_dir",
]

EDGE_DEFAULT = "edge-default"
"""The `--profile` word meaning "the OS default Edge user-data-dir"."""

# Relative to %LOCALAPPDATA% (Windows), ~/Library/Application Support (macOS), $XDG_CONFIG_HOME (Linux).
# Edge's folder on Windows is `Microsoft\Edge`, not `Microsoft Edge` (an earlier tool's bug).
_WINDOWS = {
    BrowserKind.EDGE: ("Microsoft", "Edge", "User Data"),
    BrowserKind.CHROME: ("Google", "Chrome", "User Data"),
    BrowserKind.CHROMIUM: ("Chromium", "User Data"),
}
_MACOS = {
    BrowserKind.EDGE: ("Microsoft Edge",),
    BrowserKind.CHROME: ("Google", "Chrome"),
    BrowserKind.CHROMIUM: ("Chromium",),
}
_LINUX = {
    BrowserKind.EDGE: ("microsoft-edge",),
    BrowserKind.CHROME: ("google-chrome",),
    BrowserKind.CHROMIUM: ("chromium",),
}


def default_user_data_dir(
    browser: BrowserKind, platform: str = sys.platform, env: Mapping[str, str] | None = None
) -> PurePath:
    """The user-data-dir `browser` uses when started without `--user-data-dir` on `platform`.

    Args:
        browser: Edge, Chrome or Chromium.
        platform: A `sys.platform` value (`win32`, `darwin`, `linux`, ...).
        env: Environment variables to read (`LOCALAPPDATA`/`USERPROFILE` on Windows, `HOME`, and
            `XDG_CONFIG_HOME` on Linux); the process environment when None.

    Raises:
        ValueError: The environment does not say where the user's home is.
    """
    env = os.environ if env is None else env
    if platform == "win32":
        local = env.get("LOCALAPPDATA")
        if local:
            return PureWindowsPath(local, *_WINDOWS[browser])
        profile = env.get("USERPROFILE")
        if not profile:
            raise ValueError("neither LOCALAPPDATA nor USERPROFILE is set")
        return PureWindowsPath(profile, "AppData", "Local", *_WINDOWS[browser])
    home = env.get("HOME")
    if platform == "darwin":
        if not home:
            raise ValueError("HOME is not set")
        return PurePosixPath(home, "Library", "Application Support", *_MACOS[browser])
    xdg = env.get("XDG_CONFIG_HOME")
    # The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
    if xdg and PurePosixPath(xdg).is_absolute():
        return PurePosixPath(xdg, *_LINUX[browser])
    if not home:
        raise ValueError("HOME is not set")
    return PurePosixPath(home, ".config", *_LINUX[browser])


def tool_profile_dir() -> Path:
    """coupadl's own base profile (a non-default user-data-dir made by `coupadl login`)."""
    return Path(platformdirs.user_data_dir("coupadl")) / "profile"


def resolve_profile_dir(value: str | os.PathLike[str] | None) -> Path:
    """The base user-data-dir named by the `--profile` value.

    Args:
        value: None for coupadl's own profile folder, `edge-default` for the OS default Edge user-data-dir,
            anything else is a path (`~` is expanded).
    """
    if value is None:
        return tool_profile_dir()
    if str(value) == EDGE_DEFAULT:
        return Path(default_user_data_dir(BrowserKind.EDGE))
    return Path(value).expanduser().absolute()


def _normalized(path: PurePath, platform: str) -> str:
    text = os.path.normpath(str(path)) if platform == sys.platform else str(path)
    text = text.rstrip("\\/") or text
    return text.casefold() if platform in ("win32", "darwin") else text


def which_default_user_data_dir(
    path: str | os.PathLike[str], platform: str = sys.platform, env: Mapping[str, str] | None = None
) -> BrowserKind | None:
    """The browser whose real default user-data-dir `path` is, or None.

    Chrome 136+ (and maybe Edge) refuses remote control on its default user-data-dir, so the browser layer
    uses this to explain a refused start. Symlinks are resolved when `platform` is this machine's.
    """
    env = os.environ if env is None else env
    pure: PurePath = PureWindowsPath(path) if platform == "win32" else PurePosixPath(path)
    if platform == sys.platform:
        pure = Path(path).expanduser().resolve()
    target = _normalized(pure, platform)
    for browser in BrowserKind:
        try:
            default = default_user_data_dir(browser, platform, env)
        except ValueError:
            continue
        candidate: PurePath = default
        if platform == sys.platform:
            candidate = Path(default).resolve()
        if _normalized(candidate, platform) == target:
            return browser
    return None


def is_default_user_data_dir(
    path: str | os.PathLike[str], platform: str = sys.platform, env: Mapping[str, str] | None = None
) -> bool:
    """True if `path` is some browser's real default user-data-dir (see `which_default_user_data_dir`)."""
    return which_default_user_data_dir(path, platform, env) is not None


def default_temp_root() -> Path:
    """Short, per-user folder for run snapshots and clones: `<tmp>/coupadl` (`coupadl-<uid>` on POSIX).

    Kept short on purpose: Chromium dies at start when a Unix socket path near the user-data-dir passes
    108 bytes. The uid suffix keeps users of a shared `/tmp` from blocking each other.
    """
    name = f"coupadl-{os.getuid()}" if hasattr(os, "getuid") else "coupadl"
    return Path(tempfile.gettempdir()) / name


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (owner-only) if needed and make sure it is a real folder owned by this user.

    Raises:
        PermissionDeniedException: `path` is a symlink, not a folder, owned by someone else, or not writable.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.lstat()
    except OSError as exc:
        raise PermissionDeniedException(f"cannot create the temporary folder {path}: {exc.strerror}") from exc
    if path.is_symlink() or not path.is_dir():
        raise PermissionDeniedException(
            f"temporary folder {path} is not a plain folder: remove it or move it"
        )
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise PermissionDeniedException(
            f"temporary folder {path} belongs to another user (uid {st.st_uid}): remove it or set TMPDIR"
        )
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionDeniedException(f"temporary folder {path} is not writable")
    return path
