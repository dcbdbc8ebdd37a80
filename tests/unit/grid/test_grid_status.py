"""Reading a Grid 4 `/status`: free slots per browser, capped by `maxSessions`; nodes not UP count 0."""

from __future__ import annotations

from typing import Any

import pytest

from coupadl.grid import GridStatus


def _slot(browser: str, session: str | None = None) -> dict[str, Any]:
    return {
        "id": {"hostId": "h", "id": "s"},
        "session": {"sessionId": session, "capabilities": {}} if session else None,
        "stereotype": {"browserName": browser, "platformName": "linux"},
    }


def _node(
    uri: str, slots: list[dict[str, Any]], *, max_sessions: int, availability: str = "UP"
) -> dict[str, Any]:
    return {"id": uri, "uri": uri, "availability": availability, "maxSessions": max_sessions, "slots": slots}


def test_free_slots_count_matching_free_slots_capped_by_max_sessions() -> None:
    status = GridStatus.parse(
        {
            "value": {
                "ready": True,
                "message": "Selenium Grid ready.",
                "nodes": [
                    _node(
                        "http://a", [_slot("chrome", "s1"), _slot("chrome"), _slot("chrome")], max_sessions=2
                    ),
                    _node("http://b", [_slot("chrome"), _slot("MicrosoftEdge")], max_sessions=4),
                    _node("http://c", [_slot("chrome")], max_sessions=1, availability="DOWN"),
                ],
            }
        }
    )
    assert status.free_slots("chrome") == 1 + 1
    assert status.free_slots("MicrosoftEdge") == 1
    assert status.session_ids() == {"s1"}
    node = status.node_of("s1")
    assert node is not None and node.uri == "http://a"
    assert status.node_of("nope") is None


@pytest.mark.parametrize("body", [{}, {"value": {"ready": True}}, {"value": "x"}, [], "text"])
def test_answers_that_are_no_grid_status_are_refused(body: Any) -> None:
    with pytest.raises(ValueError, match="not a Selenium Grid 4"):
        GridStatus.parse(body)
