"""What the sandbox site serves, as plain data: purchase orders, their attachments and site-wide behaviour.

A test states its site in a few lines::

    Scenario(
        pos=[PurchaseOrder(number="15262984", supplier="Acme GmbH",
                           attachments=[Attachment(name="quote.pdf", size=100_000, form="button_span")])],
        page_latency_s=0.3,
    )

Every class is a frozen dataclass; a `Scenario` round-trips through JSON (`to_json` / `from_json`, read and
written by a pydantic `TypeAdapter`), so the same site can be served from the command line
(`python -m coupadl.sandbox --scenario FILE.json`). The ready-made sites `small` and `demo` are such files,
shipped in `presets/`.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BeforeValidator, ConfigDict, Field, PlainSerializer, TypeAdapter, ValidationError

__all__ = [
    "ATTACHMENT_FORMS",
    "LANGUAGES",
    "LOADING_SIGNS",
    "PO_KINDS",
    "UNKNOWN_PO",
    "Attachment",
    "AttachmentForm",
    "Language",
    "LoadingSign",
    "PoKind",
    "PoLine",
    "PurchaseOrder",
    "Requisition",
    "Scenario",
    "UnknownPo",
]

AttachmentForm = Literal[
    "button_span", "anchor", "anchor_download_attr", "data_url", "filename_query", "role_button_ancestor"
]
"""How an attachment is marked up on the page (see `coupadl.sandbox.pages`). `role_button_ancestor`: a
`span[role=button]` labelled "<name> file attachment" whose URL sits two levels up in `data-download-url`."""

PoKind = Literal["normal", "not_found", "forbidden", "redirect_home", "http_404", "http_403"]
"""`normal` shows the PO; `not_found` and `forbidden` show Coupa's 200 error pages instead; `redirect_home`
redirects to `/user/home`; `http_404` / `http_403` answer with that status (and the error page)."""

UnknownPo = Literal["not_found", "redirect_home", "http_404"]
"""What the site does for a PO number it does not know."""

Language = Literal["en", "pt-BR", "es", "fr", "de"]
"""Language of the site's error pages."""

LoadingSign = Literal["placeholder", "spinner", "aria_busy", "none"]
"""What a script-rendered attachments area shows until its list is there."""

ATTACHMENT_FORMS: tuple[AttachmentForm, ...] = get_args(AttachmentForm)
PO_KINDS: tuple[PoKind, ...] = get_args(PoKind)
UNKNOWN_PO: tuple[UnknownPo, ...] = get_args(UnknownPo)
LANGUAGES: tuple[Language, ...] = get_args(Language)
LOADING_SIGNS: tuple[LoadingSign, ...] = get_args(LoadingSign)

_DEFAULT_SIZE = 20_000

_JSON_CONFIG = ConfigDict(extra="forbid")
"""Every scenario class refuses keys it does not know (a misspelt knob must not be silently ignored)."""


def _from_base64(value: object) -> object:
    return base64.b64decode(value, validate=True) if isinstance(value, str) else value


def _to_base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


Base64Content = Annotated[
    bytes, BeforeValidator(_from_base64), PlainSerializer(_to_base64, return_type=str, when_used="json")
]
"""Exact file bytes, written in JSON as base64 (under the key `content_base64`)."""


def _set(obj: object, name: str, value: object) -> None:
    """Normalise a field of a frozen dataclass in `__post_init__`."""
    object.__setattr__(obj, name, value)


def _check_digits(kind: str, number: str) -> None:
    if not isinstance(number, str) or not number.isdigit() or not number.isascii():
        raise ValueError(f"{kind} number must be a string of digits, got {number!r}")


