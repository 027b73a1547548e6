"""The console in a browser against a live gateway, broker and stub, as provincial IT use it.

One story, because each step needs the state the one before it left: sign in; see a
national service down during an outage (its transactions held, then flowing again by
themselves); find a dossier that failed on its own merits; dry-run and replay it from
the console; see it delivered at the stub, and the audit trail naming the signed-in
person; pause and resume a connector; a viewer sees no replay or connector controls and
is refused a crafted replay POST carrying its own valid CSRF token. Every page leaves a
screenshot in test-artifacts/console/.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page
from playwright.async_api import Error as PlaywrightError

from devkit.localkafka import free_port
from gateway.contracts import Codec, Envelope
from gateway.kafka import KafkaAdmin, Producer, TopicSpec
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.console.conftest import ARTIFACTS
from tests.support.auth import bearer
from tests.support.pipeline import dossier_envelope, publish, set_faults, stub_stats
from tests.support.processes import ServerProcess, loopback_env, run_lgsp
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

DOSSIERS = "QG.DVCQG.DONGBOHOSO"  # where one-stop dossier events are routed
AGENCY = "000.00.00.H12"


@dataclass
class Live:
    """The processes of the story and how to reach them."""

    url: str
    stub_url: str
    state: Path
    env: dict[str, str]
    topics: Topics
    producer: Producer
    codec: Codec

    async def token(self, name: str, role: str) -> str:
        """`lgsp tokens create`, as the person who runs the gateway does it."""
        done = await run_lgsp("tokens", "create", "--name", name, "--role", role, env=self.env)
        assert done.code == 0, done.err
        return done.out.strip().splitlines()[-1]

    async def send(self, envelope: Envelope) -> None:
        """A one-stop dossier event on its source topic, as the connector publishes it."""
        await publish(self.producer, self.codec, self.topics.source("one-stop"), [envelope])

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """The admin API with the first-start admin token."""
        async with aiohttp.ClientSession() as session, session.request(
                method, self.url + path, json=body, headers=bearer(self.state)) as resp:
            return resp.status, await resp.json(content_type=None)


@pytest.fixture
async def live(kafka: BrokerHandle, kafka_admin: KafkaAdmin, topics: Topics, codec: Codec,
               tmp_path: Path) -> AsyncIterator[Live]:
    # The source topic exists first, so the router's pattern subscription has it at once.
    await kafka_admin.ensure_topics([TopicSpec(topics.source("one-stop"))])
    stub_port, port = free_port(), free_port()
    env = loopback_env(bootstrap_servers=kafka.bootstrap, topic_prefix=topics.prefix,
                       state_dir=str(tmp_path / "state"), log_format="json")
    stub = ServerProcess(["stub", "--port", str(stub_port), "--data-dir",
                          str(tmp_path / "stub"), "--no-fsync"],
                         env=env, log_path=tmp_path / "stub.log",
                         ready_prefix="NDXP stub listening")
    gateway = ServerProcess(["run"], env={**env, **loopback_env(
        {}, port=str(port), ndxp__url=f"http://127.0.0.1:{stub_port}",
        # Quick retries and a breaker that opens after two failures: an outage shows
        # within a second, and the service is probed again every half second.
        router__max_attempts="2", router__backoff_initial_s="0.05",
        router__backoff_max_s="0.1", router__breaker_failure_threshold="2",
        router__breaker_reset_s="0.5", router__breaker_reset_max_s="1",
        router__commit_interval_s="0.1", router__lag_interval_s="1",
        index__batch_interval_s="0.1")},
        log_path=tmp_path / "gateway.log", ready_prefix="gateway ready")
    await stub.start()
    await gateway.start()
    producer = Producer(kafka.bootstrap)
    await producer.start()
    try:
        yield Live(url=f"http://127.0.0.1:{port}", stub_url=f"http://127.0.0.1:{stub_port}",
                   state=tmp_path / "state", env={**env, "LGSP_URL": f"http://127.0.0.1:{port}"},
                   topics=topics, producer=producer, codec=codec)
    finally:
        await producer.stop()
        await gateway.stop()
        await stub.stop()


class Shots:
    """Numbered screenshots of each page, in the order the story visits them."""

    def __init__(self) -> None:
        self.n = 0

    async def __call__(self, page: Page, name: str) -> None:
        self.n += 1
        await page.screenshot(path=str(ARTIFACTS / f"{self.n:02d}-{name}.png"), full_page=True)


async def reload_until(page: Page, check: Callable[[], Awaitable[bool]], what: str,
                       timeout_s: float = 45) -> None:
    """Reload the page until `check` holds (what a person does while waiting)."""
    async def probe() -> bool:
        try:
            await page.reload()
        except PlaywrightError:
            # The overview refreshes itself; a reload racing that navigation is detached.
            # The next probe reloads again; a page that never loads still times out.
            return False
        return await check()

    await wait_for(probe, bool, timeout_s=timeout_s, interval_s=0.5, what=what)


async def sign_in(page: Page, url: str, token: str) -> None:
    await page.goto(f"{url}/console/")
    assert "/console/sign-in" in page.url
    await page.get_by_label(re.compile("Mã truy cập|Access token")).fill(token)
    await page.get_by_role("button", name=re.compile("Đăng nhập|Sign in")).click()
    await page.wait_for_url(f"{url}/console/")


async def test_provincial_it_finds_and_replays_a_failed_dossier_in_the_console(
        live: Live, browser: Browser, codec: Codec) -> None:
    shot = Shots()
    # A connector, so the overview has one to pause and resume.
    status, body = await live.api("POST", "/connectors", {"name": "one-stop", "config": {
        "connector.class": "one-stop", "listen.port": str(free_port()),
        "webhook.secret": "console-test-webhook-secret-01", "source.agency.code": AGENCY}})
    assert status == 201, body
    officer = await live.token("nguyen-van-an", "admin")
    viewer_token = await live.token("le-thi-hoa", "viewer")

    context = await browser.new_context(viewport={"width": 1366, "height": 768},
                                        locale="vi-VN")
    page = await context.new_page()
    await page.goto(f"{live.url}/console/")
    await shot(page, "sign-in")
    await sign_in(page, live.url, officer)
    assert await page.locator("html").get_attribute("lang") == "vi"
    await page.get_by_role("heading", name="Tổng quan", level=1).wait_for()
    assert "token:nguyen-van-an" in await page.locator("header").inner_text()
    # The keyboard's first stop is the skip link, and focus is visible.
    await page.keyboard.press("Tab")
    focused = await page.evaluate(
        "() => [document.activeElement.textContent, "
        "getComputedStyle(document.activeElement).outlineStyle]")
    assert focused == ["Bỏ qua, đến nội dung chính", "solid"]

    # --- an outage of one national service: held, shown as down, then flowing again --
    stats_before = await stub_stats(live.stub_url)
    await set_faults(live.stub_url, down_services=[DOSSIERS])
    held = dossier_envelope(codec, 1, key="H12-OUTAGE-0001")
    await live.send(held)
    row = page.locator(f'tr[data-service="{DOSSIERS}"]')

    async def shown_down() -> bool:
        return (await row.count() == 1 and "Mất kết nối" in await row.inner_text()
                and await row.locator('td[data-held="1"]').count() == 1)

    await reload_until(page, shown_down, "the dossier service shown down, one held")
    await shot(page, "overview-outage")
    await set_faults(live.stub_url, down_services=[])
    await wait_for(lambda: stub_stats(live.stub_url),
                   lambda s: s["unique"] >= stats_before["unique"] + 1, timeout_s=30,
                   what="the held dossier delivered by itself")

    # --- a dossier refused on its own merits (DATA_INCORRECT): a dead letter ---------
    await set_faults(live.stub_url, reject_rate=1.0)
    refused = dossier_envelope(codec, 2, key="H12-CONSOLE-0002")
    await live.send(refused)
    await page.goto(f"{live.url}/console/dead-letters")
    dead_row = page.locator(f'tr[data-transaction="{refused.transaction_id}"]')

    async def listed() -> bool:
        return await dead_row.count() == 1

    await reload_until(page, listed, "the refused dossier among the dead letters")
    await set_faults(live.stub_url, reject_rate=0.0)

    # Found by its dossier code in the search, with its whole trace.
    await page.get_by_role("link", name="Tìm giao dịch").click()
    await page.get_by_label("Mã hồ sơ / số văn bản").fill("H12-CONSOLE-0002")
    await page.get_by_label("Kết quả").select_option("DEAD_LETTERED")
    await page.get_by_role("button", name="Tìm").click()
    result = page.get_by_role("link", name=refused.transaction_id)

    async def found() -> bool:
        return await result.count() == 1

    await reload_until(page, found, "the dossier found by its code in the index")
    await shot(page, "search")
    await result.click()
    await page.wait_for_url(f"**/console/transactions/{refused.transaction_id}")
    trace = await page.locator("main").inner_text()
    assert "Lỗi, chờ gửi lại" in trace and "Chuyển vào hàng lỗi" in trace
    assert "RejectedError" in trace or "DATA_INCORRECT" in trace
    await shot(page, "transaction-dead-lettered")

    # The dead letters, grouped by reason; select ours, preview, confirm, replay.
    await page.get_by_role("link", name="Giao dịch lỗi").click()
    reasons = await page.locator("section", has=page.locator("#reasons-h")).inner_text()
    assert "RejectedError" in reasons
    await page.get_by_label(f"Chọn giao dịch {refused.transaction_id}").check()
    await shot(page, "dead-letters")
    await page.get_by_role("button", name="Xem trước gửi lại (chạy thử)").click()
    summary = page.locator("#preview-summary")
    assert "chưa gửi gì" in await summary.inner_text()
    assert "1 giao dịch" in await summary.inner_text()
    dry_run_id = re.search(r"Chạy thử (\S+):", await summary.inner_text())
    assert dry_run_id is not None
    await shot(page, "replay-preview")
    assert (await stub_stats(live.stub_url))["unique"] == stats_before["unique"] + 1
    # The replay button refuses until the confirmation is ticked (required field).
    await page.get_by_role("button", name="Gửi lại").click()
    assert "/console/dead-letters/preview" in page.url
    await page.get_by_label(re.compile("Tôi đã xem danh sách")).check()
    # A slow national side keeps the run going long enough to watch it: the page
    # follows it by itself (polling) until the result.
    await set_faults(live.stub_url, latency_ms=3000)
    await page.get_by_role("button", name="Gửi lại").click()
    await page.wait_for_url(re.compile(r".*/console/replays/[^/]+$"))
    replay_id = page.url.rsplit("/", 1)[1]
    assert await page.locator("#running").is_visible()
    await shot(page, "replay-running")
    # Finished (outcomes in, not only re-submitted): the page reloads itself without
    # the "running" notice.
    await page.locator("#running").wait_for(state="detached", timeout=60_000)
    await set_faults(live.stub_url, latency_ms=0)
    assert await page.locator("#replay-status").inner_text() == "COMPLETED"
    assert await page.locator("#replay-delivered").inner_text() == "1"
    assert await page.locator("#replay-operator").inner_text() == "token:nguyen-van-an"
    await shot(page, "replay-result")

    # Delivered at the stub: one more unique transaction, no duplicate.
    stats = await stub_stats(live.stub_url)
    assert stats["unique"] == stats_before["unique"] + 2
    assert stats["duplicates"] == stats_before["duplicates"]
    await page.goto(f"{live.url}/console/transactions/{refused.transaction_id}")
    assert await page.locator("#tx-status").inner_text() == "Đã chuyển"

    # History says who did what: the dry run and the real run, both by the officer.
    await page.get_by_role("link", name="Lịch sử gửi lại").click()
    for rid, kind in ((replay_id, "Gửi thật"), (dry_run_id.group(1), "Chạy thử")):
        history_row = page.locator(f'tr[data-replay="{rid}"]')
        assert kind in await history_row.inner_text()
        assert await history_row.locator(".operator").inner_text() == "token:nguyen-van-an"
    await shot(page, "replay-history")

    # A connector paused and resumed from the overview, in English this time.
    await page.goto(f"{live.url}/console/?lang=en")
    assert await page.locator("html").get_attribute("lang") == "en"
    await page.get_by_role("button", name="Pause one-stop").click()
    connector = page.locator('tr[data-connector="one-stop"]')
    assert "PAUSED" in await connector.inner_text()
    await shot(page, "overview-english")
    await page.get_by_role("button", name="Resume one-stop").click()
    assert "PAUSED" not in await connector.inner_text()

    # --- a viewer: sees, but has no replay or connector controls, and is refused ----
    await set_faults(live.stub_url, reject_rate=1.0)
    waiting = dossier_envelope(codec, 3, key="H12-CONSOLE-0003")
    await live.send(waiting)
    # No locale: the browser's Accept-Language (en-US) picks English.
    viewer_context = await browser.new_context(viewport={"width": 1366, "height": 768})
    viewer = await viewer_context.new_page()
    await sign_in(viewer, live.url, viewer_token)
    assert await viewer.locator("html").get_attribute("lang") == "en"
    assert "token:le-thi-hoa" in await viewer.locator("header").inner_text()
    assert await viewer.get_by_role("button", name=re.compile("Pause|Restart")).count() == 0
    assert await viewer.get_by_role("link", name="Search").count() == 0
    await viewer.goto(f"{live.url}/console/dead-letters")
    viewer_row = viewer.locator(f'tr[data-transaction="{waiting.transaction_id}"]')

    async def viewer_sees_it() -> bool:
        return await viewer_row.count() == 1

    await reload_until(viewer, viewer_sees_it, "the viewer sees the waiting dead letter")
    await set_faults(live.stub_url, reject_rate=0.0)
    assert await viewer.locator("#no-replay-role").is_visible()
    assert await viewer.locator("#replay-form").count() == 0
    assert await viewer.locator('input[type="checkbox"]').count() == 0
    assert await viewer.get_by_role("button", name=re.compile("Preview")).count() == 0
    await shot(viewer, "viewer-dead-letters")
    csrf = await viewer.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert csrf
    crafted = await viewer.request.post(
        f"{live.url}/console/dead-letters/replay", headers={"Origin": live.url},
        form={"csrf_token": csrf, "confirm": "yes", "tx": waiting.transaction_id})
    assert crafted.status == 403
    assert "replayer" in await crafted.text()  # the role needed, named
    preview = await viewer.request.post(
        f"{live.url}/console/dead-letters/preview", headers={"Origin": live.url},
        form={"csrf_token": csrf})
    assert preview.status == 403
    # Nothing was re-submitted for the viewer: the stub still has two from this story.
    assert (await stub_stats(live.stub_url))["unique"] == stats_before["unique"] + 2
    search = await viewer.request.get(f"{live.url}/console/search?business_key=H12-CONSOLE-0002")
    assert search.status == 403  # finding transactions needs replayer, as in the API

    # The signed audit trail names the signed-in people, from the console.
    done = await run_lgsp("audit", "list", env=live.env)
    assert done.code == 0, done.err
    lines = done.out.splitlines()

    def audited(*words: str) -> bool:
        return any(all(w in line for w in words) for line in lines)

    assert audited("token:nguyen-van-an", "replay.start", f"replay {replay_id}", "SUCCESS")
    assert audited("token:nguyen-van-an", "connector.pause", "connector one-stop")
    assert audited("token:le-thi-hoa", "replay.start", "DENIED")
    assert "console@127.0.0.1" in done.out
    await viewer_context.close()
    await context.close()
