"""A connector's `topic` can name neither the gateway's own topics nor another connector's."""

from __future__ import annotations

import pytest

from gateway.errors import ConfigError
from gateway.topics import Topics
from tests.connect.fixtures import RuntimeFactory
from tests.connect.support import counter_config

pytestmark = pytest.mark.integration


async def test_own_and_taken_topics_are_refused(
    runtime_factory: RuntimeFactory, topics: Topics
) -> None:
    async with runtime_factory() as rt:
        for own in (topics.connector_configs, topics.connector_offsets, topics.ledger,
                    topics.dead_letter, topics.replay, topics.replay_audit,
                    f"{topics.prefix}audit", topics.hold("QG.X")):
            with pytest.raises(ConfigError, match=r"topic: .* gateway's own topics") as err:
                await rt.create(f"{topics.prefix}bad", counter_config(topic=own))
            assert err.value.problems[0].field == "topic"
        await rt.create(f"{topics.prefix}a", counter_config())
        with pytest.raises(ConfigError, match="already the topic of connector"):
            await rt.create(f"{topics.prefix}b",
                            counter_config(topic=topics.source(f"{topics.prefix}a")))
        await rt.create(f"{topics.prefix}c", counter_config(topic=f"{topics.prefix}src.shared"))
        with pytest.raises(ConfigError, match="already the topic of connector"):
            await rt.create(f"{topics.prefix}d", counter_config(topic=f"{topics.prefix}src.shared"))
        # A connector may keep its own topic on update.
        await rt.update_config(f"{topics.prefix}c",
                               counter_config(topic=f"{topics.prefix}src.shared"))
        assert rt.list() == [f"{topics.prefix}a", f"{topics.prefix}c"]
