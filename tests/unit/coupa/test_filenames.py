"""Server-sent names made safe, and files placed without overwriting or escaping their folder."""

from __future__ import annotations

import os
import threading
import unicodedata
from pathlib import Path

import pytest

from coupadl.coupa.filenames import (
    MAX_NAME_BYTES,
    UNKNOWN_SUPPLIER,
    disposition_filename,
    folder_name,
    place_file,
    po_folder,
    safe_filename,
    split_extension,
    unique_destination,
)
from coupadl.coupa.po import PONumber, parse_po_number
from coupadl.errors import PermanentTaskError

WINDOWS_FORBIDDEN = set('<>:"/\\|?*')


def _po(text: str = "PO15262984") -> PONumber:
    po = parse_po_number(text)
    assert po is not None
    return po


def _assert_portable(name: str) -> None:
    assert name
    assert not WINDOWS_FORBIDDEN & set(name)
    assert name not in (".", "..")
    assert not name.endswith((".", " "))
    assert not name.startswith(".")
    assert all(ord(ch) >= 32 and ord(ch) != 127 for ch in name)
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert unicodedata.is_normalized("NFC", name)
    assert name.split(".")[0].strip().upper() not in {"CON", "PRN", "AUX", "NUL"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("invoice.pdf", "invoice.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\System32\\evil.dll", "evil.dll"),
        ("/absolute/path/report.pdf", "report.pdf"),
        ("C:\\Users\\x\\report.pdf", "report.pdf"),
        ("report.pdf/..", "report.pdf"),
        ("..", "attachment"),
        ("...", "attachment"),
        ("", "attachment"),
        ("   ", "attachment"),
        ("/", "attachment"),
        ('a<b>c:d"e|f?g*h.pdf', "a_b_c_d_e_f_g_h.pdf"),
        ("line\nbreak\ttab\x00nul\x7f.pdf", "linebreaktabnul.pdf"),
        ("name. . .", "name"),
        ("name.pdf   ", "name.pdf"),
        (".hidden.pdf", "hidden.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("Angebot für Müller.pdf", "Angebot für Müller.pdf"),
        ("請求書.pdf", "請求書.pdf"),
        ("C:report.pdf", "C_report.pdf"),
    ],
)
def test_safe_filename(raw: str, expected: str) -> None:
    assert safe_filename(raw) == expected
    _assert_portable(safe_filename(raw))


@pytest.mark.parametrize(
    ("reserved", "expected"),
    [
        ("CON", "_CON"),
        ("con", "_con"),
        ("Con.txt", "_Con.txt"),
        ("PRN.pdf", "_PRN.pdf"),
        ("AUX", "_AUX"),
        ("NUL.tar.gz", "_NUL.tar.gz"),
        ("COM1", "_COM1"),
        ("com9.log", "_com9.log"),
        ("LPT1.pdf", "_LPT1.pdf"),
        ("lpt9", "_lpt9"),
        ("COM¹.x", "_COM¹.x"),
        ("CON .txt", "_CON .txt"),
        ("CONIN$", "_CONIN$"),
        ("dir/AUX.eml", "_AUX.eml"),
    ],
)
def test_reserved_windows_names_are_prefixed(reserved: str, expected: str) -> None:
    assert safe_filename(reserved) == expected
    _assert_portable(expected)


@pytest.mark.parametrize("ok", ["CONTRACT.pdf", "COM10.txt", "LPT0.txt", "nulled.pdf", "auxiliary", "COM"])
def test_names_that_only_look_reserved_are_kept(ok: str) -> None:
    assert safe_filename(ok) == ok


def test_unicode_is_normalised_to_nfc() -> None:
    decomposed = "Re\u0301sume\u0301.pdf"  # é as e + combining accent (what macOS may send)
    safe = safe_filename(decomposed)
    assert safe == "Résumé.pdf"
    assert safe == unicodedata.normalize("NFC", decomposed)


def test_long_ascii_name_keeps_its_extension() -> None:
    safe = safe_filename("x" * 400 + ".pdf")
    assert len(safe.encode()) == MAX_NAME_BYTES
    assert safe.endswith(".pdf")
    assert safe == "x" * (MAX_NAME_BYTES - 4) + ".pdf"


@pytest.mark.parametrize("char", ["é", "請", "😀"])
def test_long_multibyte_name_is_cut_on_a_character_boundary(char: str) -> None:
    safe = safe_filename(char * 300 + ".docx")
    assert safe.endswith(".docx")
    assert len(safe.encode()) <= MAX_NAME_BYTES
    assert len(safe.encode()) > MAX_NAME_BYTES - len(char.encode()) - 1
    assert set(safe[: -len(".docx")]) == {char}


def test_long_extension_is_not_kept_as_an_extension() -> None:
    safe = safe_filename("a" * 100 + "." + "b" * 300)
    assert len(safe.encode()) == MAX_NAME_BYTES
    assert safe.startswith("a" * 100 + ".")


def test_safe_filename_is_idempotent() -> None:
    for raw in ["../a?.pdf", "x" * 400 + ".pdf", "請" * 200 + ".zip", "CON.txt", " .x. ", "é" * 300]:
        once = safe_filename(raw)
        assert safe_filename(once) == once


