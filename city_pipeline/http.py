"""The one `requests` Session factory every source uses.

Live and record mode: urllib3 `Retry` (exponential backoff on 429/5xx, honouring `Retry-After`),
`(connect, read)` timeouts and a clear user agent. Replay mode mounts `ReplayAdapter`, a requests
transport adapter that answers from recordings bundled in `data/recordings/`, so an offline run goes
through exactly the same `session.get(...)` calls, hooks and parsing as a live one.

A recording is two files named by a hash of the request (method, path, sorted query parameters;
the host is left out so a base-URL override still replays): `<hash>.json` (request and response
metadata) and `<hash>.body.gz` (the exact response bytes, gzip-compressed to keep the bundle small).
Secrets (CKAN `api-key`, the Traffy Exchange token) travel only in headers, are read only from the
environment, and are never written to a recording, a landing sidecar or a log line.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.util.retry import Retry

from city_pipeline import __version__
from city_pipeline.settings import Settings, SourceMode

log = logging.getLogger(__name__)

USER_AGENT = (
    f"city-pipeline/{__version__} (open-source Thai city data platform; "
    "+https://github.com/city-data-platform/city-pipeline)"
)
RETRY_STATUSES = (429, 500, 502, 503, 504)
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "cookie"})
# Response headers worth keeping beside landed bytes and recordings.
HEADERS_OF_INTEREST = (
    "content-type",
    "content-encoding",
    "content-length",
    "date",
    "etag",
    "last-modified",
    "retry-after",
    "x-ratelimit-remaining",
)


class MissingRecordingError(requests.RequestException):
    """Replay mode was asked for a request nobody recorded."""


@dataclass(frozen=True)
class RequestKey:
    method: str
    path: str
    params: tuple[tuple[str, str], ...]

    @classmethod
    def for_call(cls, method: str, url: str, params: dict[str, Any] | None = None) -> RequestKey:
        """The key `session.request(method, url, params=params)` will be replayed under."""
        return cls.of(requests.Request(method, url, params=params).prepare())

    @classmethod
    def of(cls, request: requests.PreparedRequest) -> RequestKey:
        parts = urlsplit(request.url or "")
        params = tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))
        return cls(method=(request.method or "GET").upper(), path=parts.path or "/", params=params)

    @property
    def digest(self) -> str:
        text = json.dumps([self.method, self.path, self.params], ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def interesting_headers(headers: Any) -> dict[str, str]:
    return {name: headers[name] for name in HEADERS_OF_INTEREST if name in headers}


def redact_url(url: str) -> str:
    """URLs are logged and stored; no source puts a secret in one, but be safe with `api-key=`."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = "&".join(
        f"{k}={'***' if k.lower() in SECRET_HEADERS else v}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    return parts._replace(query=query).geturl()


