// The web client's performance budget (docs/benchmarks.md, "Web client"), measured in Debian's Chromium against the
// real binary: initial JavaScript (gzip bytes the first page load needs), opening and scrolling a 1,000-message
// conversation, and the frame gaps while an answer streams at 100 tokens a second. Prints one JSON object.
//
//   TABLETALK_BIN=target/release/tabletalk node crates/web/browser/bench.mjs

import http from "node:http";

import { chromium } from "playwright-core";

import { fakeLlm } from "./fakes.mjs";
import { browserPath, signIn, startServer, WAIT } from "./harness.mjs";

function rawSize(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { "Accept-Encoding": "gzip" } }, (res) => {
        let bytes = 0;
        res.on("data", (c) => (bytes += c.length));
        res.on("end", () => resolve(bytes));
      })
      .on("error", reject);
  });
}

/** Frame gaps (ms) seen by requestAnimationFrame while `work` runs in the page, and long tasks. */
async function frames(page, work) {
  await page.evaluate(() => {
    const state = { gaps: [], last: performance.now(), running: true, long: [] };
    globalThis.__frames = state;
    new PerformanceObserver((list) => list.getEntries().forEach((e) => state.long.push(e.duration))).observe({ type: "longtask" });
    const tick = (now) => {
      state.gaps.push(now - state.last);
      state.last = now;
      if (state.running) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await work();
  const { gaps, long } = await page.evaluate(() => {
    globalThis.__frames.running = false;
    return { gaps: globalThis.__frames.gaps.slice(1), long: globalThis.__frames.long };
  });
  gaps.sort((a, b) => a - b);
  const at = (q) => Math.round(gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))] ?? 0);
  return { frames: gaps.length, p50_ms: at(0.5), p95_ms: at(0.95), max_ms: Math.round(gaps[gaps.length - 1] ?? 0), long_tasks: long.length, longest_task_ms: Math.round(Math.max(0, ...long)) };
}

async function main() {
  const llm = await fakeLlm();
  const server = await startServer(llm);
  const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox"] });
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  const report = {};
  try {
    const html = await (await fetch(server.base + "/", { headers: { Accept: "text/html" } })).text();
    const initial = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]);
    const sizes = await Promise.all(initial.map((path) => rawSize(server.base + path)));
    report.initial_js_gzip_bytes = sizes.reduce((a, b) => a + b, 0);

    await signIn(page, server.base);
    const messages = Array.from({ length: 1000 }, (_, i) => ({
      role: i % 2 === 0 ? "user" : "assistant",
      content:
        i % 2 === 0
          ? `Question ${i}: how did revenue develop in region ${i % 13}?`
          : `Revenue in **region ${i % 13}** grew by ${i % 17}% — see the table.\n\n| month | revenue |\n|---|---|\n| Jan | ${i} |\n| Feb | ${i * 2} |\n\nThe trend is ${i % 3 ? "up" : "flat"}.`,
    }));
    const post = (path, body) =>
      page.evaluate(
        async ([p, b]) => (await fetch(p, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(b) })).json(),
        [path, body],
      );
    const { id } = await post("/conversations/import", { title: "Long history", messages });
    const started = Date.now();
    await page.goto(`${server.base}/c/${id}`);
    await page.getByText("Question 998:").waitFor(WAIT);
    await page.locator("article.message", { hasText: "The trend is" }).last().waitFor(WAIT);
    report.open_1000_messages_ms = Date.now() - started;
    report.rendered_messages_after_open = await page.locator("article.message").count();
    // Up with the wheel from the newest message to the first, as a reader would.
    const box = await page.locator(".messages").boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    report.scroll_1000_messages = await frames(page, async () => {
      for (let i = 0; i < 2000; i++) {
        await page.mouse.wheel(0, -900);
        await page.waitForTimeout(16);
        if ((await page.locator(".messages").evaluate((el) => el.scrollTop)) === 0) break;
      }
    });
    report.reached_first_message = (await page.getByText("Question 0:").count()) === 1;
    report.rendered_messages_after_scroll = await page.locator("article.message").count();

    const { id: streamId } = await post("/conversations", {});
    await page.goto(`${server.base}/c/${streamId}`);
    await page.getByLabel("Message").waitFor(WAIT);
    const streamStarted = Date.now();
    report.streaming_100_tokens_per_s = await frames(page, async () => {
      await page.getByLabel("Message").fill("benchmark stream");
      await page.getByLabel("Message").press("Enter");
      await page.locator("article.message.assistant:not(.live)", { hasText: "w598" }).waitFor({ timeout: 60_000 });
    });
    report.streaming_100_tokens_per_s.seconds = Math.round((Date.now() - streamStarted) / 100) / 10;
  } finally {
    await browser.close();
    server.stop();
    llm.close();
  }
  console.log(JSON.stringify(report, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
