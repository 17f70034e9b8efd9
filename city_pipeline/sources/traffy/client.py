"""Calling Traffy: the query of each endpoint (public listing, Exchange API) and one partition's
fetch, the Exchange login included (its token is never landed, recorded or shown)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

import requests

from city_pipeline.capture import ParseContext
from city_pipeline.http import build_session, secret_from_env
from city_pipeline.settings import SourceMode, TraffySettings
from city_pipeline.sources.common import (
    TRANSIENT_STATUSES,
    FetchContext,
    fetch,
    load_json,
)
from city_pipeline.sources.paging import Listing
from city_pipeline.sources.traffy.contract import (
    EXCHANGE_AUTH_PATH,
    EXCHANGE_ISSUES_PATH,
    SHARE_PATH,
    SOURCE,
    STAT_API_PATH,
    TRAFFY_TIMEZONE,
)
from city_pipeline.sources.traffy.pages import check_envelope, page_signature, reported_total

log = logging.getLogger(__name__)


def settings_of(ctx: FetchContext | ParseContext) -> TraffySettings:
    return ctx.settings.config.sources.traffy


def public_url(traffy: TraffySettings) -> str:
    """The public endpoint the city YAML chose."""
    path = STAT_API_PATH if traffy.endpoint == "stat_api" else SHARE_PATH
    return traffy.base_url + path


def page_params(traffy: TraffySettings, day: date, offset: int) -> dict[str, str]:
    """Query of one public page; the synth module builds its recordings with this too."""
    params = {
        "start": day.isoformat(),
        "end": day.isoformat(),
        "limit": str(traffy.page_size),
        "offset": str(offset),
    }
    if traffy.endpoint == "stat_api" and traffy.province:
        params["province"] = traffy.province
    return params


def exchange_base(traffy: TraffySettings) -> str:
    return (traffy.exchange_base_url or f"{traffy.base_url}/exchange-api").rstrip("/")


def exchange_duration(day: date, today: date) -> str:
    """The Exchange API filters by `last_activity` age, not by dates: pick the smallest window
    that still reaches the partition (`all` is capped at 5,000 tickets by the server)."""
    return "3days" if (today - day).days <= 2 else "all"


def exchange_params(traffy: TraffySettings, day: date, today: date) -> dict[str, str]:
    """Query of `get-issues/v2`; no secret ever goes in here (it is landed in sidecars)."""
    params = {
        "start": day.isoformat(),
        "end": day.isoformat(),
        "duration": exchange_duration(day, today),
    }
    if traffy.exchange_org_ids:
        params["org_id"] = ",".join(str(org) for org in traffy.exchange_org_ids)
    return params


def exchange_credentials() -> tuple[str, str] | None:
    user = secret_from_env("TRAFFY_EXCHANGE_USERNAME")
    password = secret_from_env("TRAFFY_EXCHANGE_PASSWORD")
    return (user, password) if user and password else None


def fetch_day(ctx: FetchContext) -> None:
    """Page through the public endpoint, then (if configured) the Exchange API."""
    fetch_public_pages(ctx)
    credentials = exchange_credentials()
    if credentials is None:
        return
    if ctx.settings.source_mode is SourceMode.REPLAY:
        # Recordings never hold the authenticated API (its login answer is the token).
        log.info("traffy: Exchange API credentials set but replay mode: Exchange API skipped")
        return
    fetch_exchange(ctx, *credentials)


def fetch_public_pages(ctx: FetchContext) -> None:
    """Page through the day's public listing (see `sources.paging` for when it ends) and record
    how it paged in the batch metadata."""
    traffy = settings_of(ctx)
    url = public_url(traffy)
    endpoint = traffy.endpoint
    listing = Listing(ctx, traffy.page_size, traffy.max_pages, "sources.traffy.max_pages")
    for _ in listing.page_numbers:
        landed = fetch(ctx, url, page_params(traffy, ctx.day, listing.offset))
        payload = load_json(ctx, landed)
        records = check_envelope(ctx, payload, endpoint, listing.where())
        total = reported_total(payload, endpoint)
        if listing.take(len(records), page_signature(records), total):
            ctx.batch_metadata["paging"] = listing.metadata()
            return
    raise listing.too_many_pages()


def fetch_exchange(ctx: FetchContext, user: str, password: str) -> None:
    traffy = settings_of(ctx)
    base = exchange_base(traffy)
    token = exchange_token(ctx, base, user, password)
    params = exchange_params(traffy, ctx.day, datetime.now(ZoneInfo(TRAFFY_TIMEZONE)).date())
    landed = fetch(
        ctx, base + EXCHANGE_ISSUES_PATH, params, headers={"Authorization": f"Bearer {token}"}
    )
    check_envelope(ctx, load_json(ctx, landed), "exchange", " (get-issues)")


def exchange_token(ctx: FetchContext, base: str, user: str, password: str) -> str:
    """Log in and return the JWT. Not landed, not recorded, never in a message."""
    # A LIVE session even in record mode: the record hook would save the token to disk.
    live = ctx.settings.model_copy(update={"source_mode": SourceMode.LIVE})
    url = base + EXCHANGE_AUTH_PATH
    with build_session(SOURCE, live) as session:
        try:
            response = session.post(url, json={"user": user, "pass": password})
        except requests.RequestException as exc:
            # The exception text is not shown: it may quote the request.
            raise ctx.unavailable(
                f"Exchange API login at {url} failed (field 'get-auth'): {type(exc).__name__}"
            ) from None
    if response.status_code >= 400:
        message = (
            f"Exchange API login at {url} failed: HTTP {response.status_code} {response.reason}"
        )
        if response.status_code in TRANSIENT_STATUSES:
            raise ctx.unavailable(f"{message} (field 'get-auth')")
        raise ctx.error(message, field="get-auth")
    try:
        payload = response.json()
    except ValueError:
        raise ctx.error(
            f"Exchange API login at {url} did not answer JSON", field="get-auth"
        ) from None
    payload = payload if isinstance(payload, dict) else {}
    results = payload.get("results")
    token = results.get("token") if isinstance(results, dict) else None
    if payload.get("status") != "success" or not isinstance(token, str) or not token:
        # Only the server's `message` goes into the error, never what we sent.
        message = str(payload.get("message", ""))[:200]
        raise ctx.error(
            f"Exchange API login at {url} refused: status {payload.get('status')!r} {message!r}",
            field="get-auth",
        )
    return token
