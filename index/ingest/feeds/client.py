"""Polite HTTP: robots.txt, per-host slots and delay, a deadline, a size cap, checked redirects."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

from index.ingest.feeds.addresses import AddressPolicy
from index.ingest.feeds.errors import FetchError
from index.settings import FeedSettings
from index.text.urls import safe_url

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
# Connect and each read wait at most this long (or the page's whole deadline, if shorter).
STEP_TIMEOUT_SECONDS = 10.0
# RFC 9309 asks crawlers to parse at least 500 KiB of a robots.txt; the rest is cut off.
ROBOTS_MAX_BYTES = 512 * 1024
# A Crawl-delay above this is read as this: one slow site must not stall a fetch for hours.
MAX_CRAWL_DELAY_SECONDS = 30.0
HTML_TYPES = ("text/html", "application/xhtml+xml")
# The encodings asked for, decoded here so that the size cap holds for the decoded bytes while
# they are inflated (a stacked "gzip, gzip" body of a few KiB inflates to gigabytes); anything
# else, stacked encodings included, is refused.
ACCEPT_ENCODING = "gzip, deflate"
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


@dataclass(frozen=True)
class Fetched:
    """A response worth reading: 200 with its body, or 304 (unchanged, no body)."""

    url: str  # after redirects
    status: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None

    @property
    def unchanged(self) -> bool:
        """Whether the server said the page has not changed (304)."""
        return self.status == 304


class _Host:
    """One host's share: at most `per_host` requests at once, starts `delay` seconds apart."""

    def __init__(self, per_host: int, delay: float) -> None:
        self.slots = asyncio.Semaphore(per_host)
        self.delay = delay
        self._turn = asyncio.Lock()
        self._next_start = 0.0

    async def wait_turn(self) -> None:
        async with self._turn:
            pause = self._next_start - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            self._next_start = time.monotonic() + self.delay


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _connect_reason(exc: httpx.ConnectError) -> str:
    """DNS, refused or another reason; the OS error may sit a few causes deep (anyio wraps it)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return "DNS: host not found"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    lowered = str(exc).lower()
    if "name or service not known" in lowered or "name resolution" in lowered:
        return "DNS: host not found"
    if "refused" in lowered:
        return "connection refused"
    return f"cannot connect ({exc or type(exc).__name__})"


def _decoder(encoding: str) -> zlib._Decompress | None:
    """A bounded decoder for the response's Content-Encoding; `FetchError` for any other."""
    coding = encoding.strip().lower()
    if coding in ("", "identity"):
        return None
    if "," in coding:
        raise FetchError(f"refused: stacked content encodings ({coding})")
    if coding not in _WBITS:
        raise FetchError(f"refused: unsupported content encoding ({coding})")
    return zlib.decompressobj(_WBITS[coding])


