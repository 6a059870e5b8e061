"""The camera facts other packages need, in one place: stream URLs, credentials, redaction, population.

* :func:`validate_stream_url` is the one rule for what a stream or ONVIF URL may be. Every writer
  (API, import, simulator registration) and every reader (prober, quality sampler, recorder, live
  view, analytics) calls it, so a ``file://`` path or a URL with a password inside never gets
  stored, and never gets opened if it was stored before the rule existed.
* :func:`stream_url_with_credentials` builds the authenticated URL for internal use only;
  :func:`redact_url` and :func:`redact_text` make URLs and messages (FFmpeg's stderr, exception
  text) safe to log, store or show.
* :func:`in_service_population` is the SQL condition for the cameras that count: those in service.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from sqlalchemy import ColumnElement, and_

from vigil.core.crypto import CredentialBox
from vigil.core.errors import InputError, NotFoundError
from vigil.core.models import Camera, Lifecycle
from vigil.core.regions import in_subtree

__all__ = ["MAX_URL_LENGTH", "ONVIF_SCHEMES", "STREAM_SCHEMES", "StreamCamera", "StreamKind", "camera_credentials",
           "check_reader_url",
           "camera_secrets", "camera_stream_url", "in_service_population", "insert_credentials", "is_in_service",
           "redact_text", "redact_url", "url_secrets", "validate_stream_url", "stream_url_with_credentials"]

StreamKind = Literal["rtsp", "onvif"]
STREAM_SCHEMES: tuple[str, ...] = ("rtsp", "rtsps")
ONVIF_SCHEMES: tuple[str, ...] = ("http", "https")
MAX_URL_LENGTH = 500
_SCHEMES: dict[str, tuple[str, ...]] = {"rtsp": STREAM_SCHEMES, "onvif": ONVIF_SCHEMES}
_SECRET_PARAMS = frozenset({"password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "auth"})
# scheme://userinfo@ anywhere in a text (FFmpeg quotes whole URLs in its errors)
#: white space (any), control characters, DEL and backslashes: never in a stream URL
_BAD_CHARS = re.compile(r"[\s\x00-\x1f\x7f\\]")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]*@")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:" + "|".join(sorted(_SECRET_PARAMS)) + r")=)[^&#\s]*")


class StreamCamera(Protocol):
    """What the stream functions read of a camera (a :class:`~vigil.core.models.Camera` row will do)."""

    id: str
    main_url: str
    sub_url: str
    username: str
    password_enc: bytes | None


def validate_stream_url(url: str, *, kind: StreamKind = "rtsp", field: str = "main_url") -> str:
    """``url`` stripped, or :class:`InputError` naming ``field``; an empty URL is allowed (none configured).

    Stream URLs must be ``rtsp://`` or ``rtsps://``, ONVIF device URLs ``http://`` or ``https://``,
    with a host, and no credentials anywhere in them (user info, or a password query parameter):
    credentials go in the camera's username and password, which are stored encrypted.
    """
    url = (url or "").strip()
    if not url:
        return ""
    allowed = _SCHEMES[kind]
    what = "an ONVIF device URL" if kind == "onvif" else "a stream URL"
    if len(url) > MAX_URL_LENGTH:
        raise InputError(f"{field}: longer than {MAX_URL_LENGTH} characters")
    if _BAD_CHARS.search(url):
        raise InputError(f"{field}: contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"{field}: not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in allowed or not url.lower().startswith(f"{scheme}://"):
        shown = "a bare path" if not scheme else f"{scheme}:" if scheme not in allowed else "a URL without //"
        raise InputError(f"{field}: {what} must start with {' or '.join(s + '://' for s in allowed)}, "
                         f"not {shown}")
    if "@" in parts.netloc:
        raise InputError(f"{field}: must not contain credentials (user:password@); put them in the camera's "
                         "username and password, which are stored encrypted")
    if not parts.hostname:
        raise InputError(f"{field}: {redact_url(url)} has no host")
    if port == 0:
        raise InputError(f"{field}: port 0 is not a valid port")
    if any(k.lower() in _SECRET_PARAMS for k, _ in parse_qsl(parts.query, keep_blank_values=True)):
        raise InputError(f"{field}: must not carry a password in its query string; put it in the camera's "
                         "password, which is stored encrypted")
    return url


def check_reader_url(url: str) -> None:
    """For readers handed an already authenticated URL: the rest of it must obey :func:`validate_stream_url`.

    Raises :class:`InputError` (that never quotes the credentials) for anything but an rtsp(s) URL.
    """
    public = _USERINFO.sub(r"\1", url.strip())
    if not validate_stream_url(public, field="url"):
        raise InputError("url: no stream URL given")


def insert_credentials(url: str, username: str, password: str) -> str:
    """``url`` with percent-encoded ``username:password@`` inserted (for internal use, never shown).

    Without a username nothing is inserted (a password alone names no account).
    """
    if not username:
        return url
    parts = urlsplit(url)
    cred = quote(username, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit(parts._replace(netloc=f"{cred}@{parts.netloc.rpartition('@')[2]}"))


def camera_stream_url(camera: StreamCamera, *, sub: bool = False) -> str:
    """The camera's validated stream URL (substream if ``sub`` and it has one), without credentials.

    Raises :class:`NotFoundError` when it has none, :class:`InputError` when the stored URL breaks the rule.
    """
    field = "sub_url" if sub and (camera.sub_url or "").strip() else "main_url"
    url = validate_stream_url(getattr(camera, field) or "", kind="rtsp", field=field)
    if not url:
        raise NotFoundError(f"camera {camera.id} has no stream URL")
    return url


def camera_credentials(camera: StreamCamera, box: CredentialBox) -> tuple[str, str]:
    """``(username, password)`` of the camera, the password decrypted (internal use only)."""
    return camera.username or "", box.open(camera.password_enc)


def stream_url_with_credentials(camera: StreamCamera, box: CredentialBox, *, sub: bool = False) -> str:
    """The authenticated stream URL for a reader to open: validated first, credentials filled in.

    The result is a secret: never log, store or show it (use :func:`redact_url` / :func:`redact_text`).
    """
    url = camera_stream_url(camera, sub=sub)
    user, password = camera_credentials(camera, box)
    return insert_credentials(url, user, password)


def redact_url(url: str) -> str:
    """``url`` without its user info and with password query values replaced by ``***`` (safe to show)."""
    return redact_text(url)


def url_secrets(url: str) -> tuple[str, ...]:
    """The user info secrets of ``url`` (raw and decoded password, and the whole user info)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    info = parts.netloc.rpartition("@")[0]
    if not info:
        return ()
    password = info.partition(":")[2]
    return tuple(s for s in {info, unquote(info), password, unquote(password)} if s)


