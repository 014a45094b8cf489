"""The consumers the hub can run, by name (`hub consumer run NAME`).

Each entry builds its consumer from the wired-up hub; modules are imported only when their
consumer is asked for, so one consumer's dependencies never slow another's start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consumers.framework import Consumer
    from hub.bootstrap import Hub

# name -> "module:function" taking the Hub and returning the consumer
_BUILDERS = {
    "encompass": "consumers.encompass:build",
    "clocks": "consumers.clocks:build",
    "indicators": "consumers.indicators:build",
}
FEED_PREFIX = "feed-"


class UnknownConsumerError(LookupError):
    pass


def consumer_names(hub: Hub) -> list[str]:
    """Every consumer this deployment can run: the built-in ones and one outbound feed per
    recipient system configured."""
    from consumers.feed import feed_recipients

    return [*_BUILDERS, *(FEED_PREFIX + r.name for r in feed_recipients(hub.settings))]


def build_consumer(hub: Hub, name: str) -> Consumer:
    if name.startswith(FEED_PREFIX):
        from consumers.feed import build_feed

        return build_feed(hub, name.removeprefix(FEED_PREFIX))
    target = _BUILDERS.get(name)
    if target is None:
        raise UnknownConsumerError(
            f"no consumer called {name!r}; known: {', '.join(consumer_names(hub))}"
        )
    module, function = target.split(":")
    builder = getattr(importlib.import_module(module), function)
    consumer: Consumer = builder(hub)
    return consumer
