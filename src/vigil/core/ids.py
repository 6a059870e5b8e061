"""GB/T 28181 20-digit device IDs and GB/T 2260-style region codes.

Layout of a device ID (coding rule A)::

    digits 0-7   centre code  (administrative division: 2 province, 2 city, 2 county, 2 grassroots)
    digits 8-9   industry code
    digits 10-12 type code (131 camera, 132 IPC, 200 SIP server, ...)
    digit  13    network id
    digits 14-19 serial number

Region codes in Vigil have 4 (prefecture), 6 (city/county), 8 (town/street) or
11 (village/community: town code + 3 digits) digits. A device's centre code is the
first 8 digits of its region code, right-padded with zeros.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from vigil.core.errors import InputError

__all__ = [
    "INDUSTRY_CODES",
    "NETWORK_CODES",
    "TYPE_CODES",
    "ancestor_codes",
    "DeviceId",
    "RegionLevel",
    "centre_code_for_region",
    "generate_device_id",
    "parse_camera_id",
    "level_of_code",
    "parent_code",
    "validate_region_code",
]

TYPE_CODES: dict[int, str] = {
    111: "DVR",
    112: "video server",
    113: "encoder",
    114: "decoder",
    115: "video switching matrix",
    116: "audio switching matrix",
    117: "alarm controller",
    118: "NVR",
    120: "acquisition system",
    121: "checkpoint",
    122: "multi-lens camera",
    123: "parking gate",
    124: "personnel gate",
    125: "security inspection device",
    130: "HVR",
    131: "camera",
    132: "IPC",
    133: "display",
    134: "alarm input device",
    135: "alarm output device",
    136: "voice input device",
    137: "voice output device",
    138: "mobile transmission device",
    139: "other peripheral",
    140: "relay alarm output",
    141: "barrier gate",
    142: "smart door",
    143: "credential reader",
    200: "central signalling control server",
    201: "web application server",
    202: "media distribution server",
    203: "proxy server",
    204: "security server",
    205: "alarm server",
    206: "database server",
    207: "GIS server",
    208: "management server",
    209: "access gateway",
    210: "media storage server",
    211: "signalling security routing gateway",
    215: "business group",
    216: "virtual organisation",
    300: "centre user",
    400: "terminal user",
    500: "integrated application platform",
    501: "operation and maintenance platform",
    502: "analysis system",
    503: "video image information database",
    504: "video image analysis device",
    505: "video image information application platform",
}

INDUSTRY_CODES: dict[int, str] = {
    0: "social security: road surface",
    1: "social security: community",
    2: "social security: internal unit",
    3: "social security: other",
    4: "traffic: road",
    5: "traffic: checkpoint",
    6: "traffic: interior",
    7: "traffic: other",
    8: "city management",
    9: "health and environment",
    10: "commercial inspection",
    11: "water conservancy",
    12: "other government",
    40: "social: hotel",
    41: "social: internet cafe",
    42: "social: finance",
    43: "social: education",
    44: "social: medical",
    45: "social: transport hub",
    46: "social: energy",
    80: "government: other",
}

NETWORK_CODES: dict[int, str] = {
    0: "public-security video network",
    1: "public-security video network",
    2: "industry private network",
    3: "political-legal network",
    4: "police mobile network",
    5: "police information network",
    6: "e-government extranet",
    7: "internet",
    8: "leased line",
}


class RegionLevel(IntEnum):
    """The four levels of the region tree, top down."""

    PREFECTURE = 1
    CITY = 2
    TOWN = 3
    VILLAGE = 4


_LEVEL_BY_LEN = {4: RegionLevel.PREFECTURE, 6: RegionLevel.CITY, 8: RegionLevel.TOWN, 11: RegionLevel.VILLAGE}
_LEN_BY_LEVEL = {v: k for k, v in _LEVEL_BY_LEN.items()}
_DIGITS = re.compile(r"^[0-9]+$")


def validate_region_code(code: str) -> str:
    """Return ``code`` stripped if it is a valid region code, else raise :class:`InputError`."""
    code = (code or "").strip()
    if not _DIGITS.match(code):
        raise InputError(f"region code {code!r} must be digits only")
    if len(code) not in _LEVEL_BY_LEN:
        raise InputError(
            f"region code {code!r} has {len(code)} digits; expected 4 (prefecture), 6 (city), 8 (town) or 11 (village)"
        )
    if code[:2] == "00":
        raise InputError(f"region code {code!r}: province part 00 is not a GB/T 2260 province")
    return code


def level_of_code(code: str) -> RegionLevel:
    """The tree level implied by a region code's length."""
    return _LEVEL_BY_LEN[len(validate_region_code(code))]


