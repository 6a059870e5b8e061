import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.core.errors import InputError
from vigil.core.ids import (
    DeviceId,
    RegionLevel,
    centre_code_for_region,
    generate_device_id,
    level_of_code,
    parent_code,
    validate_region_code,
)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("34020000001320000001", None),
        ("34020000001310000001", None),
        ("3402000000132000000", "19 digits"),
        ("340200000013200000011", "21 digits"),
        ("3402000000132000000a", "20 digits"),
        ("34020000009990000001", "unknown type code 999"),
        ("34020000001329000001", "unknown network code 9"),
        ("00020000001320000001", "no province"),
    ],
)
def test_device_id_parse(value, error):
    if error is None:
        d = DeviceId.parse(value)
        assert d.centre == "34020000" and d.type_code in (131, 132) and d.serial == 1
        assert d.sip_domain == "3402000000"
    else:
        with pytest.raises(InputError, match=error):
            DeviceId.parse(value)


def test_region_levels_and_parents():
    assert level_of_code("5301") == RegionLevel.PREFECTURE
    assert level_of_code("530181") == RegionLevel.CITY
    assert level_of_code("53018101") == RegionLevel.TOWN
    assert level_of_code("53018101201") == RegionLevel.VILLAGE
    assert parent_code("53018101201") == "53018101"
    assert parent_code("53018101") == "530181"
    assert parent_code("5301") is None
    with pytest.raises(InputError, match="7 digits"):
        validate_region_code("5301811")


def test_centre_code_belongs_to_region():
    d = generate_device_id("53018101201", 42, type_code=132)
    assert d.value == "53018101001320000042"
    assert d.belongs_to_region("53018101201")
    assert d.belongs_to_region("53018101")  # villages share their town's centre code
    assert not d.belongs_to_region("53018102")
    assert centre_code_for_region("530181") == "53018100"


@given(st.from_regex(r"[1-9][0-9]{7}", fullmatch=True), st.integers(0, 999_999),
       st.sampled_from([131, 132, 118, 200]), st.integers(0, 8))
def test_generate_roundtrip(town, serial, type_code, net):
    d = generate_device_id(town, serial, type_code=type_code, network=net)
    back = DeviceId.parse(d.value)
    assert (back.centre, back.serial, back.type_code, back.network) == (town, serial, type_code, net)


@given(st.text(max_size=25))
def test_parse_never_crashes_unexpectedly(s):
    with contextlib.suppress(InputError):
        DeviceId.parse(s)
