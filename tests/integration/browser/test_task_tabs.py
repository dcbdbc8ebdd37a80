"""The task-tab policy with a real headless Chromium against the sandbox.

One task tab per window is re-used across tasks. What a fresh tab per task guaranteed must still hold:
a task that fails leaves the next task a fresh tab, the main window is never closed, and a task never
reads the previous PO's page (a navigation that does not commit, times out or fails).
"""

from __future__ import annotations

import pytest

from coupadl.browser.session import BrowserSession, TabStatus
from coupadl.errors import CoupadlError, OperationTimeoutError, StalePageError
from coupadl.sandbox import Attachment, PurchaseOrder, SandboxServer, Scenario

pytestmark = [pytest.mark.browser]

A, B, C = "15260001", "15260002", "15260003"
PO_TITLE_JS = "return document.querySelector('h1') ? document.querySelector('h1').textContent : ''"


def scenario(latency: float = 0.0) -> Scenario:
    return Scenario(
        pos=[PurchaseOrder(n, supplier="Acme", attachments=[Attachment(f"{n}.pdf")]) for n in (A, B, C)],
        page_latency_s=latency,
    )


def handles(session: BrowserSession) -> list[str]:
    return list(session._driver.window_handles)


def shows_po(session: BrowserSession, number: str) -> bool:
    """Whether the focused tab shows PO `number`, read past the Tab API (which would refuse a stale tab)."""
    return number in str(session._driver.execute_script("return document.body.textContent"))


def test_successful_tasks_share_one_task_tab_and_the_main_window_stays(
    session: BrowserSession, sandbox_factory: object
) -> None:
    server: SandboxServer = sandbox_factory(scenario())  # type: ignore[operator]
    main = session.main_window_handle
    used = []
    for number in (A, B, C):
        with session.open_tab(number, f"PO{number}") as tab:
            landed = tab.get(server.po_url(number), timeout=20)
            assert landed == server.po_url(number)
            assert number in tab.run_js("return document.body.textContent")
            used.append(tab.window_handle)
        assert tab.status is TabStatus.COMPLETED
        assert sorted(handles(session)) == sorted({main, tab.window_handle})
    assert len(set(used)) == 1 and used[0] != main


def test_a_task_tab_is_renewed_after_serving_its_share_of_tasks(
    session: BrowserSession, sandbox_factory: object
) -> None:
    server: SandboxServer = sandbox_factory(scenario())  # type: ignore[operator]
    session.TASK_TAB_MAX_TASKS = 2  # the class default (50) renews it every 50 tasks
    main = session.main_window_handle
    used = []
    for number in (A, B, C, A):
        with session.open_tab(number, f"PO{number}") as tab:
            tab.get(server.po_url(number), timeout=20)
            assert number in tab.run_js("return document.body.textContent")
            used.append(tab.window_handle)
    assert used[0] == used[1] != used[2] == used[3]
    assert main not in used
    assert handles(session) == [main], "the renewed tab closed after its second task; the main window stays"


def test_a_failed_task_leaves_the_next_task_a_fresh_tab(
    session: BrowserSession, sandbox_factory: object
) -> None:
    server: SandboxServer = sandbox_factory(scenario())  # type: ignore[operator]
    main = session.main_window_handle
    with session.open_tab("a") as tab:
        tab.get(server.po_url(A), timeout=20)
        first = tab.window_handle
    with pytest.raises(RuntimeError), session.open_tab("b") as tab:
        assert tab.window_handle == first
        tab.get(server.po_url(B), timeout=20)
        raise RuntimeError("the handler failed")
    assert handles(session) == [main], "the failed task's tab is closed, the main window stays"
    with session.open_tab("c") as tab:
        assert tab.window_handle not in (first, main)
        with pytest.raises(StalePageError):
            tab.run_js("return 1")  # nothing of this task is loaded yet: nothing to read
        tab.get(server.po_url(C), timeout=20)
        assert C in tab.run_js("return document.body.textContent")
    assert sorted(handles(session)) == sorted([main, tab.window_handle])


