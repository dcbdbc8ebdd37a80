"""The remediation ladder is planned from the diagnosis."""

from coupadl.browser.window import RemediationAction as A
from coupadl.browser.window import plan_remediation
from coupadl.profiles.models import ProfileType, RetryConfig, VerificationStatus
from coupadl.profiles.models import VerificationMethod as M

FAILED, TIMEOUT = VerificationStatus.FAILED, VerificationStatus.TIMEOUT


def test_a_sign_in_timeout_on_a_clone_climbs_the_whole_ladder() -> None:
    plan = plan_remediation({M.AUTH_CHECK: TIMEOUT}, ProfileType.CLONE, RetryConfig(max_attempts=3))
    assert plan == [A.RETRY, A.RETRY, A.RELOAD, A.RECLONE, A.RESTART]


def test_a_sign_in_redirect_is_not_retried_as_it_is() -> None:
    plan = plan_remediation({M.AUTH_CHECK: FAILED}, ProfileType.CLONE, RetryConfig(max_attempts=3))
    assert plan == [A.RELOAD, A.RECLONE, A.RESTART]


def test_the_base_is_never_recloned() -> None:
    plan = plan_remediation({M.AUTH_CHECK: TIMEOUT}, ProfileType.BASE, RetryConfig(max_attempts=2))
    assert plan == [A.RETRY, A.RELOAD, A.RESTART]


def test_spoiled_files_or_wrong_folder_skip_retries_and_reloads() -> None:
    for failed in (
        {M.FILE_VERIFICATION: FAILED},
        {M.CAPABILITY_CHECK: FAILED},
        {M.AUTH_CHECK: TIMEOUT, M.FILE_VERIFICATION: FAILED},
    ):
        assert plan_remediation(failed, ProfileType.CLONE, RetryConfig()) == [A.RECLONE, A.RESTART]


def test_a_window_that_never_started_is_restarted() -> None:
    assert plan_remediation({}, ProfileType.BASE, RetryConfig()) == [A.RESTART]
