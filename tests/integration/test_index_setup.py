"""`mediamon setup elasticsearch` on the real server: idempotent, and it upgrades an index
an older version created, so new fields are not rejected by the strict mapping."""

from __future__ import annotations

import asyncio

from pipeline.adapters.elastic import ensure_articles_index, make_client, write_index
from pipeline.schema import EnrichedArticle
from tests.integration.conftest import Env


def test_setup_is_idempotent_and_adds_new_fields(env: Env) -> None:
    async def scenario() -> dict[str, object]:
        es = make_client(env.settings)
        try:
            index = write_index(env.settings)
            old = {"dynamic": "strict", "properties": {"id": {"type": "keyword"}}}
            await es.indices.create(
                index=index,
                mappings=old,
                aliases={env.settings.articles_alias: {"is_write_index": True}},
            )
            assert await ensure_articles_index(es, env.settings) == index
            assert await ensure_articles_index(es, env.settings) == index  # twice: harmless
            doc = EnrichedArticle(id="a1", story_id="s1", topics=["un"]).to_document()
            await es.index(index=index, id="a1", document=doc, refresh=True)
            got = await es.get(index=env.settings.articles_alias, id="a1")
            return dict(got["_source"])
        finally:
            await es.close()

    source = asyncio.run(scenario())
    assert source["story_id"] == "s1" and source["topics"] == ["un"]