def _http_reason(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()


class PoliteClient:
    """An httpx client that asks robots.txt first and never lets one URL hold a fetch up.

    `get` raises `FetchError` with a short reason (DNS, refused, HTTP 404, timeout, too large,
    not HTML, robots-disallowed, too many redirects, refused: a non-public address) for
    anything but a usable answer.
    """

    def __init__(
        self,
        settings: FeedSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        trusted: Iterable[str] = (),
    ):
        # `trusted`: the hosts the operator configured, fetched even when not public
        self._policy = AddressPolicy(trusted, settings.fetch_allow_hosts)
        self.user_agent = settings.user_agent
        self.deadline = settings.fetch_timeout_seconds
        self.max_bytes = settings.fetch_max_bytes
        self._per_host = settings.fetch_per_host
        self._delay = settings.fetch_delay_seconds
        step = min(STEP_TIMEOUT_SECONDS, self.deadline)
        self._http = httpx.AsyncClient(
            headers={"User-Agent": self.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=httpx.Timeout(step),
            follow_redirects=False,
            transport=transport,
            trust_env=False,  # no proxies or netrc picked up from the environment
        )
        self._hosts: dict[str, _Host] = {}
        self._robots: dict[str, asyncio.Task[Protego | str]] = {}

    async def __aenter__(self) -> PoliteClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self._http.aclose()

    def _host(self, url: str) -> _Host:
        origin = _origin(url)
        if origin not in self._hosts:
            self._hosts[origin] = _Host(self._per_host, self._delay)
        return self._hosts[origin]

    async def get(
        self,
        url: str,
        *,
        html_only: bool = False,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Fetched:
        """GET `url`, following at most `MAX_REDIRECTS` redirects, each hop checked by robots.

        The deadline covers every hop's connect, headers and body, not the wait for a free
        slot on the host. With `etag`/`last_modified` the request is conditional (304).
        """
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        left = self.deadline
        for _hop in range(MAX_REDIRECTS + 1):
            if urlsplit(url).scheme not in ("http", "https"):
                raise FetchError(f"not an http(s) URL: {url}")
            await self._allowed(url)
            result, spent = await self._one(url, headers, html_only, max(left, 0.001))
            left -= spent
            if isinstance(result, Fetched):
                return result
            url = result  # a redirect's target
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    async def _one(
        self, url: str, headers: dict, html_only: bool, seconds: float, cut: int | None = None
    ) -> tuple[Fetched | str, float]:
        """One request within `seconds` once the host gives a turn: (answer, seconds spent)."""
        await self._policy.check(url)  # every hop, robots.txt included
        host = self._host(url)
        async with host.slots:
            await host.wait_turn()
            started = time.monotonic()
            try:
                async with asyncio.timeout(seconds):
                    answer = await self._request(url, headers, html_only, cut)
                return answer, time.monotonic() - started
            except TimeoutError:
                raise FetchError(f"timeout (no complete answer in {self.deadline:g} s)") from None
            except httpx.ConnectTimeout:
                raise FetchError("timeout (connect)") from None
            except httpx.TimeoutException:
                raise FetchError("timeout (the server stopped sending)") from None
            except httpx.ConnectError as exc:
                raise FetchError(_connect_reason(exc)) from None
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise FetchError(f"bad URL ({exc})") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"bad HTTP answer ({type(exc).__name__}: {exc})") from None

    async def _request(
        self, url: str, headers: dict, html_only: bool, cut: int | None = None
    ) -> Fetched | str:
        """One GET: a redirect's target, or the answer; with `cut`, a body past `cut` bytes is
        cut there rather than refused."""
        async with self._http.stream("GET", url, headers=headers) as response:
            if response.is_redirect and response.headers.get("location"):
                # stored as the citation's URL when the page is an article: safe to show
                return safe_url(urljoin(str(response.url), response.headers["location"]))
            if response.status_code == 304:
                return Fetched(url, 304)
            if response.status_code != 200:
                raise FetchError(_http_reason(response))
            ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if html_only and ctype and ctype not in HTML_TYPES:
                raise FetchError(f"not HTML ({ctype})")
            if cut is None:
                body = await self._body(response, self.max_bytes)
            else:
                body = await self._body(response, cut, cut=True)
            return Fetched(
                url,
                200,
                body,
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )

    @staticmethod
    async def _body(response: httpx.Response, cap: int, cut: bool = False) -> bytes:
        """The body, streamed and decoded here; past `cap` bytes (on the wire or decoded) it is
        refused as too large, or with `cut` returned up to `cap` bytes."""
        declared = response.headers.get("content-length", "")
        if not cut and declared.isdigit() and int(declared) > cap:
            raise FetchError(f"too large ({int(declared):,} bytes, the cap is {cap:,})")
        decoder = _decoder(response.headers.get("content-encoding", ""))
        chunks: list[bytes] = []
        raw = size = 0
        try:
            async for data in response.aiter_raw():
                raw += len(data)
                while data:
                    if decoder is None:
                        piece, data = data, b""
                    else:  # at most what still fits, so one chunk never inflates past the cap
                        piece = decoder.decompress(data, cap - size + 1)
                        data = decoder.unconsumed_tail
                    chunks.append(piece)
                    size += len(piece)
                    if size > cap or raw > cap:
                        if cut:
                            return b"".join(chunks)[:cap]
                        raise FetchError(f"too large (over the cap of {cap:,} bytes)")
            if decoder is not None:
                chunks.append(decoder.flush())
                if len(chunks[-1]) + size > cap and not cut:
                    raise FetchError(f"too large (over the cap of {cap:,} bytes)")
        except zlib.error as exc:
            raise FetchError(f"bad HTTP answer (corrupt compressed body: {exc})") from None
        return b"".join(chunks)[:cap]

    async def _allowed(self, url: str) -> None:
        """Raise `FetchError` unless the site's robots.txt lets this user agent fetch `url`."""
        origin = _origin(url)
        if origin not in self._robots:
            self._robots[origin] = asyncio.create_task(self._read_robots(origin))
        rules = await self._robots[origin]
        if isinstance(rules, str):
            raise FetchError(rules)
        if not rules.can_fetch(url, self.user_agent):
            raise FetchError("disallowed by robots.txt")

    async def _read_robots(self, origin: str) -> Protego | str:
        """The parsed robots.txt, or the reason nothing may be fetched from the site.

        As RFC 9309 says: a robots.txt that is missing (4xx) allows everything; one that cannot
        be read (429, 5xx, no connection, timeout) forbids everything for now; the most specific
        (longest) matching rule wins, wildcards included (protego), over the first 500 KiB.
        """
        url = f"{origin}/robots.txt"
        body = b""
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                result, _ = await self._one(url, {}, False, self.deadline, cut=ROBOTS_MAX_BYTES)
                if isinstance(result, str):
                    url = result
                    continue
                body = result.body
                break
        except FetchError as exc:
            # 429 is a site asking for a pause, not saying "there are no rules"
            if exc.reason.startswith("HTTP 4") and not exc.reason.startswith("HTTP 429"):
                return Protego.parse("")  # no robots.txt: everything allowed
            if exc.reason.startswith("HTTP"):
                return f"robots.txt could not be read ({exc.reason})"
            return exc.reason  # the site is unreachable: the page would fail the same way
        rules = Protego.parse(body.decode("utf-8", "replace"))
        delay = rules.crawl_delay(self.user_agent)
        if delay:
            host = self._host(origin)
            host.delay = max(host.delay, min(float(delay), MAX_CRAWL_DELAY_SECONDS))
        return rules