@pytest.mark.parametrize(
    ("name", "stem", "ext"),
    [
        ("a.pdf", "a", ".pdf"),
        ("a.b.pdf", "a.b", ".pdf"),
        ("backup.tar.gz", "backup", ".tar.gz"),
        ("noext", "noext", ""),
        ("trailing.", "trailing.", ""),
        ("Mr. Smith letter", "Mr. Smith letter", ""),
    ],
)
def test_split_extension(name: str, stem: str, ext: str) -> None:
    assert split_extension(name) == (stem, ext)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ACME, S.A.", "ACME, S.A"),
        ("Müller & Söhne GmbH", "Müller & Söhne GmbH"),
        ("AT&T / Wireless", "Wireless"),
        ("Con", "_Con"),
        ("", "attachment"),
        ("a:b", "a_b"),
    ],
)
def test_folder_name(raw: str, expected: str) -> None:
    assert folder_name(raw) == expected


def test_folder_name_is_capped() -> None:
    name = folder_name("Supplier " * 50)
    assert len(name.encode()) <= 120
    assert name == name.strip()


# --- po_folder ---------------------------------------------------------------------------------------


def test_po_folder_layout(tmp_path: Path) -> None:
    assert po_folder(tmp_path, "ACME, S.A.", _po("PM16895339")) == tmp_path / "ACME, S.A" / "PM16895339"


@pytest.mark.parametrize("supplier", [None, "", "   ", "..", "/"])
def test_po_folder_unknown_supplier(tmp_path: Path, supplier: str | None) -> None:
    assert po_folder(tmp_path, supplier, _po()) == tmp_path / UNKNOWN_SUPPLIER / "PO15262984"


@pytest.mark.parametrize("supplier", ["../../outside", "..\\..\\outside", "/etc", "C:\\Windows"])
def test_po_folder_stays_inside_out_root(tmp_path: Path, supplier: str) -> None:
    root = tmp_path / "out"
    path = po_folder(root, supplier, _po())
    assert path.parent.parent == root.absolute()
    assert root.resolve() in path.resolve().parents


def test_po_folder_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = po_folder(Path("out"), "S", _po())
    assert path.is_absolute()
    assert path == tmp_path / "out" / "S" / "PO15262984"


def test_po_folder_refuses_a_supplier_folder_symlinked_outside(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "ACME").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PermanentTaskError, match="outside"):
        po_folder(root, "ACME", _po())


# --- unique_destination and place_file --------------------------------------------------------------


def test_unique_destination_counts_up(tmp_path: Path) -> None:
    assert unique_destination(tmp_path, "a.pdf") == tmp_path / "a.pdf"
    (tmp_path / "a.pdf").write_bytes(b"1")
    assert unique_destination(tmp_path, "a.pdf") == tmp_path / "a (2).pdf"
    (tmp_path / "a (2).pdf").write_bytes(b"2")
    assert unique_destination(tmp_path, "a.pdf") == tmp_path / "a (3).pdf"
    (tmp_path / "backup.tar.gz").write_bytes(b"")
    assert unique_destination(tmp_path, "backup.tar.gz") == tmp_path / "backup (2).tar.gz"
    (tmp_path / "README").write_bytes(b"")
    assert unique_destination(tmp_path, "README") == tmp_path / "README (2)"


def test_unique_destination_counts_a_dangling_symlink_as_taken(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").symlink_to(tmp_path / "missing")
    assert unique_destination(tmp_path, "a.pdf") == tmp_path / "a (2).pdf"


def test_unique_destination_of_a_maximal_name_stays_within_the_cap(tmp_path: Path) -> None:
    name = "請" * 200 + ".pdf"
    first = unique_destination(tmp_path, name)
    first.write_bytes(b"")
    second = unique_destination(tmp_path, name)
    assert second.name.endswith(" (2).pdf")
    assert len(second.name.encode()) <= MAX_NAME_BYTES


def _download(tmp_path: Path, content: bytes, name: str = "download.part") -> Path:
    staging = tmp_path / "staging"
    staging.mkdir(exist_ok=True)
    src = staging / name
    src.write_bytes(content)
    return src


def test_place_file_moves_under_a_safe_name(tmp_path: Path) -> None:
    folder = tmp_path / "out" / "ACME" / "PO1"
    src = _download(tmp_path, b"pdf")
    dest = place_file(src, folder, "../../evil?.pdf")
    assert dest == folder.resolve() / "evil_.pdf"
    assert dest.read_bytes() == b"pdf"
    assert not src.exists()


def test_place_file_never_overwrites(tmp_path: Path) -> None:
    folder = tmp_path / "po"
    placed = [place_file(_download(tmp_path, bytes([n])), folder, "same.pdf") for n in range(3)]
    assert [p.name for p in placed] == ["same.pdf", "same (2).pdf", "same (3).pdf"]
    assert [p.read_bytes() for p in placed] == [b"\x00", b"\x01", b"\x02"]


def test_place_file_case_insensitive_collision_still_never_overwrites(tmp_path: Path) -> None:
    folder = tmp_path / "po"
    folder.mkdir()
    (folder / "Report.PDF").write_bytes(b"old")
    dest = place_file(_download(tmp_path, b"new"), folder, "Report.PDF")
    assert dest.name == "Report (2).PDF"
    assert (folder / "Report.PDF").read_bytes() == b"old"


def test_place_file_does_not_write_through_a_symlink(tmp_path: Path) -> None:
    folder = tmp_path / "po"
    folder.mkdir()
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"precious")
    (folder / "report.pdf").symlink_to(outside)
    dest = place_file(_download(tmp_path, b"download"), folder, "report.pdf")
    assert dest == folder.resolve() / "report (2).pdf"
    assert outside.read_bytes() == b"precious"
    assert (folder / "report.pdf").is_symlink()