def redact_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters as stored in sidecars and recordings, with any secret-named one masked."""
    return {k: "***" if k.lower() in SECRET_HEADERS else v for k, v in params.items()}


class RecordingStore:
    """Recorded responses of one source for one city, addressed by `RequestKey`."""

    def __init__(self, directory: Path, source: str):
        self.directory = directory
        self.source = source

    def paths(self, key: RequestKey) -> tuple[Path, Path]:
        return self.directory / f"{key.digest}.json", self.directory / f"{key.digest}.body.gz"

    def load(self, key: RequestKey) -> tuple[dict[str, Any], bytes] | None:
        meta_path, body_path = self.paths(key)
        if not meta_path.exists():
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return meta, gzip.decompress(body_path.read_bytes())

    def save(self, key: RequestKey, url: str, response: requests.Response) -> Path:
        return self.save_body(
            key,
            url,
            response.status_code,
            response.reason,
            interesting_headers(response.headers),
            response.content,
        )

    def save_body(
        self,
        key: RequestKey,
        url: str,
        status: int,
        reason: str,
        headers: dict[str, str],
        body: bytes,
    ) -> Path:
        meta_path, body_path = self.paths(key)
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "source": self.source,
            "method": key.method,
            "url": redact_url(url.split("?")[0]),
            "params": redact_params(dict(key.params)),
            "status": status,
            "reason": reason,
            "headers": {k: v for k, v in headers.items() if k.lower() != "content-encoding"},
        }
        # mtime=0 keeps re-recorded identical bodies byte-identical in git.
        body_path.write_bytes(gzip.compress(body, mtime=0))
        meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", "utf-8")
        return meta_path


class ReplayAdapter(BaseAdapter):
    """A requests transport adapter answering from a `RecordingStore`; it never opens a socket."""

    def __init__(self, store: RecordingStore):
        super().__init__()
        self.store = store

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        key = RequestKey.of(request)
        found = self.store.load(key)
        if found is None:
            url = redact_url((request.url or "").split("?")[0])
            raise MissingRecordingError(
                f"source {self.store.source}: no recording for {key.method} {url} "
                f"params={redact_params(dict(key.params))} "
                f"(looked for {self.store.paths(key)[0]}); record it with "
                "CITY_PIPELINE_SOURCE_MODE=record",
                request=request,
            )
        meta, body = found
        response = requests.Response()
        response.status_code = int(meta["status"])
        response.reason = meta.get("reason", "")
        response.headers = requests.structures.CaseInsensitiveDict(meta.get("headers", {}))
        response.headers.pop("content-encoding", None)  # the stored body is already decoded
        response.headers["content-length"] = str(len(body))
        response._content = body
        response.url = request.url or ""
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        return response

    def close(self) -> None:
        pass


class TimeoutHTTPAdapter(HTTPAdapter):
    """HTTPAdapter with a default `(connect, read)` timeout: requests has none of its own."""

    def __init__(self, timeout: tuple[float, float], **kwargs: Any):
        self.timeout = timeout
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def retry_policy(total: int = 5, backoff_factor: float = 1.0, backoff_max: float = 60.0) -> Retry:
    return Retry(
        total=total,
        connect=total,
        read=min(2, total),  # a read timeout may mean the server is still working; retry it, less
        status=total,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD", "POST"}),
        respect_retry_after_header=True,
        raise_on_status=False,  # hand the final 5xx to the caller, which raises a SourceError
    )


def _record_hook(store: RecordingStore):
    def save(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        key = RequestKey.of(response.request)
        path = store.save(key, response.request.url or "", response)
        log.info("recorded %s %s -> %s", key.method, redact_url(response.url), path.name)
        return response

    return save


def build_session(
    source: str, settings: Settings, *, retry: Retry | None = None
) -> requests.Session:
    """The Session a source uses, wired for the run's mode (replay, live or record)."""
    source_settings = settings.source(source)
    session = requests.Session()
    session.headers["User-Agent"] = f"{USER_AGENT} city={settings.city.slug}"
    session.headers["Accept-Encoding"] = "gzip, deflate"
    store = RecordingStore(settings.recordings_dir / source, source)
    if settings.source_mode is SourceMode.REPLAY:
        adapter: BaseAdapter = ReplayAdapter(store)
    else:
        timeout = (source_settings.timeout_connect_s, source_settings.timeout_read_s)
        retry = retry or retry_policy(
            source_settings.retries, source_settings.backoff_factor_s, source_settings.backoff_max_s
        )
        adapter = TimeoutHTTPAdapter(timeout=timeout, max_retries=retry)
        if settings.source_mode is SourceMode.RECORD:
            session.hooks["response"].append(_record_hook(store))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def secret_from_env(name: str) -> str | None:
    """Secrets come only from the environment (never from the city YAML, never logged)."""
    value = os.environ.get(f"CITY_PIPELINE_{name}")
    return value or None


def hub_session(
    timeout: tuple[float, float], retries: int, backoff_factor: float
) -> requests.Session:
    """The Session a network hub reads member releases with: the sources' user agent, timeouts
    and retry policy, always live (a member's release is never replayed from recordings)."""
    session = requests.Session()
    session.headers["User-Agent"] = f"{USER_AGENT} role=network-hub"
    adapter = TimeoutHTTPAdapter(
        timeout=timeout, max_retries=retry_policy(retries, backoff_factor, 60.0)
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
