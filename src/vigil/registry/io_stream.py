"""Reading an import file row by row, so that a 200 MiB file never sits in memory whole.

The file (a path, or bytes wrapped in a buffer) is checked once in binary chunks (empty, UTF-16,
NUL bytes, UTF-8), then parsed lazily: CSV by :mod:`csv` over a text stream, a GeoJSON
FeatureCollection feature by feature with :mod:`ijson`. :class:`RowStream` parses the file again
each time it is iterated, so an importer can check every row in one pass and write in a second.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import ijson

from vigil.core.errors import InputError, RowError
from vigil.registry.geometry import check_crs

__all__ = ["Opener", "RowStream", "precheck"]

Opener = Callable[[], IO[bytes]]
Item = tuple[int, dict[str, str]]

_CHUNK = 1 << 20
#: below this size a broken GeoJSON is parsed again by :mod:`json` for its line and column
_EXACT_ERRORS = 16 << 20


def opener_for(src: Path | bytes) -> Opener:
    """A function opening ``src`` as a fresh binary stream."""
    if isinstance(src, Path):
        return lambda: src.open("rb")
    data = bytes(src)
    return lambda: io.BytesIO(data)


def precheck(open_: Opener, name: str, is_gbk: Callable[[bytes], bool]) -> tuple[str, int]:
    """Refuse an empty, UTF-16, binary or non-UTF-8 file; return its first non-blank character and line count."""
    dec = codecs.getincrementaldecoder("utf-8")()
    first, lines = "", 0
    with open_() as f:
        head = f.read(2)
        if head in (b"\xff\xfe", b"\xfe\xff"):
            raise InputError(f"{name}: the file is UTF-16; save it as UTF-8")
        chunk = head + f.read(_CHUNK)
        while chunk:
            if b"\x00" in chunk:  # anywhere: a NUL byte is never stored
                raise InputError(f"{name}: this is a binary file (it holds a NUL byte), not CSV or GeoJSON text")
            try:
                text = dec.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = exc.object
                line = lines + bad[: exc.start].count(b"\n") + 1
                hint = " (it looks like GBK/GB18030: in Excel, save as \"CSV UTF-8\")" if is_gbk(bad) else ""
                raise InputError(f"{name}: not UTF-8 text (byte 0x{bad[exc.start]:02x} on line {line}){hint}; "
                                 "save the file as UTF-8") from None
            if not first:
                first = text.lstrip("\ufeff \t\r\n\f\v")[:1]
            lines += chunk.count(b"\n")
            chunk = f.read(_CHUNK)
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InputError(f"{name}: not UTF-8 text (it ends inside a character on line {lines + 1}); "
                             "save the file as UTF-8") from None
    if not first:
        raise InputError(f"{name}: the file is empty")
    return first, lines + 1


class RowStream:
    """The rows of one file, parsed afresh on every iteration; parse errors are kept from the first full pass."""

    def __init__(self, parse: Callable[[list[RowError]], Iterator[Item]], errors: list[RowError],
                 lines: int = 0) -> None:
        self._parse, self._errors, self._lines = parse, errors, lines
        self._count: int | None = None

    @property
    def hint(self) -> int:
        """The number of rows if known, else the file's line count (for progress)."""
        return self._lines if self._count is None else self._count

    def __iter__(self) -> Iterator[Item]:
        errors: list[RowError] = []
        n = 0
        for item in self._parse(errors):
            n += 1
            yield item
        if self._count is None:
            self._count = n
            self._errors.extend(errors)

    def __len__(self) -> int:
        if self._count is None:
            for _ in self:
                pass
        return self._count or 0