@dataclass(frozen=True)
class Attachment:
    """One file attached to a PO or requisition.

    Attributes:
        name: The name sent in `Content-Disposition`; may be awkward on purpose (separators, `..`, `CON.txt`,
            very long, non-ASCII). Control characters are refused (they cannot travel in a header).
        size: Length of the generated content in bytes; ignored when `content` is given.
        content: Exact bytes to serve; when None, bytes are generated deterministically from the seed.
        form: Markup form on the page.
        redirect: The file route answers 302 to a signed storage URL that serves the bytes.
        delay_s: The bytes trickle out over this many seconds (headers are sent at once).
        fail_first: The first N requests of the file route answer `fail_status`.
        fail_status: The status of those failing answers (503 by default; e.g. 500).
        expire_session: The file route signs every session out before answering (so a session "expires"
            between the page and its file) and sends the client to sign-in.
        click_only: (`button_span` only) the page carries no file URL: its script builds it on click, so only
            a click in the page can download the file.
        label: Visible label text (may be noise); defaults to `name`.
        id: Attachment id used in URLs; assigned in scenario order when None.
    """

    __pydantic_config__: ClassVar[ConfigDict] = _JSON_CONFIG

    name: str
    size: int = _DEFAULT_SIZE
    content: Annotated[Base64Content | None, Field(alias="content_base64")] = field(default=None, repr=False)
    form: AttachmentForm = "button_span"
    redirect: bool = False
    delay_s: float = 0.0
    fail_first: int = 0
    label: str | None = None
    id: int | None = None
    fail_status: int = 503
    expire_session: bool = False
    click_only: bool = False

    def __post_init__(self) -> None:
        if not self.name or any(ord(ch) < 32 or ord(ch) == 127 for ch in self.name):
            raise ValueError(
                f"attachment name must be non-empty without control characters, got {self.name!r}"
            )
        if self.form not in ATTACHMENT_FORMS:
            raise ValueError(
                f"attachment form must be one of {', '.join(ATTACHMENT_FORMS)}, got {self.form!r}"
            )
        if self.content is not None:
            _set(self, "content", bytes(self.content))
            _set(self, "size", len(self.content))
        if self.size < 0 or self.fail_first < 0 or self.delay_s < 0:
            raise ValueError(f"attachment {self.name!r}: size, fail_first and delay_s must not be negative")
        if self.id is not None and self.id <= 0:
            raise ValueError(f"attachment id must be positive, got {self.id!r}")
        if not 400 <= self.fail_status <= 599:
            raise ValueError(f"fail_status must be an HTTP error status, got {self.fail_status!r}")
        if self.click_only and self.form != "button_span":
            raise ValueError(f"attachment {self.name!r}: click_only needs form button_span")

    @property
    def shown_label(self) -> str:
        """The text shown on the page."""
        return self.name if self.label is None else self.label


@dataclass(frozen=True)
class PoLine:
    """One order line as shown in the PO's lines table."""

    __pydantic_config__: ClassVar[ConfigDict] = _JSON_CONFIG

    description: str
    # int | float: a whole quantity read from JSON stays whole, as the page shows it ("12", not "12.0")
    quantity: int | float = 1.0
    unit_price: float = 0.0

    @property
    def total(self) -> float:
        """Line total."""
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Requisition:
    """A requisition linked from a PO page, with its own attachments.

    Attributes:
        number: Requisition number, digits only (the URL is `/requisition_headers/<number>`).
        attachments: Files on the requisition page.
        redirect_home: Its page redirects to the user's home instead (a link that leads elsewhere).
    """

    __pydantic_config__: ClassVar[ConfigDict] = _JSON_CONFIG

    number: str
    attachments: Sequence[Attachment] = ()
    redirect_home: bool = False

    def __post_init__(self) -> None:
        _check_digits("requisition", self.number)
        _set(self, "attachments", tuple(self.attachments))


