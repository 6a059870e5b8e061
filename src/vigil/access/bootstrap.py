"""First start: create the schema, the root region and the first admin with a generated password."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from vigil.access.users import add_user, generate_password
from vigil.core.context import Vigil
from vigil.core.errors import ConflictError
from vigil.core.ids import level_of_code, validate_region_code
from vigil.core.models import Region, Role, User

__all__ = ["InitResult", "init_instance"]


@dataclass(frozen=True, slots=True)
class InitResult:
    """What ``vigil init`` made; the password is shown once and never stored in clear."""

    admin: str
    password: str
    root_region: str


def init_instance(v: Vigil, *, root_code: str, root_name: str, admin: str = "admin") -> InitResult:
    """Create the root region and the first admin. Refuses if any user already exists."""
    code = validate_region_code(root_code)
    with v.db.session() as s:
        if s.scalar(select(func.count()).select_from(User)):
            raise ConflictError("this instance already has users; use `vigil user add`")
        if s.get(Region, code) is None:
            s.add(Region(code=code, name=root_name, level=int(level_of_code(code))))
            s.flush()
        password = generate_password()
        add_user(s, admin, password, Role.ADMIN, [code], actor="vigil-init")
    v.box  # noqa: B018 - create the credential key now, beside the database
    return InitResult(admin, password, code)
