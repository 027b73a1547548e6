"""How replicated new gateway topics are, for each cluster size and override (pure logic)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.errors import ConfigError
from gateway.kafka._replication import Replication, replication_for
from gateway.settings import KafkaSettings


@pytest.mark.parametrize(("brokers", "expected"), [
    (1, Replication(-1, None)),
    (2, Replication(-1, None)),
    (3, Replication(3, 2)),
    (7, Replication(3, 2)),
])
def test_three_replicas_and_two_in_sync_from_three_brokers(
        brokers: int, expected: Replication) -> None:
    assert replication_for(brokers) == expected


def test_the_settings_override_the_broker_count() -> None:
    assert replication_for(5, factor=5) == Replication(5, 3)
    assert replication_for(3, factor=2) == Replication(2, None)
    assert replication_for(3, min_insync=3) == Replication(3, 3)
    assert replication_for(1, factor=1, min_insync=1) == Replication(1, 1)


def test_more_replicas_than_brokers_is_one_line_naming_the_setting() -> None:
    with pytest.raises(ConfigError) as caught:
        replication_for(1, factor=3)
    message = str(caught.value)
    assert "LGSP_KAFKA__REPLICATION_FACTOR" in message and "1 live broker;" in message
    assert "\n" not in message


def test_a_topic_that_names_its_min_insync_keeps_it() -> None:
    replication = Replication(3, 2)
    assert replication.topic_config({"cleanup.policy": "compact"}) == {
        "cleanup.policy": "compact", "min.insync.replicas": "2"}
    assert replication.topic_config({"min.insync.replicas": "3"}) == {
        "min.insync.replicas": "3"}
    assert Replication(-1, None).topic_config({"a": "b"}) == {"a": "b"}


def test_min_insync_above_the_replication_factor_is_refused() -> None:
    with pytest.raises(ValidationError, match="no write could ever succeed"):
        KafkaSettings(replication_factor=2, min_insync_replicas=3)
