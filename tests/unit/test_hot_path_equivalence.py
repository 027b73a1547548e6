"""Hot-path rewrites give exactly what the straightforward versions gave.

The partitioner decides which partition a key lands in (so per-key order depends on
it agreeing with every other Kafka client), and a transaction id must stay the same
forever (so the national side recognises a resend).
"""

from __future__ import annotations

import random
import uuid

import pytest

from gateway.connect.context import transaction_id_for
from gateway.kafka._producer import murmur2, partition_of

# Kafka's own test vectors (clients/src/test/.../UtilsTest.java, testMurmur2), as signed
# Java ints; ours is the unsigned 32-bit value, as aiokafka returns it.
_JAVA_VECTORS = [
    ("21", -973932308),
    ("foobar", -790332482),
    ("a-little-bit-long-string", -985981536),
    ("a-little-bit-longer-string", -1486304829),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    ("abc", 479470107),
]


@pytest.mark.parametrize(("text", "java"), _JAVA_VECTORS)
def test_murmur2_matches_the_java_client(text: str, java: int) -> None:
    assert murmur2(text.encode()) == java & 0xFFFFFFFF


def test_partition_of_agrees_with_kafkas_default_partitioner() -> None:
    # Values from aiokafka's DefaultPartitioner for three partitions, every tail length.
    expected = {b"": 0, b"a": 1, b"ab": 2, b"abc": 0, b"abcd": 2, b"abcde": 1,
                b"H12-ABC123-00000042": 0, b"6f1c1f0e-3b8e-5d43-9a0e-4c47535020a1": 2,
                "Hồ sơ 000.00.12.H12".encode(): 0}
    for key, partition in expected.items():
        assert partition_of(key, [0, 1, 2], [0, 1, 2]) == partition, key


def test_keyless_records_go_to_an_available_partition() -> None:
    assert {partition_of(None, [0, 1, 2], [1]) for _ in range(20)} == {1}
    assert partition_of(None, [0, 1, 2], []) in {0, 1, 2}


def test_transaction_ids_are_uuid5_of_connector_and_source_id() -> None:
    namespace = uuid.UUID("6f1c1f0e-3b8e-5d43-9a0e-4c47535020a1")
    rng = random.Random(5)
    for _ in range(2_000):
        connector = rng.choice(["one-stop", "ioffice", "reporting", "kết-nối"])
        source_id = "".join(chr(rng.randint(32, 0x2FFF)) for _ in range(rng.randint(0, 60)))
        expected = str(uuid.uuid5(namespace, f"{connector}\x00{source_id}"))
        assert transaction_id_for(connector, source_id) == expected
