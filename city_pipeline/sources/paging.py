"""Paging that never guesses: when a limit/offset listing is over, and whether it arrived whole.

A listing ends only on

* an empty page;
* a trustworthy total reported by the API, once the records received reach it (the source decides
  which totals it trusts; a total below what already arrived contradicts itself and is ignored);
* the API's own word that there is no next page (a missing next link or cursor).

A page shorter than the requested limit ends nothing: servers cap their page size below the
requested limit without saying so, and some return a short page in the middle of a listing. The
next offset is the previous one plus the records actually received, never plus the limit.

A page whose records repeat any earlier page (not only the previous one) means the server ignores
the offset or loops: that is a `SourceError`, never a silent stop. After the end, fewer records
than a trusted total is an error too: the missing records would be lost without a trace.

`Listing.metadata()` (pages, rows, requested limit, effective page size, reported total, why it
ended) goes into the landing batch marker, so every landed batch says how it was paged.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from city_pipeline.sources.common import ErrorContext, SourceError

log = logging.getLogger(__name__)

# Why a listing ended, as recorded in the batch metadata.
EMPTY_PAGE = "empty_page"
TOTAL_REACHED = "total"
NO_NEXT_LINK = "no_next_link"


@dataclass
class Listing:
    """Bookkeeping of one limit/offset listing: feed it each page with `take`, read `offset`."""

    ctx: ErrorContext
    limit: int  # records asked for per page
    max_pages: int
    max_pages_setting: str  # where max_pages is set, named in the error
    offset: int = 0  # where the next page starts
    pages: int = 0
    rows: int = 0
    largest_page: int = 0
    total: int | None = None  # the latest trustworthy total the API reported
    ended_by: str | None = None
    seen: dict[Hashable, tuple[int, int]] = field(default_factory=dict)  # signature -> page, offset

    @property
    def page_numbers(self) -> range:
        """The page numbers this listing may fetch (1-based)."""
        return range(1, self.max_pages + 1)

    def where(self) -> str:
        """Which page is being read, for error messages."""
        return f" (page {self.pages + 1}, offset {self.offset})"

    def take(
        self, count: int, signature: Hashable, total: int | None = None, has_next: bool = True
    ) -> bool:
        """Account for the page just received at `offset`; True when the listing is over.

        `count` records arrived, `signature` identifies the page's content, `total` is the API's
        total when the source trusts that field, `has_next` False when the API said there is no
        next page."""
        page, offset = self.pages + 1, self.offset
        if count:
            self._refuse_repeat(page, offset, signature)
        self.pages, self.rows = page, self.rows + count
        self.largest_page = max(self.largest_page, count)
        if total is not None and total >= self.rows:
            self.total = total
        elif total is not None:
            log.info(
                "%s: page %d reports total %d below the %d records received: total ignored",
                getattr(self.ctx, "source", "listing"),
                page,
                total,
                self.rows,
            )
        self.offset += count
        self.ended_by = self._end_reason(count, has_next)
        if self.ended_by is None:
            return False
        self._check_complete()
        return True

    def _refuse_repeat(self, page: int, offset: int, signature: Hashable) -> None:
        if signature not in self.seen:
            self.seen[signature] = (page, offset)
            return
        first, first_offset = self.seen[signature]
        which = "the previous page" if first == page - 1 else "an earlier page"
        raise self.ctx.error(
            f"page {page} (offset {offset}) repeats {which} (page {first}, offset "
            f"{first_offset}): the server ignores the offset or loops; stopping instead of "
            "reading the same records again",
            field="offset",
        )

    def _end_reason(self, count: int, has_next: bool) -> str | None:
        if count == 0:
            return EMPTY_PAGE
        if self.total is not None and self.rows >= self.total:
            return TOTAL_REACHED
        if not has_next:
            return NO_NEXT_LINK
        return None

    def _check_complete(self) -> None:
        """Fewer records than a trusted total after the end: the rest would be lost."""
        if self.total is None or self.rows >= self.total:
            return
        raise self.ctx.error(
            f"the listing ended ({self.ended_by.replace('_', ' ')} at page {self.pages}, offset "
            f"{self.offset}) after {self.rows} records, but the API reported a total of "
            f"{self.total}: {self.total - self.rows} records would be lost, so nothing is "
            "landed as complete",
            field="total",
        )

    def too_many_pages(self) -> SourceError:
        """The error when `max_pages` pages came back without an end."""
        return self.ctx.error(
            f"no end of the listing after max_pages={self.max_pages} pages ({self.rows} records, "
            f"up to {self.largest_page} per page for a limit of {self.limit}); raise "
            f"{self.max_pages_setting} if the listing is really that large",
            field="max_pages",
        )

    def metadata(self) -> dict[str, Any]:
        """How the listing was paged, for the landing batch marker."""
        return {
            "pages": self.pages,
            "rows": self.rows,
            "requested_limit": self.limit,
            "effective_page_size": self.largest_page,
            "reported_total": self.total,
            "ended_by": self.ended_by,
        }