@dataclass(frozen=True)
class PurchaseOrder:
    """A purchase order page.

    Attributes:
        number: PO number, digits only (the URL is `/order_headers/<number>`).
        supplier: Supplier name in the PO header.
        lines: Order lines; one generic line when empty.
        attachments: Files on the PO page.
        requisition: A requisition linked from the page (the usual fallback when the PO has no files).
        more_requisitions: Further requisitions linked after `requisition`, in page order.
        kind: `normal`, or what is served instead (see `PoKind`).
        language: Language of its error page (`not_found`, `forbidden`, `http_404`, `http_403`).
        attachments_delay_s: The attachment list is inserted by the page's script this long after load
            (0: it is in the server's HTML).
        attachments_loading: What the attachments area shows until then (`placeholder` text, a `spinner`,
            `aria_busy`, or `none`).
        attachments_forever: The attachments area keeps loading and the list never comes.
        throttle_first: The first N requests of the page (any method) answer 429.
        retry_after: The 429's `Retry-After` header value (None: no header).
        shown_number: The PO number the page shows in its title and header (None: its own).
        busy_elsewhere: Another section of the page (approvals) keeps loading forever, and the whole order
            sits in a container whose class mentions attachments: neither is the attachments area.
    """

    __pydantic_config__: ClassVar[ConfigDict] = _JSON_CONFIG

    number: str
    supplier: str = "Acme GmbH"
    lines: Sequence[PoLine] = ()
    attachments: Sequence[Attachment] = ()
    requisition: Requisition | None = None
    more_requisitions: Sequence[Requisition] = ()
    kind: PoKind = "normal"
    language: Language = "en"
    attachments_delay_s: float = 0.0
    attachments_loading: LoadingSign = "placeholder"
    attachments_forever: bool = False
    throttle_first: int = 0
    retry_after: str | None = "2"
    shown_number: str | None = None
    busy_elsewhere: bool = False

    def __post_init__(self) -> None:
        _check_digits("PO", self.number)
        if self.kind not in PO_KINDS:
            raise ValueError(f"PO kind must be one of {', '.join(PO_KINDS)}, got {self.kind!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {self.language!r}")
        if self.attachments_loading not in LOADING_SIGNS:
            raise ValueError(
                f"attachments_loading must be one of {', '.join(LOADING_SIGNS)}, "
                f"got {self.attachments_loading!r}"
            )
        if self.attachments_delay_s < 0 or self.throttle_first < 0:
            raise ValueError("attachments_delay_s and throttle_first must not be negative")
        if self.shown_number is not None:
            _check_digits("shown PO", self.shown_number)
        _set(self, "lines", tuple(self.lines) or (PoLine("Goods and services", 1.0, 100.0),))
        _set(self, "attachments", tuple(self.attachments))
        _set(self, "more_requisitions", tuple(self.more_requisitions))

    @property
    def requisitions(self) -> tuple[Requisition, ...]:
        """Every requisition the page links, in page order."""
        return ((self.requisition,) if self.requisition else ()) + tuple(self.more_requisitions)