def test_pop_ups_a_task_opened_are_closed_with_its_tab(
    session: BrowserSession, sandbox_factory: object
) -> None:
    server: SandboxServer = sandbox_factory(scenario())  # type: ignore[operator]
    main = session.main_window_handle
    with session.open_tab("a") as tab:
        tab.get(server.po_url(A), timeout=20)
        tab.run_js("window.open(arguments[0], '_blank')", server.po_url(B))
        first = tab.window_handle
    assert handles(session) == [main]
    with session.open_tab("b") as tab:
        assert tab.window_handle != first
        tab.get(server.po_url(B), timeout=20)


def test_a_navigation_that_does_not_commit_is_never_read_as_the_new_page(
    session: BrowserSession, sandbox_factory: object
) -> None:
    """A file route answers with a download: the tab keeps showing PO A, which must not pass for the file's
    page; the same holds for a same-document (fragment) navigation."""
    server: SandboxServer = sandbox_factory(scenario())  # type: ignore[operator]
    file_path = next(f.path for f in server.files() if f.po == A)
    with session.open_tab("a") as tab:
        tab.get(server.po_url(A), timeout=20)
    with pytest.raises(StalePageError), session.open_tab("b") as tab:
        try:
            tab.get(server.url(file_path), timeout=20)
        finally:
            assert shows_po(session, A), "the tab still shows the previous page"
            assert tab.status is TabStatus.ERROR
        tab.run_js("return 1")  # not reached
    with pytest.raises(StalePageError), session.open_tab("c") as tab:
        tab.get(server.po_url(A), timeout=20)
        tab.get(server.po_url(A) + "#attachments", timeout=20)  # same document
    with session.open_tab("d") as tab:
        assert tab.get(server.po_url(B), timeout=20) == server.po_url(B)
        assert B in tab.run_js("return document.body.textContent")


def test_a_page_that_loads_too_slowly_is_not_read_and_the_next_task_sees_its_own_po(
    session: BrowserSession, sandbox_factory: object
) -> None:
    server: SandboxServer = sandbox_factory(scenario(latency=3.0))  # type: ignore[operator]
    with session.open_tab("a") as tab:
        tab.get(server.po_url(A), timeout=30)
        previous = tab.window_handle
    with pytest.raises(OperationTimeoutError), session.open_tab("b") as tab:
        try:
            tab.get(server.po_url(B), timeout=1.0)
        finally:
            assert tab.status is TabStatus.ERROR
            with pytest.raises(StalePageError):
                tab.run_js(PO_TITLE_JS)
            with pytest.raises(StalePageError):
                _ = tab.current_url
    with session.open_tab("c") as tab:
        assert tab.window_handle != previous, "the timed-out tab was replaced"
        assert tab.get(server.po_url(C), timeout=30) == server.po_url(C)
        assert C in tab.run_js("return document.body.textContent")
        assert A not in tab.run_js("return document.body.textContent")


def test_a_navigation_that_fails_never_shows_the_previous_po(
    session: BrowserSession, sandbox_factory: object
) -> None:
    server: SandboxServer = sandbox_factory(scenario())  # type: ignore[operator]
    with session.open_tab("a") as tab:
        tab.get(server.po_url(A), timeout=20)
    unreachable = "http://127.0.0.1:9/order_headers/" + B  # the discard port: connection refused
    with session.open_tab("b") as tab:
        try:
            landed = tab.get(unreachable, timeout=20)
        except CoupadlError:
            assert tab.status is TabStatus.ERROR
            with pytest.raises(StalePageError):
                tab.run_js("return 1")
        else:
            assert landed.startswith("chrome-error:"), landed  # the browser's error page, a new document
            assert A not in str(tab.run_js("return document.body.textContent"))


def test_open_runs_the_script_on_the_new_page_in_the_same_round_trip_and_never_on_a_stale_one(
    session: BrowserSession, sandbox_factory: object
) -> None:
    server: SandboxServer = sandbox_factory(scenario())  # type: ignore[operator]
    script = "window.__ran = (window.__ran || 0) + 1; return [arguments[0], document.body.textContent];"
    with session.open_tab("a") as tab:
        landed, (echo, text) = tab.open(server.po_url(A), 20, script, "echo")
        assert landed == server.po_url(A) and echo == "echo" and A in text
    file_path = next(f.path for f in server.files() if f.po == A)
    with pytest.raises(StalePageError), session.open_tab("b") as tab:
        try:
            tab.open(server.url(file_path), 20, script, "echo")
        finally:
            assert session._driver.execute_script("return window.__ran") == 1, "not run on the old page"