def csv_items(open_: Opener, name: str, header_of: Callable[[list[str]], list[str]],
              restore: Callable[[str], str]) -> Callable[[list[RowError]], Iterator[Item]]:
    """A parser of CSV rows ``(line, {column: cell})``; the header is checked by ``header_of``."""

    def parse(errors: list[RowError]) -> Iterator[Item]:
        with io.TextIOWrapper(open_(), encoding="utf-8-sig", newline="") as text:
            reader = csv.reader(text)
            header: list[str] | None = None
            end = 0
            try:
                for row in reader:
                    start, end = end + 1, reader.line_num
                    if not any(c.strip() for c in row):
                        continue
                    if header is None:
                        header = header_of(row)
                        continue
                    if len(row) != len(header):
                        errors.append(RowError(start, "(row)", f"has {len(row)} fields, the header has {len(header)}"))
                        continue
                    yield start, {h: restore(c.strip()) for h, c in zip(header, row, strict=True)}
            except csv.Error as exc:
                raise InputError(f"{name}: not a readable CSV file near line {reader.line_num}: {exc}") from None
            if header is None:
                raise InputError(f"{name}: the file is empty")

    return parse


def _broken(open_: Opener, name: str, exc: Exception) -> InputError:
    """The clearest message for a GeoJSON file that does not parse (with line and column when small)."""
    with open_() as f:
        data = f.read(_EXACT_ERRORS + 1)
    if len(data) <= _EXACT_ERRORS:
        try:
            json.loads(data.decode("utf-8-sig"))
        except json.JSONDecodeError as e:
            return InputError(f"{name}: broken GeoJSON: {e.msg} at line {e.lineno} column {e.colno}")
        except RecursionError:
            return InputError(f"{name}: the GeoJSON is nested too deeply")
    return InputError(f"{name}: broken GeoJSON: {str(exc).splitlines()[0][:200]}")


def _head(open_: Opener, name: str) -> tuple[str, bool, Any]:
    """The top-level ``type``, whether ``features`` is a list, and ``crs`` of a GeoJSON document."""
    kind, has_list, has_crs, depth_ok = "", False, False, True
    try:
        with open_() as f:
            for prefix, event, value in ijson.parse(f):
                if prefix == "" and event not in ("start_map", "end_map", "map_key"):
                    depth_ok = False
                elif prefix == "type" and event == "string":
                    kind = value
                elif prefix == "features" and event == "start_array":
                    has_list = True
                elif prefix == "" and event == "map_key" and value == "crs":
                    has_crs = True
        crs = None
        if has_crs:
            with open_() as f:
                crs = next(ijson.items(f, "crs"), None)
    except (ijson.JSONError, RecursionError, UnicodeDecodeError) as exc:
        raise _broken(open_, name, exc) from None
    return (kind if depth_ok else ""), has_list, crs


def geojson_items(open_: Opener, name: str, to_cells: Callable[[Any, int, list[RowError]], Item | None]
                  ) -> Callable[[list[RowError]], Iterator[Item]]:
    """A parser of a FeatureCollection's features (a lone Feature is read whole), checked up front."""
    kind, has_list, crs = _head(open_, name)
    if kind == "Feature":
        with open_() as f:
            try:
                single = [json.loads(f.read().decode("utf-8-sig"))]
            except (json.JSONDecodeError, RecursionError) as exc:
                raise _broken(open_, name, exc) from None
    elif kind != "FeatureCollection" or not has_list:
        raise InputError(f"{name}: GeoJSON must be a FeatureCollection with a 'features' list")
    else:
        single = None
        try:
            check_crs(crs)
        except InputError as exc:
            raise InputError(f"{name}: {exc}") from None

    def parse(errors: list[RowError]) -> Iterator[Item]:
        if single is not None:
            features: Any = iter(single)
            f = None
        else:
            f = open_()
            features = ijson.items(f, "features.item", use_float=True)
        try:
            for i, feat in enumerate(features, start=1):
                item = to_cells(feat, i, errors)
                if item is not None:
                    yield item
        except (ijson.JSONError, RecursionError) as exc:
            raise _broken(open_, name, exc) from None
        finally:
            if f is not None:
                f.close()

    return parse
