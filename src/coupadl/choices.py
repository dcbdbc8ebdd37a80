"""The plain choices and constants behind the settings: the browser kinds, the profile policies, the worker
limits and the default page texts.

They live apart from `coupadl.settings` (which re-exports them) so that a worker process, which is handed its
configuration and never loads settings, can use them without importing pydantic.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DEFAULT_LOADING_TEXTS",
    "DEFAULT_PAGE_ERROR_TEXTS",
    "MAX_GRID_WORKERS",
    "MAX_WORKERS",
    "MIN_WORKERS",
    "BrowserKind",
    "ProfilePolicy",
]

MIN_WORKERS = 1
MAX_WORKERS = 8
MAX_GRID_WORKERS = 32  # with `grid`: windows on a Selenium Grid (issue 13)


class BrowserKind(StrEnum):
    """Which Chromium-family browser drives the windows."""

    EDGE = "edge"
    CHROME = "chrome"
    CHROMIUM = "chromium"


class ProfilePolicy(StrEnum):
    """Which windows run on the base profile itself."""

    BASE_FIRST = "base-first"  # window A on the base, B..N on clones
    ALL_CLONES = "all-clones"  # every window on a clone; the base is only read once, for the snapshot


DEFAULT_PAGE_ERROR_TEXTS: dict[str, tuple[str, ...]] = {
    # English: the texts the earlier downloader matched on real tenants, and the access-denied texts seen
    # there (facts/coupa-site.md), plus Rails' public/404.html wording ("The page you were looking for
    # doesn't exist").
    "en": (
        "Oops! We couldn't find what you wanted",
        "We couldn't find what you wanted",
        "You are not authorized",
        "not authorized",
        "Access denied",
        "You do not have permission",
        "insufficient privileges",
        "The page you were looking for doesn't exist",
        "The page you were looking for does not exist",
    ),
    # pt-BR: the not-found text from the earlier downloader's config (facts/coupa-site.md); the access texts
    # are rails-i18n / CanCanCan pt-BR wording ("Você não está autorizado a acessar esta página").
    "pt-BR": (
        "Desculpe, não encontramos o que você procurava",
        "não encontramos o que você procurava",
        "Você não está autorizado",
        "não autorizado",
        "Você não tem permissão",
        "Acesso negado",
        "A página que você procura não existe",
    ),
    # es, fr, de: CanCanCan's unauthorized message and Rails' 404 page as their community locales word them;
    # not seen on a tenant yet: add the tenant's exact text here (config file) when it differs.
    "es": (
        "no encontramos lo que buscaba",
        "No está autorizado",
        "no tiene permiso",
        "Acceso denegado",
        "La página que buscaba no existe",
    ),
    "fr": (
        "nous n'avons pas trouvé ce que vous cherchiez",
        "Vous n'êtes pas autorisé",
        "Vous n'avez pas la permission",
        "Accès refusé",
        "La page que vous recherchez n'existe pas",
    ),
    "de": (
        "Wir konnten nicht finden, wonach Sie gesucht haben",
        "Sie sind nicht berechtigt",
        "Sie haben keine Berechtigung",
        "Zugriff verweigert",
        "Die gesuchte Seite existiert nicht",
    ),
}
"""Default `page_error_texts`: Coupa's "missing or forbidden" page in the tenant languages operators use."""

DEFAULT_LOADING_TEXTS: tuple[str, ...] = ("Loading", "Carregando", "Cargando", "Chargement", "Wird geladen")
"""Default `loading_texts` (en, pt-BR, es, fr, de): what a list rendered by script shows until it is there."""
