"""The login throttle as a pure object: a fake clock drives the lockouts."""

import pytest

from vigil.access.throttle import LoginThrottle, ThrottlePolicy


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def th():
    clock = Clock()
    return LoginThrottle(ThrottlePolicy(user_free=3, address_free=6, base_s=2, max_s=60, window_s=300),
                         clock=clock), clock


def test_user_locks_after_free_failures_then_backs_off_exponentially(th):
    t, clock = th
    assert [t.failure("ann", "10.0.0.1") for _ in range(2)] == [0, 0]
    assert t.retry_after("ann", "10.0.0.1") == 0
    assert t.failure("ann", "10.0.0.1") == 2  # the 3rd failure locks for base_s
    assert t.retry_after("ann", "10.0.0.9") == 2  # the user is locked from every address
    assert t.retry_after("bob", "10.0.0.1") == 0  # the address is not (yet)
    clock.t += 2
    assert t.retry_after("ann", "10.0.0.1") == 0
    assert [t.failure("ann", "10.0.0.2") for _ in range(4)] == [4, 8, 16, 32]
    assert t.failure("ann", "10.0.0.3") == 60  # capped at max_s


def test_address_locks_for_any_user_name(th):
    t, _ = th
    for i in range(5):
        assert t.failure(f"user{i}", "10.0.0.7") == 0
    assert t.failure("user5", "10.0.0.7") == 2
    assert t.retry_after("someone-else", "10.0.0.7") == 2
    assert t.retry_after("someone-else", "10.0.0.8") == 0


def test_success_clears_the_user_but_not_the_address(th):
    t, clock = th
    for i in range(5):
        t.failure(f"victim{i}", "10.0.0.5")
    t.failure("me", "10.0.0.5")
    t.success("me", "10.0.0.5")  # the attacker's own account signs in fine
    assert t.retry_after("victim0", "10.0.0.5") == 2  # the address stays locked
    clock.t += 2
    t.failure("ann", "10.0.0.1")
    t.failure("ann", "10.0.0.1")
    t.success("ann", "10.0.0.1")
    assert t.failure("ann", "10.0.0.1") == 0  # the count started again


def test_failures_are_forgotten_after_the_window(th):
    t, clock = th
    for _ in range(3):
        t.failure("ann", "10.0.0.1")
    clock.t += 299
    assert t.failure("ann", "10.0.0.1") == 4  # still counting within the window
    clock.t += 300
    assert t.retry_after("ann", "10.0.0.1") == 0
    assert t.failure("ann", "10.0.0.1") == 0


def test_user_names_compare_case_insensitively(th):
    t, _ = th
    for name in ("Ann", "ANN", " ann"):
        t.failure(name, f"10.0.0.{len(name)}")
    assert t.retry_after("ann", "10.9.9.9") == 2


def test_memory_stays_bounded_under_a_flood_of_names():
    clock = Clock()
    t = LoginThrottle(ThrottlePolicy(user_free=3, address_free=10**9, max_keys=100), clock=clock)
    for _ in range(3):
        t.failure("target", "10.0.0.1")
    for i in range(1000):
        t.failure(f"junk{i}", "10.0.0.2")
    assert len(t._entries) <= 100
    assert t.retry_after("target", "10.0.0.3") > 0  # the locked key survived the pruning


@pytest.mark.parametrize("kw", [{"user_free": 0}, {"address_free": 0}, {"base_s": 0}, {"base_s": 10, "max_s": 5}])
def test_bad_policies_are_refused(kw):
    with pytest.raises(ValueError):
        ThrottlePolicy(**kw)
