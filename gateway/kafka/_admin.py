from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from gateway.errors import KafkaError, KafkaRequestError
from gateway.kafka._errors import translated
from gateway.kafka._replication import Replication, replication_for
from gateway.kafka._security import current_security, explained
from gateway.kafka._types import TopicPartition

_MIN_INSYNC = "min.insync.replicas"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic to create: partitions, replication and topic-level configs."""

    name: str
    partitions: int = 3
    # -1: the broker's default.replication.factor, so a production cluster's topics are
    # replicated even when the gateway, not the platform team, created them.
    replication: int = -1
    config: dict[str, str] = field(default_factory=dict)

    @classmethod
    def compacted(cls, name: str, *, replication: int = -1) -> TopicSpec:
        """A single-partition, log-compacted topic holding the latest value per key."""
        return cls(name, 1, replication, {"cleanup.policy": "compact"})


class KafkaAdmin:
    """Topic and consumer-group administration."""

    def __init__(self, bootstrap_servers: str, *, client_id: str = "lgsp-admin") -> None:
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers, client_id=client_id,
            **current_security().client_kwargs(),
        )
        self._bootstrap = bootstrap_servers
        self._started = False

    async def start(self) -> None:
        """Connect to the cluster."""
        try:
            with translated("admin start"):
                try:
                    await self._admin.start()
                except BaseException:
                    await self._admin.close()
                    raise
        except KafkaError as exc:
            raise await explained(exc, self._bootstrap) from exc
        self._started = True

    async def stop(self) -> None:
        """Close the connection."""
        if self._started:
            self._started = False
            with translated("admin stop"):
                await self._admin.close()

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> None:
        """Create the topics that do not exist yet; existing ones are left as they are."""
        existing = await self.list_topics()
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return
        replication = await self.replication()
        new = []
        for spec in missing:
            factor = replication.factor if spec.replication == -1 else spec.replication
            config = replication.topic_config(spec.config) if spec.replication == -1 \
                else dict(spec.config)
            new.append(NewTopic(
                spec.name, num_partitions=spec.partitions, replication_factor=factor,
                # aiokafka's check wants an assignment map (even empty) with -1.
                replica_assignments={} if factor == -1 else None, topic_configs=config))
        with translated("create topics"):
            response = await self._admin.create_topics(new)
        for item in getattr(response, "topic_errors", ()):
            name, code = item[0], item[1]
            message = item[2] if len(item) > 2 else ""
            if code not in (0, TopicAlreadyExistsError.errno):
                raise KafkaRequestError(f"creating topic {name} failed: error {code} {message}")

    async def broker_count(self) -> int:
        """How many brokers the cluster has alive now."""
        with translated("describe cluster"):
            described = await self._admin.describe_cluster()
        return len(described.get("brokers", ()))

    async def replication(self) -> Replication:
        """The replication new topics get here (gateway/kafka/_replication.py)."""
        settings = current_security().settings
        return replication_for(await self.broker_count(),
                               factor=settings.replication_factor,
                               min_insync=settings.min_insync_replicas)

    async def topic_replication(self, topic: str) -> tuple[int, int] | None:
        """A topic's replication factor and effective min.insync.replicas; None if unknown.

        Unknown includes a topic just created that the answering broker has not heard of.
        """
        with translated(f"describe topic {topic}"):
            described = await self._admin.describe_topics([topic])
            configs = await self._admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic, {_MIN_INSYNC: None})])
        factors = {len(p["replicas"]) for t in described
                   if t["topic"] == topic and t["error_code"] == 0 for p in t["partitions"]}
        # Resources are (error, message, type, name, entries); entries start (name, value).
        values = [int(entry[1]) for response in configs
                  for resource in getattr(response, "resources", ())
                  for entry in resource[4] if entry[0] == _MIN_INSYNC]
        if not factors or not values:
            return None
        return max(factors), values[0]

    async def list_topics(self) -> set[str]:
        """Names of every topic in the cluster."""
        with translated("list topics"):
            return set(await self._admin.list_topics())

    async def partitions(self, topic: str) -> list[TopicPartition]:
        """Every partition of a topic; empty if the topic does not exist."""
        with translated(f"describe topic {topic}"):
            described = await self._admin.describe_topics([topic])
        parts = [p["partition"] for t in described if t["topic"] == topic and t["error_code"] == 0
                 for p in t["partitions"]]
        return [TopicPartition(topic, p) for p in sorted(parts)]

    async def delete_topics(self, names: Iterable[str]) -> None:
        """Delete topics (tests clean up with this)."""
        with translated("delete topics"):
            await self._admin.delete_topics(list(names))

    async def group_offsets(self, group_id: str) -> dict[TopicPartition, int]:
        """The committed offset of each partition for a consumer group."""
        commits = await self.group_commits(group_id)
        return {tp: offset for tp, (offset, _meta) in commits.items()}

    async def group_commits(self, group_id: str) -> dict[TopicPartition, tuple[int, str]]:
        """The committed offset and its metadata string for each partition of a group."""
        with translated(f"offsets of group {group_id}"):
            offsets = await self._admin.list_consumer_group_offsets(group_id)
        return {
            TopicPartition(tp.topic, tp.partition): (int(meta.offset), str(meta.metadata or ""))
            for tp, meta in offsets.items()
            if meta.offset >= 0
        }