def code_length(level: RegionLevel) -> int:
    """Number of digits of a region code at ``level``."""
    return _LEN_BY_LEVEL[RegionLevel(level)]


def parent_code(code: str) -> str | None:
    """The code of the parent region implied by ``code`` (``None`` for a prefecture)."""
    level = level_of_code(code)
    if level == RegionLevel.PREFECTURE:
        return None
    return code[: _LEN_BY_LEVEL[RegionLevel(level - 1)]]


def ancestor_codes(code: str) -> list[str]:
    """The codes above ``code`` by the GB/T 2260 prefix rule, nearest first (``53018101`` → 530181, 5301)."""
    out: list[str] = []
    up = parent_code(code)
    while up:
        out.append(up)
        up = parent_code(up)
    return out


def centre_code_for_region(code: str) -> str:
    """The 8-digit GB/T 28181 centre code of devices in region ``code``."""
    return validate_region_code(code)[:8].ljust(8, "0")


@dataclass(frozen=True, slots=True)
class DeviceId:
    """A parsed, validated GB/T 28181 20-digit ID."""

    value: str

    def __post_init__(self) -> None:
        v = self.value
        if not isinstance(v, str) or not _DIGITS.match(v):
            raise InputError(f"GB/T 28181 ID {v!r} must be 20 digits")
        if len(v) != 20:
            raise InputError(f"GB/T 28181 ID {v!r} has {len(v)} digits, expected 20")
        if self.type_code not in TYPE_CODES:
            raise InputError(f"GB/T 28181 ID {v}: unknown type code {self.type_code:03d}")
        if self.network not in NETWORK_CODES:
            raise InputError(f"GB/T 28181 ID {v}: unknown network code {self.network}")
        if v[:2] == "00":
            raise InputError(f"GB/T 28181 ID {v}: centre code {v[:8]} has no province")

    @classmethod
    def parse(cls, value: str) -> DeviceId:
        """Parse and validate ``value`` (surrounding spaces are ignored)."""
        return cls((value or "").strip())

    @property
    def centre(self) -> str:
        return self.value[:8]

    @property
    def industry(self) -> int:
        return int(self.value[8:10])

    @property
    def type_code(self) -> int:
        return int(self.value[10:13])

    @property
    def network(self) -> int:
        return int(self.value[13])

    @property
    def serial(self) -> int:
        return int(self.value[14:20])

    @property
    def type_name(self) -> str:
        return TYPE_CODES[self.type_code]

    @property
    def is_camera(self) -> bool:
        return self.type_code in (131, 132)

    @property
    def sip_domain(self) -> str:
        """The SIP domain/realm: the first 10 digits."""
        return self.value[:10]

    def belongs_to_region(self, region_code: str) -> bool:
        """True if this ID's centre code matches ``region_code``."""
        return self.centre == centre_code_for_region(region_code)

    def __str__(self) -> str:
        return self.value


def parse_camera_id(value: str) -> DeviceId:
    """Parse a camera's ID: a valid GB/T 28181 ID whose type code is a device's (below 200), not a platform's."""
    d = DeviceId.parse(value)
    if d.type_code >= 200:
        raise InputError(f"type code {d.type_code:03d} ({d.type_name}) is not a camera type; cameras use 131 or 132")
    return d


def generate_device_id(region_code: str, serial: int, *, type_code: int = 132, industry: int = 0,
                       network: int = 0) -> DeviceId:
    """Build a device ID for ``region_code`` with the given serial number."""
    if not 0 <= serial <= 999_999:
        raise InputError(f"serial {serial} out of range 0..999999")
    if not 0 <= industry <= 99:
        raise InputError(f"industry code {industry} out of range 0..99")
    value = f"{centre_code_for_region(region_code)}{industry:02d}{type_code:03d}{network:d}{serial:06d}"
    return DeviceId(value)