def test_place_file_does_not_write_through_a_dangling_symlink(tmp_path: Path) -> None:
    folder = tmp_path / "po"
    folder.mkdir()
    target = tmp_path / "would-be-created.pdf"
    (folder / "report.pdf").symlink_to(target)
    dest = place_file(_download(tmp_path, b"download"), folder, "report.pdf")
    assert dest.name == "report (2).pdf"
    assert not target.exists()


def test_place_file_into_a_symlinked_folder_lands_in_its_target(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    dest = place_file(_download(tmp_path, b"x"), link, "a.pdf")
    assert dest == real.resolve() / "a.pdf"


def test_place_file_cross_device_copies_without_overwriting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_link(src: object, dst: object) -> None:
        raise OSError(18, "Invalid cross-device link")  # EXDEV

    monkeypatch.setattr(os, "link", no_link)
    folder = tmp_path / "po"
    folder.mkdir()
    (folder / "a.pdf").write_bytes(b"old")
    src = _download(tmp_path, b"new" * 100_000)
    dest = place_file(src, folder, "a.pdf")
    assert dest.name == "a (2).pdf"
    assert dest.read_bytes() == b"new" * 100_000
    assert (folder / "a.pdf").read_bytes() == b"old"
    assert not src.exists()


def test_place_file_cross_device_failure_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_link(src: object, dst: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    def broken_copy(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "link", no_link)
    monkeypatch.setattr("shutil.copyfileobj", broken_copy)
    folder = tmp_path / "po"
    src = _download(tmp_path, b"data")
    with pytest.raises(OSError, match="No space"):
        place_file(src, folder, "a.pdf")
    assert list(folder.iterdir()) == []
    assert src.read_bytes() == b"data"  # the download is not lost


def test_place_file_when_already_in_place(tmp_path: Path) -> None:
    folder = tmp_path / "po"
    folder.mkdir()
    src = folder / "a.pdf"
    src.write_bytes(b"x")
    assert place_file(src, folder, "a.pdf") == src.resolve()
    assert src.read_bytes() == b"x"


def test_place_file_race_keeps_every_file(tmp_path: Path) -> None:
    folder = tmp_path / "po"
    sources = [_download(tmp_path, f"file {n}".encode(), name=f"d{n}.part") for n in range(16)]
    results: list[Path] = []
    barrier = threading.Barrier(len(sources))

    def place(src: Path) -> None:
        barrier.wait()
        results.append(place_file(src, folder, "same.pdf"))

    threads = [threading.Thread(target=place, args=(src,)) for src in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({p.name for p in results}) == 16
    assert sorted(p.read_bytes() for p in folder.iterdir()) == sorted(f"file {n}".encode() for n in range(16))


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ('attachment; filename="quote.pdf"', "quote.pdf"),
        ("attachment; filename=quote.pdf", "quote.pdf"),
        (
            "attachment; filename=\"_bersicht.pdf\"; filename*=UTF-8''%C3%9Cbersicht%20Preise.pdf",
            "Übersicht Preise.pdf",
        ),
        ("attachment; filename*=utf-8'en'%E6%9D%B1%E4%BA%AC.pdf", "東京.pdf"),
        ('attachment; filename="a\\"b.pdf"', 'a"b.pdf'),
        ("attachment; filename*=UTF-8''..%2F..%2Fx.pdf", "../../x.pdf"),
        # the extended name wins wherever it stands; an unusable one leaves the plain name
        ("attachment; filename*=UTF-8''%C3%9Cbersicht.pdf; filename=\"_bersicht.pdf\"", "Übersicht.pdf"),
        ("attachment; filename=\"x.pdf\"; filename*=bogus''%C3%9C.pdf", "x.pdf"),
        ("attachment; filename=\"x.pdf\"; filename*=UTF-8''%FF.pdf", "x.pdf"),
        ("attachment; filename*=ISO-8859-1''%DCbersicht.pdf", "Übersicht.pdf"),
        ("attachment; filename*0*=UTF-8''a%20; filename*1=b.pdf", "a b.pdf"),  # RFC 2231 continuations
        ('attachment; FILENAME="a;b.pdf"', "a;b.pdf"),
        ('attachment; filename="x.pdf"\r\nSet-Cookie: a=b', ""),
        ("inline", ""),
        ("", ""),
    ],
)
def test_disposition_filename(header: str, name: str) -> None:
    assert disposition_filename(header) == name