@dataclass(frozen=True)
class Scenario:
    """The whole site.

    Attributes:
        pos: Purchase orders; any other number gets the "Oops" page.
        page_latency_s: Added to every HTML page (Coupa pages are slow).
        expire_after_views: A session is signed out after this many protected page views (None: never).
        sso_host: Host name of the same server the sign-in bounces through (e.g. "localhost"), like Entra
            or Okta on another host; None keeps the hop on the site's own host.
        storage_host: Host name of the same server that signed storage URLs point at (e.g. "localhost"),
            like S3 or Azure Blob on another host; None keeps them on the site's own host.
        cookie_max_age_s: Lifetime of the session cookie (also enforced by the server).
        session_only_cookie: Send the sign-in cookie without `Max-Age`/`Expires` (Rails' default): a browser
            session cookie, loaded at start only when the browser restores its last session. The server still
            refuses sessions older than `cookie_max_age_s`.
        seed: Seed of the generated attachment bytes.
        unknown_po: What a PO number not in `pos` gets (see `UnknownPo`).
        language: Language of the error page an unknown PO gets.
    """

    __pydantic_config__: ClassVar[ConfigDict] = _JSON_CONFIG

    pos: Sequence[PurchaseOrder] = ()
    page_latency_s: float = 0.0
    expire_after_views: int | None = None
    sso_host: str | None = None
    cookie_max_age_s: int = 14 * 24 * 3600
    session_only_cookie: bool = False
    seed: str = "coupadl-sandbox"
    storage_host: str | None = None
    unknown_po: UnknownPo = "not_found"
    language: Language = "en"

    def __post_init__(self) -> None:
        _set(self, "pos", tuple(self.pos))
        numbers = [po.number for po in self.pos]
        duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
        if duplicates:
            raise ValueError(f"PO numbers must be unique, repeated: {', '.join(duplicates)}")
        if self.page_latency_s < 0:
            raise ValueError("page_latency_s must not be negative")
        if self.expire_after_views is not None and self.expire_after_views < 0:
            raise ValueError("expire_after_views must not be negative")
        if self.cookie_max_age_s <= 0:
            raise ValueError("cookie_max_age_s must be positive")
        if self.unknown_po not in UNKNOWN_PO:
            raise ValueError(f"unknown_po must be one of {', '.join(UNKNOWN_PO)}, got {self.unknown_po!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {self.language!r}")

    # --- lookups ----------------------------------------------------------------------------------

    def po(self, number: str) -> PurchaseOrder | None:
        """The PO with this number, or None."""
        return next((po for po in self.pos if po.number == number), None)

    def requisition(self, number: str) -> Requisition | None:
        """The requisition with this number (linked from any PO), or None."""
        return next((r for po in self.pos for r in po.requisitions if r.number == number), None)

    # --- JSON -------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (explicit `content` is base64 under `content_base64`)."""
        data: dict[str, Any] = _ADAPTER.dump_python(self, mode="json", by_alias=True)
        return data

    def to_json(self, *, indent: int | None = 2) -> str:
        """The scenario as JSON text."""
        return _ADAPTER.dump_json(self, indent=indent, by_alias=True).decode("utf-8")

    def dump(self, path: Path) -> None:
        """Write the scenario as UTF-8 JSON to `path`."""
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Build a scenario from `to_dict` output; unknown keys and bad values raise a one-line ValueError."""
        try:
            return _ADAPTER.validate_python(data)
        except ValidationError as exc:
            raise _one_line(exc) from None

    @classmethod
    def from_json(cls, text: str | bytes) -> Scenario:
        """Build a scenario from JSON text."""
        try:
            return _ADAPTER.validate_json(text)
        except ValidationError as exc:
            raise _one_line(exc) from None

    @classmethod
    def load(cls, path: Path) -> Scenario:
        """Read a scenario JSON file."""
        return cls.from_json(path.read_bytes())

    # --- ready-made sites -------------------------------------------------------------------------

    @classmethod
    def small(cls) -> Scenario:
        """A few POs for quick tests: one per common form, one without files, one unknown
        (`presets/small.json`)."""
        return _preset("small")

    @classmethod
    def demo(cls) -> Scenario:
        """About 20 POs covering every outcome the downloader must handle; signed in by a session-only cookie,
        as on most real tenants (Rails' default) (`presets/demo.json`)."""
        return _preset("demo")

    @classmethod
    def bench(
        cls,
        n_pos: int = 40,
        attachments_per_po: int = 2,
        size: int = 100_000,
        page_latency_s: float = 0.3,
    ) -> Scenario:
        """Uniform POs for throughput measurements; attachment forms rotate through every form."""
        suppliers = ("Acme GmbH", "Globex Corporation", "Initech", "Umbrella Corp", "Stark Industries")
        pos = []
        for i in range(n_pos):
            attachments = [
                Attachment(
                    name=f"PO{30000000 + i}_doc{j + 1}.pdf",
                    size=size,
                    form=ATTACHMENT_FORMS[(i * attachments_per_po + j) % len(ATTACHMENT_FORMS)],
                )
                for j in range(attachments_per_po)
            ]
            pos.append(
                PurchaseOrder(
                    number=str(30000000 + i), supplier=suppliers[i % len(suppliers)], attachments=attachments
                )
            )
        return cls(pos=pos, page_latency_s=page_latency_s)


_ADAPTER: TypeAdapter[Scenario] = TypeAdapter(Scenario)


def _one_line(exc: ValidationError) -> ValueError:
    """The validation errors as one line: `where: what; ...` (`pos.0.vendor: Unexpected keyword argument`)."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "scenario"
        problems.append(f"{where}: {error['msg']}")
    return ValueError("invalid scenario: " + "; ".join(problems))


@functools.cache
def _preset(name: str) -> Scenario:
    """A ready-made site shipped as package data (the scenario is frozen, so one copy serves every caller)."""
    preset = resources.files("coupadl.sandbox").joinpath("presets", f"{name}.json")
    return Scenario.from_json(preset.read_bytes())
