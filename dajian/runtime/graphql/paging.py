"""The Relay page info every runtime connection shares."""

from __future__ import annotations

from typing import Any

import graphene


class PageInfo(graphene.ObjectType):
    """Relay page info of every connection (records, tasks, requests, notifications)."""

    has_next_page = graphene.Boolean(required=True)
    has_previous_page = graphene.Boolean(required=True)
    start_cursor = graphene.String()
    end_cursor = graphene.String()


def page_info(page: Any) -> PageInfo:
    """The page info of a selector's page (``records``' or :class:`~dajian.runtime.paging.Page`)."""
    return PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=page.start_cursor,
        end_cursor=page.end_cursor,
    )
