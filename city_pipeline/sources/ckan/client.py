"""Calling CKAN: the query of one datastore_search page and one partition's paged fetch (the API
key travels in a header only, so it is never landed, logged or recorded)."""

from __future__ import annotations

from city_pipeline.http import secret_from_env
from city_pipeline.lake import LandedFile
from city_pipeline.settings import CkanDataset, CkanSettings
from city_pipeline.sources.ckan.contract import API_KEY_ENV, SEARCH_PATH
from city_pipeline.sources.ckan.pages import (
    ckan_error_text,
    has_next_link,
    page_result,
    records_signature,
    reported_total,
)
from city_pipeline.sources.common import (
    FetchContext,
    SourceError,
    fetch,
    load_json,
)
from city_pipeline.sources.paging import Listing


def request_params(dataset: CkanDataset, page_size: int, offset: int) -> dict[str, str]:
    """Query of one datastore_search page (the synth builds recordings with this too)."""
    return {"resource_id": dataset.resource_id, "limit": str(page_size), "offset": str(offset)}


def search_url(settings: CkanSettings) -> str:
    return settings.base_url + SEARCH_PATH


def _fetch_page(
    ctx: FetchContext, url: str, params: dict[str, str], headers: dict[str, str] | None
) -> LandedFile:
    """Land one page; on an HTTP error, say what CKAN itself said (its 4xx bodies are envelopes)."""
    landed_before = len(ctx.batch.files)
    try:
        return fetch(ctx, url, params, headers=headers)
    except SourceError as exc:
        # Nothing answered (timeout, no recording) or a retryable status: keep fetch's error.
        if len(ctx.batch.files) == landed_before or exc.transient:
            raise
        landed = ctx.batch.files[-1]
        try:
            payload = load_json(ctx, landed)
        except SourceError:
            raise exc from None
        if not (isinstance(payload, dict) and payload.get("success") is False):
            raise
        raise ctx.error(
            f"HTTP {landed.status} from {url} offset={params['offset']}: CKAN said "
            f"{ckan_error_text(payload.get('error'))} (body kept in {landed.path})",
            field="success",
        ) from None


def fetch_dataset(ctx: FetchContext, dataset: CkanDataset) -> None:
    """Page through one resource with limit/offset (see `sources.paging` for when it ends) and
    record how it paged in the batch metadata."""
    ckan = ctx.settings.config.sources.ckan
    api_key = secret_from_env(API_KEY_ENV)
    headers = {"api-key": api_key} if api_key else None
    url = search_url(ckan)
    listing = Listing(ctx, ckan.page_size, ckan.max_pages, "sources.ckan.max_pages")
    for _ in listing.page_numbers:
        params = request_params(dataset, ckan.page_size, listing.offset)
        landed = _fetch_page(ctx, url, params, headers)
        result = page_result(ctx, load_json(ctx, landed), listing.where())
        records = result["records"]
        signature = records_signature(records)
        if listing.take(len(records), signature, reported_total(result), has_next_link(result)):
            ctx.batch_metadata["paging"] = listing.metadata()
            return
    raise listing.too_many_pages()