def camera_secrets(camera: StreamCamera, box: CredentialBox) -> tuple[str, ...]:
    """The camera's password in the forms a message might quote it (clear and percent-encoded)."""
    try:
        password = box.open(camera.password_enc)
    except InputError:
        return ()
    return tuple(s for s in {password, quote(password, safe="")} if s)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with user info of every URL removed and every secret in ``secrets`` replaced by ``***``.

    ``secrets`` may hold passwords (see :func:`camera_secrets`) or authenticated URLs, whose
    credentials are then removed too (see :func:`url_secrets`).
    """
    words: set[str] = set()
    for s in secrets:
        if s:
            words.update(url_secrets(s) if "://" in s else (s, quote(s, safe="")))
    for w in sorted(words, key=len, reverse=True):  # longest first: a password inside the user info
        text = text.replace(w, "***")
    text = _USERINFO.sub(r"\1", text)
    return _QUERY_SECRET.sub(r"\1***", text)


def in_service_population(region_code: str | None = None) -> ColumnElement[bool]:
    """The SQL condition for the cameras that count: in service (in ``region_code``'s subtree if given)."""
    cond: ColumnElement[bool] = Camera.lifecycle == Lifecycle.IN_SERVICE.value
    if region_code:
        cond = and_(cond, in_subtree(Camera.region_code, region_code))
    return cond


def is_in_service(lifecycle: str | None) -> bool:
    """The same rule for one camera's lifecycle value."""
    return lifecycle == Lifecycle.IN_SERVICE.value
