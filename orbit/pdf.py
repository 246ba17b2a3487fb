"""Statements as PDF: the same HTML laid out by WeasyPrint (PyPI; Pango from Debian), one PDF per statement.

Chosen over headless Chromium's ``--print-to-pdf`` with numbers (README "Statements"): WeasyPrint makes
the same pages with a real text layer, writes no creation date or random document id (the same statement
gives the same bytes), needs no browser process per file, and its files are a third of the size.
Large batches are laid out in a pool of processes, one per core.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from orbit.statements import render_many
from schemas.plan import Plan
from transforms.statements import Statement

log = logging.getLogger(__name__)
#: below this many statements the pool's start-up costs more than it saves
POOL_FROM = 24


def html_to_pdf(html: bytes) -> bytes:
    """One self-contained HTML page -> PDF bytes (no network: nothing external is fetched)."""
    from weasyprint import HTML

    def no_fetch(url: str, *args, **kwargs):
        raise ValueError(f"statements are self-contained; refusing to fetch {url}")

    return HTML(string=html.decode("utf-8"), url_fetcher=no_fetch).write_pdf()


def render_pdfs(statements: Sequence[Statement], plan: Plan, lang: str, *,
                workers: int | None = None) -> list[tuple[str, bytes]]:
    """(employee_id, PDF bytes) for each statement."""
    pages = render_many(statements, plan, lang)
    workers = workers or min(os.cpu_count() or 1, 8)
    if len(pages) < POOL_FROM or workers < 2:
        return [(eid, html_to_pdf(page)) for eid, page in pages]
    log.info("laying out %d PDF statements in %d processes", len(pages), workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pdfs = list(pool.map(html_to_pdf, [page for _, page in pages], chunksize=8))
    return [(eid, pdf) for (eid, _), pdf in zip(pages, pdfs)]
