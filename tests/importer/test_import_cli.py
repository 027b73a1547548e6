"""`lgsp import` against the real broker: records on the topic, rejects beside the input,
a finished import not repeated, Ctrl-C resumed, bad arguments in one line."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import orjson
import pytest

from devkit.exports import write_export
from gateway.contracts import Codec, Envelope, SchemaRegistry
from gateway.headers import H_TRANSACTION
from gateway.kafka import read_topic
from gateway.settings import Settings
from tests.importer.rig import TYPE, ImportRig, only_error_line, summary_of
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


async def test_import_publishes_valid_records_and_lists_rejects_beside_the_input(
        rig: ImportRig, tmp_path: Path) -> None:
    export = tmp_path / "baclieu-dossiers.jsonl.gz"
    planted = write_export(export, TYPE, 1500, invalid_share=0.01)
    done = await rig.lgsp("import", str(export), "--type", TYPE, "--agency", "000.00.00.H09")
    assert done.code == 3, done.err  # imported, but some records were rejected
    numbers = summary_of(done.out)
    assert numbers["published"] == 1500 - len(planted.invalid) == 1485
    assert numbers["rejected"] == len(planted.invalid)
    rejects_path = tmp_path / "baclieu-dossiers.jsonl.gz.rejected.jsonl"
    assert f"rejected records and reasons in {rejects_path}" in done.out

    rejected = [orjson.loads(line) for line in rejects_path.read_bytes().splitlines()]
    assert {r["line"]: r["field"] for r in rejected} == planted.invalid_fields
    assert all(r["reason"] and r["raw"].startswith("{") for r in rejected)
    assert rejects_path.stat().st_mode & 0o077 == 0  # personal data: owner only

    records = await read_topic(rig.bootstrap, rig.topic)
    codec = Codec(SchemaRegistry.load(Settings().schemas_dir))
    envelopes = [Envelope.decode(codec, r.value or b"") for r in records]
    assert len({e.transaction_id for e in envelopes}) == len(records) == 1485
    for rec, env in zip(records, envelopes, strict=True):
        # As the one-stop connector publishes: keyed by dossier, id in the header.
        assert rec.header(H_TRANSACTION) == env.transaction_id.encode()
        assert rec.key == env.business_key.encode()
        assert env.business_key == env.correlation_id
        assert (env.source_system, env.connector, env.source_agency_code, env.message_type) == (
            "one-stop", "import", "000.00.00.H09", TYPE)
    events = [e.decode_payload(codec) for e in envelopes]
    assert {e["dossier_code"] for e in events} == {e.business_key for e in envelopes}

    # Run again: nothing is published twice, the outcome is the same.
    again = await rig.lgsp("import", str(export), "--type", TYPE, "--agency", "000.00.00.H09")
    assert again.code == 3, again.err
    assert "already imported (1485 published, 15 rejected); nothing to do" in again.out
    assert (await rig.topic_size()) == 1485

    # The same records exported as CSV get the same transaction ids.
    as_csv = tmp_path / "baclieu-dossiers.csv"
    write_export(as_csv, TYPE, 1500, invalid_share=0.01)
    other = ImportRig.create(rig.bootstrap, type(rig.topics)(prefix=rig.topics.prefix + "csv."),
                             tmp_path / "state")
    csv_done = await other.lgsp("import", str(as_csv), "--type", TYPE,
                                "--agency", "000.00.00.H09")
    assert csv_done.code == 3, csv_done.err
    assert set(await other.on_topic()) == {e.transaction_id for e in envelopes}
    csv_rejects = tmp_path / "baclieu-dossiers.csv.rejected.jsonl"
    assert {orjson.loads(line)["field"] for line in csv_rejects.read_bytes().splitlines()} == \
        set(planted.invalid_fields.values())


async def test_ctrl_c_stops_cleanly_and_the_rerun_publishes_the_rest_once(
        rig: ImportRig, tmp_path: Path) -> None:
    export = tmp_path / "dossiers.jsonl"
    write_export(export, TYPE, 12_000)
    proc = await rig.spawn("import", str(export), "--type", TYPE)
    await wait_for(rig.topic_size, lambda n: n >= 1500, timeout_s=120, interval_s=0.05,
                   what="a tenth published")
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 130, err.decode()
    assert "interrupted after record" in out.decode()
    assert "run the same command again to resume" in out.decode()
    assert err.decode().strip().splitlines()[-1] == "lgsp: interrupted"
    before = await rig.topic_size()
    assert before < 12_000

    rest = await rig.lgsp("import", str(export), "--type", TYPE)
    assert rest.code == 0, rest.err
    numbers = summary_of(rest.out)
    assert numbers["published"] == 12_000 - before
    assert numbers["resumed"] + numbers["skipped"] == before
    seen = await rig.on_topic()
    assert len(seen) == 12_000
    assert max(seen.values()) == 1
    assert not (tmp_path / "dossiers.jsonl.rejected.jsonl").exists()


async def test_bad_arguments_and_files_are_one_line_errors(rig: ImportRig, tmp_path: Path
                                                           ) -> None:
    export = tmp_path / "d.jsonl"
    write_export(export, TYPE, 20)
    missing = await rig.lgsp("import", str(tmp_path / "nope.jsonl"), "--type", TYPE)
    assert missing.code == 2
    assert "no such file" in only_error_line(missing)

    unknown = await rig.lgsp("import", str(export), "--type", "onestop.nothing")
    assert unknown.code == 1
    assert "unknown message type 'onestop.nothing'" in only_error_line(unknown)

    unlisted = await rig.lgsp("import", str(export), "--type", TYPE, "--service", "QG.NOPE")
    assert unlisted.code == 1
    assert "national service 'QG.NOPE' is not in the catalogue" in only_error_line(unlisted)

    # A checkpoint is resumed only with the options it was made with.
    first = await rig.lgsp("import", str(export), "--type", TYPE)
    assert first.code == 0, first.err
    other = await rig.lgsp("import", str(export), "--type", TYPE, "--agency", "000.00.00.H09")
    assert other.code == 1
    assert "was being imported with other options: agency '000.00.00.H12' (now " \
        "'000.00.00.H09')" in only_error_line(other)

    # A file that changed since its import began is not resumed as if it had not.
    write_export(export, TYPE, 25)
    changed = await rig.lgsp("import", str(export), "--type", TYPE)
    assert changed.code == 1
    assert "changed since its import began" in only_error_line(changed)

    gone = ImportRig.create("127.0.0.1:1", rig.topics, tmp_path / "state")
    fresh = tmp_path / "fresh.jsonl"
    write_export(fresh, TYPE, 5)
    down = await gone.lgsp("import", str(fresh), "--type", TYPE, timeout_s=120)
    assert down.code == 1
    # aiokafka logs its connection errors first; the last line says it for the user.
    assert "Traceback" not in down.err
    assert down.err.strip().splitlines()[-1].startswith("lgsp: error: cannot reach Kafka at "
                                                        "127.0.0.1:1")
