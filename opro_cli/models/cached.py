"""A model client that answers deterministic calls from the response cache when it can."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from opro_cli.cache import ResponseCache, cache_key, is_cacheable
from opro_cli.models.base import CallParams, Completion, Message, ModelClient


class CachedClient:
    def __init__(self, inner: ModelClient, cache: ResponseCache) -> None:
        self.inner = inner
        self.cache = cache

    async def complete(self, messages: Sequence[Message], params: CallParams) -> Completion:
        if not is_cacheable(params):
            return await self.inner.complete(messages, params)
        key = cache_key(messages, params)
        hit = self.cache.get(key)
        if hit is not None:
            return replace(hit, cached=True)
        completion = await self.inner.complete(messages, params)
        self.cache.put(key, params.model, completion)
        return completion
