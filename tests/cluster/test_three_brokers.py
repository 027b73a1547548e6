"""Three brokers: replicated gateway topics, no loss while a node is down, the CLI's verbs.

One cluster for the whole module (tests/support/cluster.py); a test that stops a node
brings it back, and each test starts by starting whatever an earlier one left stopped.
"""

from __future__ import annotations

import asyncio
import functools
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.kafka import KafkaAdmin, Producer, TopicSpec, read_topic, use_security
from gateway.settings import KafkaSettings
from gateway.testing.fixtures import unique_prefix
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.support.cli import lgsp
from tests.support.cluster import ClusterHandle
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
async def cluster(three_brokers: ClusterHandle) -> ClusterHandle:
    await three_brokers.all_up()
    return three_brokers


@pytest.fixture
async def admin(cluster: ClusterHandle) -> AsyncIterator[KafkaAdmin]:
    admin = KafkaAdmin(cluster.bootstrap)
    await admin.start()
    yield admin
    await admin.stop()


async def test_gateway_topics_get_three_replicas_and_two_in_sync(admin: KafkaAdmin) -> None:
    # A node that just came back can answer before every broker's metadata lists it again
    # (CI saw 2 once): wait, boundedly, for all three before creating topics.
    await wait_for(admin.broker_count, lambda seen: seen == 3, what="three brokers listed")
    topics = Topics(prefix=unique_prefix())
    specs = [*topics.system_specs(), topics.hold_spec("nid"), TopicSpec(topics.source("a"))]
    await admin.ensure_topics(specs)
    for spec in specs:
        await wait_for(functools.partial(admin.topic_replication, spec.name),
                       lambda found: found == (3, 2), what=f"{spec.name} with RF 3, min ISR 2")


async def test_the_replication_setting_overrides_the_broker_count(admin: KafkaAdmin) -> None:
    topic = f"t{uuid.uuid4().hex[:12]}"
    use_security(KafkaSettings(replication_factor=2, min_insync_replicas=1))
    try:
        await admin.ensure_topics([TopicSpec(topic)])
        use_security(KafkaSettings(replication_factor=4))
        with pytest.raises(ConfigError, match="is 4 but the cluster has 3 live brokers"):
            await admin.ensure_topics([TopicSpec(f"{topic}x")])
    finally:
        use_security(KafkaSettings())
    await wait_for(lambda: admin.topic_replication(topic), lambda found: found == (2, 1),
                   what=f"{topic} with RF 2, min ISR 1")
    assert f"{topic}x" not in await admin.list_topics()


async def test_a_single_broker_keeps_its_own_default(kafka: BrokerHandle) -> None:
    admin = KafkaAdmin(kafka.bootstrap)
    await admin.start()
    try:
        if await admin.broker_count() >= 3:
            pytest.fail("the session broker is expected to be a single node")
        topic = f"t{uuid.uuid4().hex[:12]}"
        await admin.ensure_topics([TopicSpec(topic)])
        found = await wait_for(lambda: admin.topic_replication(topic),
                               lambda found: found is not None, what=topic)
        assert found is not None and found[0] == 1
    finally:
        await admin.stop()


def _one_line_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("lgsp")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


async def _lgsp(cluster: ClusterHandle, *args: str) -> tuple[int, str, str]:
    # In a thread: the CLI waits for nodes this event loop's own subprocesses serve.
    done = await asyncio.to_thread(lgsp, "kafka", *args, env=cluster.env)
    return done.returncode, done.stdout, done.stderr


async def test_status_shows_every_node(cluster: ClusterHandle) -> None:
    code, out, err = await _lgsp(cluster, "status")
    assert code == 0, err
    header, *nodes = out.strip().splitlines()
    assert header.startswith("cluster of 3 nodes, 3 of 3 running; controller quorum leader: "
                             "node ")
    assert f"bootstrap {cluster.bootstrap}" in header
    assert len(nodes) == 3
    for node_id, line in enumerate(nodes, start=1):
        broker = cluster.cluster.nodes[node_id]
        assert re.match(rf"node {node_id}  up    pid \d+ +broker 127\.0\.0\.1:{broker.port}  "
                        rf"controller 127\.0\.0\.1:{broker.controller_port}  "
                        r"broker\+controller, (quorum leader|voter)  log .*broker\.log$", line)
    assert sum("quorum leader" in line for line in nodes) == 1


async def test_a_node_killed_and_started_from_the_cli_loses_nothing(
        cluster: ClusterHandle, admin: KafkaAdmin) -> None:
    # The gateway's own producer (acks=all, idempotent) writes before, while and after
    # node 3 is down; every acknowledged record must be there once.
    topic = f"t{uuid.uuid4().hex[:12]}"
    await admin.ensure_topics([TopicSpec(topic, 6)])
    producer = Producer(cluster.bootstrap, request_timeout_ms=15_000)
    await producer.start()
    sent: list[bytes] = []

    async def burst(label: str, count: int = 150) -> None:
        values = [f"{label}-{i}".encode() for i in range(count)]
        acks = [await producer.send(topic, v, key=f"k{i}".encode())
                for i, v in enumerate(values)]
        await asyncio.gather(*acks)
        sent.extend(values)

    try:
        await burst("before")
        code, out, err = await _lgsp(cluster, "stop", "--node", "3", "--kill")
        assert (code, out.strip()) == (0, "node 3 killed"), err
        code, out, _ = await _lgsp(cluster, "status")
        assert code == 4 and "2 of 3 running" in out
        assert re.search(r"^node 3  down  pid - ", out, re.MULTILINE)
        await burst("during")  # six partitions: node 3 led some, their leaders moved

        code, _, err = await _lgsp(cluster, "stop", "--node", "3")
        assert code == 1 and _one_line_error(err) == "lgsp: error: node 3 is not running"
        code, out, err = await _lgsp(cluster, "start", "--node", "3")
        assert (code, out.strip()) == (0, cluster.cluster.nodes[3].bootstrap), err
        code, _, err = await _lgsp(cluster, "start", "--node", "3")
        assert code == 1 and "node 3 is already running" in _one_line_error(err)
        await burst("after")
    finally:
        await producer.stop()
    received = [r.value for r in await read_topic(cluster.bootstrap, topic)]
    assert sorted(v for v in received if v is not None) == sorted(sent)
    assert len(received) == len(sent) == 450


async def test_bad_node_numbers_are_one_line(cluster: ClusterHandle) -> None:
    code, _, err = await _lgsp(cluster, "stop", "--node", "7")
    assert code == 1
    assert _one_line_error(err) == ("lgsp: error: there is no node 7: the local cluster has "
                                    "nodes 1, 2, 3")
    code, _, err = await _lgsp(cluster, "stop")
    assert code == 2 and "--node" in _one_line_error(err)
    code, _, err = await _lgsp(cluster, "up", "--nodes", "2")
    assert code == 2 and "invalid choice: 2" in _one_line_error(err)


def test_stop_without_a_cluster_is_one_line(tmp_path: Path) -> None:
    env = {"LGSP_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = lgsp("kafka", "stop", "--node", "1", env=env)
    assert done.returncode == 1
    assert _one_line_error(done.stderr) == (
        "lgsp: error: there is no local cluster (none was started); start one with "
        "`lgsp kafka up --nodes 3`")