def page_requests(server: SandboxServer, number: str) -> int:
    """How many times the site served PO `number`'s page."""
    return sum(1 for r in server.requests() if r.path == f"/order_headers/{number}")


def test_the_next_po_preloads_in_the_spare_tab_and_its_task_reads_it_once_proven_new(
    session: BrowserSession, sandbox_factory: object
) -> None:
    server: SandboxServer = sandbox_factory(scenario(latency=0.5))  # type: ignore[operator]
    main = session.main_window_handle
    a, b, c = (server.po_url(n) for n in (A, B, C))
    with session.open_tab("a", opens=a, preload=b) as tab:
        assert tab.get(a, timeout=20) == a  # B loads in the spare tab meanwhile
        first = tab.window_handle
    assert len(handles(session)) == 3  # main, task and spare tab
    with session.open_tab("b", opens=b, preload=c) as tab:
        assert tab.window_handle not in (first, main), "the spare tab became the task tab"
        assert tab.get(b, timeout=20) == b
        assert B in tab.run_js("return document.body.textContent")
    assert page_requests(server, B) == 1, "the preloaded page was taken, not loaded again"
    with session.open_tab("c", opens=c) as tab:
        assert tab.window_handle == first, "the two kept tabs take turns"
        assert tab.get(c, timeout=20) == c
        assert C in tab.run_js("return document.body.textContent")
        assert A not in tab.run_js("return document.body.textContent")
    assert page_requests(server, C) == 1
    assert main in handles(session)


def test_a_preload_for_another_po_is_never_read_and_the_task_opens_its_own(
    session: BrowserSession, sandbox_factory: object
) -> None:
    server: SandboxServer = sandbox_factory(scenario())  # type: ignore[operator]
    with session.open_tab("a", opens=server.po_url(A), preload=server.po_url(B)) as tab:
        tab.get(server.po_url(A), timeout=20)
    with session.open_tab("c", opens=server.po_url(C)) as tab:  # B went to another window
        assert tab.get(server.po_url(C), timeout=20) == server.po_url(C)
        title = tab.run_js(PO_TITLE_JS)
        assert C in title and B not in title


def test_a_preload_that_does_not_commit_is_opened_again_and_never_read_as_new(
    session: BrowserSession, sandbox_factory: object
) -> None:
    """The spare tab is sent to a file route (a download: the navigation never commits) and keeps PO A's
    page; the task that takes it must not read PO A as its page: it navigates itself, and the download
    does not commit either, so the tab refuses to be read."""
    server: SandboxServer = sandbox_factory(scenario())  # type: ignore[operator]
    file_url = server.url(next(f.path for f in server.files() if f.po == A))
    with session.open_tab("a", opens=server.po_url(A), preload=server.po_url(A)) as tab:
        tab.get(server.po_url(A), timeout=20)
    with session.open_tab("a2", opens=server.po_url(A), preload=file_url) as tab:
        tab.get(server.po_url(A), timeout=20)  # the preloaded A: the spare now goes to the file
    with pytest.raises(StalePageError), session.open_tab("f", opens=file_url) as tab:
        try:
            tab.get(file_url, timeout=20)
        finally:
            assert tab.status is TabStatus.ERROR
        tab.run_js("return 1")  # not reached
    with session.open_tab("b", opens=server.po_url(B)) as tab:
        assert tab.get(server.po_url(B), timeout=20) == server.po_url(B)


def test_a_failed_task_closes_the_spare_tab_too(session: BrowserSession, sandbox_factory: object) -> None:
    server: SandboxServer = sandbox_factory(scenario())  # type: ignore[operator]
    main = session.main_window_handle
    before: set[str] = set()
    with pytest.raises(RuntimeError), session.open_tab("a", opens=server.po_url(A), preload=server.po_url(B)):
        before.update(handles(session))
        raise RuntimeError("the task failed")
    assert len(before) == 3, "main, task and spare tab"
    assert handles(session) == [main], "the spare tab closed with the task tab"
    with session.open_tab("b", opens=server.po_url(B)) as tab:
        assert tab.window_handle not in before, "a fresh tab, not a preloaded one"
        assert tab.get(server.po_url(B), timeout=20) == server.po_url(B)
        assert B in tab.run_js(PO_TITLE_JS)
