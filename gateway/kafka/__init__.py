"""The gateway's only door to Kafka: aiokafka wrapped, its errors translated.

Nothing outside this package imports aiokafka. Callers get plain dataclasses
(`Record`, `DeliveryReport`, `TopicPartition`) and the gateway's own `KafkaError`
subclasses, whose `retriable` flag says whether trying again can help.
"""

from gateway.kafka._admin import KafkaAdmin, TopicSpec
from gateway.kafka._consumer import GroupConsumer, RebalanceHandler
from gateway.kafka._producer import Producer
from gateway.kafka._reader import TopicReader, read_topic
from gateway.kafka._security import KafkaSecurity, current_security, use_security
from gateway.kafka._types import DeliveryReport, Header, Record, TopicPartition

__all__ = [
    "DeliveryReport",
    "GroupConsumer",
    "Header",
    "KafkaAdmin",
    "KafkaSecurity",
    "Producer",
    "RebalanceHandler",
    "Record",
    "TopicPartition",
    "TopicReader",
    "TopicSpec",
    "current_security",
    "read_topic",
    "use_security",
]
