"""The operator's tables: what they say, and that they fit a normal terminal."""

from rich.console import Console

from coupadl.cli.display import format_status_table, format_window_table


def _report(letter: str, ok: bool) -> dict[str, object]:
    auth = {"status": "success" if ok else "failed", "duration_s": 0.4, "detail": ""}
    return {
        "window": letter,
        "profile_type": "base" if letter == "A" else "clone",
        "profile_path": f"/tmp/coupadl-0/r1/w{letter}",
        "verification": {
            "status": "success" if ok else "failed",
            "methods": {
                "capability": {"status": "success", "duration_s": 0.0, "detail": ""},
                "authentication": auth,
                "file": {"status": "skipped", "duration_s": 0.0, "detail": ""},
            },
            "retry_count": 0 if ok else 3,
        },
        "remediations": []
        if ok
        else [
            {"step": step, "outcome": outcome, "duration_s": 1.0, "detail": ""}
            for step, outcome in (("reload", "failed"), ("reclone", "failed"), ("restart", "success"))
        ],
        "diagnosis": "" if ok else "redirected to sign-in page 127.0.0.1/sessions/new",
    }


def _render(renderable: object, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_window_table_fits_80_columns_and_names_the_failure() -> None:
    text = _render(format_window_table({1: _report("A", True), 2: _report("B", False)}))
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "/tmp/coupadl-0/r1/wA" in text and "/tmp/coupadl-0/r1/wB" in text
    assert "redirected to sign-in page" in text
    assert "reload:no" in text and "reclone:no" in text and "restart:ok" in text
    assert "FAIL" in text and "ok" in text


def test_status_table_counts_and_total() -> None:
    text = _render(format_status_table({"COMPLETED": 3, "FAILED": 1}))
    assert "COMPLETED" in text and "total" in text
    assert text.split("total")[1].split()[1] == "4"
