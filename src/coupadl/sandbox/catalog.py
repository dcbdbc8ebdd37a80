"""Every file the sandbox serves: id, owner, exact bytes and SHA-256, built once from a `Scenario`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from coupadl.sandbox.scenario import Attachment, PurchaseOrder, Scenario

__all__ = ["FIRST_ATTACHMENT_ID", "Catalog", "ServedFile", "generated_content"]

FIRST_ATTACHMENT_ID = 1270815590
"""Ids are assigned from here in scenario order (Coupa's ids look like this)."""


def generated_content(seed: str, attachment_id: int, name: str, size: int) -> bytes:
    """Deterministic pseudo-random bytes for an attachment without explicit content."""
    return hashlib.shake_256(f"{seed}\x00{attachment_id}\x00{name}".encode()).digest(size)


@dataclass(frozen=True)
class ServedFile:
    """One attachment as the site serves it.

    Attributes:
        po: The PO whose page shows it or links to its requisition.
        owner: `order_header` (on the PO page) or `requisition_header` (on the linked requisition).
        owner_number: The PO or requisition number.
        attachment_id: Id in the attachment URLs.
        attachment: The scenario entry.
        content: Exact bytes served.
        sha256: Hex SHA-256 of `content`.
    """

    po: str
    owner: Literal["order_header", "requisition_header"]
    owner_number: str
    attachment_id: int
    attachment: Attachment
    content: bytes = field(repr=False)
    sha256: str

    @property
    def name(self) -> str:
        """Name sent in `Content-Disposition`."""
        return self.attachment.name

    @property
    def size(self) -> int:
        """Length in bytes."""
        return len(self.content)

    @property
    def path(self) -> str:
        """The file URL (path and query) the page's markup uses for this attachment's form."""
        quoted = quote(self.name, safe="")
        if self.attachment.form in ("button_span", "anchor_download_attr"):
            return f"/attachment/attachment_file/type/{self.attachment_id}/{quoted}"
        if self.attachment.click_only:
            return f"/attachments/{self.attachment_id}/download"
        if self.attachment.form == "role_button_ancestor":
            return f"/attachment/attachment_file/file/{self.attachment_id}/{quoted}"
        if self.attachment.form == "filename_query":
            return f"/attachments/{self.attachment_id}/download?filename={quoted}"
        return f"/attachments/{self.attachment_id}/download"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (without the bytes), as listed at `/sandbox/files`."""
        a = self.attachment
        return {
            "po": self.po,
            "owner": self.owner,
            "owner_number": self.owner_number,
            "attachment_id": self.attachment_id,
            "name": a.name,
            "size": self.size,
            "sha256": self.sha256,
            "form": a.form,
            "redirect": a.redirect,
            "delay_s": a.delay_s,
            "fail_first": a.fail_first,
            "fail_status": a.fail_status,
            "expire_session": a.expire_session,
            "click_only": a.click_only,
            "path": self.path,
        }


class Catalog:
    """Files by id and per owner, derived once from a scenario."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._by_id: dict[int, ServedFile] = {}
        self._by_owner: dict[tuple[str, str], list[ServedFile]] = {}
        taken = {a.id for po in scenario.pos for a in _all_attachments(po) if a.id is not None}
        next_id = FIRST_ATTACHMENT_ID
        for po in scenario.pos:
            owners: list[tuple[Literal["order_header", "requisition_header"], str, tuple[Attachment, ...]]]
            owners = [("order_header", po.number, tuple(po.attachments))]
            owners += [("requisition_header", r.number, tuple(r.attachments)) for r in po.requisitions]
            for owner, number, attachments in owners:
                for attachment in attachments:
                    if attachment.id is None:
                        while next_id in taken or next_id in self._by_id:
                            next_id += 1
                        attachment_id = next_id
                    else:
                        attachment_id = attachment.id
                    if attachment_id in self._by_id:
                        raise ValueError(f"attachment id {attachment_id} is used twice")
                    self._add(po.number, owner, number, attachment_id, attachment)

    def _add(
        self,
        po: str,
        owner: Literal["order_header", "requisition_header"],
        owner_number: str,
        attachment_id: int,
        attachment: Attachment,
    ) -> None:
        content = attachment.content
        if content is None:
            content = generated_content(self.scenario.seed, attachment_id, attachment.name, attachment.size)
        served = ServedFile(
            po=po,
            owner=owner,
            owner_number=owner_number,
            attachment_id=attachment_id,
            attachment=attachment,
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
        )
        self._by_id[attachment_id] = served
        self._by_owner.setdefault((owner, owner_number), []).append(served)

    def get(self, attachment_id: int) -> ServedFile | None:
        """The file with this id, or None."""
        return self._by_id.get(attachment_id)

    def for_order(self, number: str) -> list[ServedFile]:
        """Files shown on the PO page, in page order."""
        return list(self._by_owner.get(("order_header", number), ()))

    def for_requisition(self, number: str) -> list[ServedFile]:
        """Files shown on the requisition page, in page order."""
        return list(self._by_owner.get(("requisition_header", number), ()))

    def all(self) -> list[ServedFile]:
        """Every file, in scenario order."""
        return list(self._by_id.values())


def _all_attachments(po: PurchaseOrder) -> tuple[Attachment, ...]:
    return tuple(po.attachments) + tuple(a for r in po.requisitions for a in r.attachments)
