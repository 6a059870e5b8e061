"""The users page in a real Chromium: an admin adds a user, changes its role and regions, resets its password
and disables it; each change is audited; the page in Chinese has no horizontal overflow at 1280 px."""

from __future__ import annotations

import pytest
from console_world import City, browser_errors
from sqlalchemy import select
from test_console import _css, _sign_in, _text, _wait
from test_console_maintenance import _fresh, _no_overflow

from vigil.access.users import authenticate
from vigil.core.errors import AuthError
from vigil.core.models import AuditEntry, User

pytestmark = pytest.mark.browser


def test_admin_manages_a_user(chrome, console: City, sqlite_vigil) -> None:
    d = chrome
    _fresh(d)
    _sign_in(d, console)
    _wait(d, lambda x: _css(x, "#nav a[data-route=users]"))
    d.get(console.base + "/ui/#/users")
    _wait(d, lambda x: _text(x, "#user-total") == "3")   # admin, town-officer, city-officer
    _css(d, "#user-name")[0].send_keys("zhang")
    d.execute_script("document.getElementById('user-role').value = 'maintenance'")
    _css(d, "#user-regions")[0].send_keys("53018102")
    _css(d, "#user-add")[0].click()
    _wait(d, lambda x: _text(x, "#user-total") == "4" and "zhang" in _text(x, "#user-password"))
    first = _text(d, "#user-password strong")
    row = "#user-table tr[data-name=zhang]"
    d.execute_script("window.prompt = (q) => (q.includes('role') ? 'duty_officer' : '530181'); window.confirm = () => true;")
    _css(d, f"{row} button[data-act=role]")[0].click()
    _wait(d, lambda x: "Duty officer" in _text(x, row))
    _css(d, f"{row} button[data-act=regions]")[0].click()
    _wait(d, lambda x: "530181" in _text(x, row) and "53018102" not in _text(x, row))
    _css(d, f"{row} button[data-act=password]")[0].click()
    _wait(d, lambda x: _text(x, "#user-password strong") not in ("", first))
    second = _text(d, "#user-password strong")
    _css(d, f"{row} button[data-act=disable]")[0].click()
    _wait(d, lambda x: "disabled" in _text(x, row))
    with sqlite_vigil.db.session() as s:
        u = s.scalar(select(User).where(User.name == "zhang"))
        assert (u.role, u.region_codes, u.active) == ("duty_officer", ["530181"], False)
        with pytest.raises(AuthError):
            authenticate(s, "zhang", second)
        acts = s.scalars(select(AuditEntry.action).where(AuditEntry.target == "user:zhang").order_by(AuditEntry.seq))
        assert list(acts) == ["user.create", "user.update", "user.update", "user.password", "user.deactivate"]
    d.execute_script("const s = document.getElementById('lang-switch'); s.value = 'zh-CN';"
                     "s.dispatchEvent(new Event('change'));")
    _wait(d, lambda x: _text(x, "#nav a.active") == "用户" and "已停用" in _text(x, row))
    _no_overflow(d, "users-zh")
    d.execute_script("const s = document.getElementById('lang-switch'); s.value = 'en';"
                     "s.dispatchEvent(new Event('change'));")
    _wait(d, lambda x: _text(x, "#nav a.active") == "Users")
    assert browser_errors(d) == []
