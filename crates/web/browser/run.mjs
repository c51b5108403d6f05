// Browser journeys: Debian's Chromium driven by playwright-core against the real `tabletalk` binary, with an
// OpenAI-compatible fake model and a dataset file server (fakes.mjs). Each journey saves a screenshot in
// test-results/; any uncaught page error, console error or serious accessibility violation fails the run.
//
//   TABLETALK_BIN=../../target/debug/tabletalk node browser/run.mjs

import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { fakeLlm, fakeOidc, fileServer, SALES_CSV } from "./fakes.mjs";
import { browserPath, signIn, startServer, WAIT } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const results = join(here, "../test-results");

const problems = [];
function watch(page, name) {
  page.on("pageerror", (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on("console", (m) => {
    // A failed request is logged by Chromium as a console error; the journeys check statuses themselves.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`${name}: console: ${m.text()}`);
  });
}

async function axe(page, name) {
  await page.evaluate(readFileSync(join(here, "../node_modules/axe-core/axe.min.js"), "utf8"));
  const violations = await page.evaluate(async () => {
    const result = await globalThis.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  for (const v of violations) problems.push(`${name}: accessibility: ${v}`);
}

const journeys = [];
function journey(name, run) {
  journeys.push({ name, run });
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function main() {
  mkdirSync(results, { recursive: true });
  const llm = await fakeLlm();
  const files = await fileServer({ "/sales.csv": SALES_CSV });
  const server = await startServer(llm);
  const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox"] });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.base });
  const page = await context.newPage();
  watch(page, "main");
  let shareLink = "";

  journey("local sign-in (Enter submits)", async () => {
    await page.goto(server.base + "/");
    await page.getByLabel("Access key").fill("wrong-key-000000000");
    await page.getByLabel("Access key").press("Enter");
    await page.getByRole("alert").waitFor(WAIT);
    check((await page.getByRole("alert").textContent()).includes("Invalid access key"), "a wrong key is refused in words");
    await signIn(page, server.base);
    await axe(page, "signed in");
  });

  journey("add a dataset by URL and by upload", async () => {
    await page.getByRole("button", { name: "New chat", exact: true }).click();
    await page.waitForURL(/\/c\//, WAIT);
    await page.getByLabel("Add by URL").fill(`${files.base}/sales.csv`);
    await page.getByLabel("Table name (optional)").fill("sales");
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await page.locator(".dataset-card", { hasText: "sales" }).locator(".status.ready").waitFor(WAIT);
    await page.locator(".dropzone input[type=file]").setInputFiles({ name: "extra.csv", mimeType: "text/csv", buffer: Buffer.from("a,b\n1,2\n3,4\n") });
    await page.locator(".dataset-card", { hasText: "upload://extra.csv" }).locator(".status.ready").waitFor(WAIT);
    const sales = page.locator(".dataset-card", { hasText: "sales" });
    await sales.getByText("Schema").click();
    await sales.getByRole("button", { name: "Profile region" }).click();
    const histogram = sales.getByRole("list", { name: "Most frequent values" });
    await histogram.waitFor(WAIT);
    check((await histogram.textContent()).includes("north"), "the profile shows the most frequent values");
    await sales.getByRole("button", { name: "Profile revenue" }).click();
    const distribution = sales.getByRole("list", { name: "Distribution of values" });
    await distribution.waitFor(WAIT);
    const bins = await distribution.getByRole("listitem").allTextContents();
    // 40, 60, 80, 95 and 120 in ten bins of 8 from 40 to 120.
    check(bins.length === 10 && bins[0] === "40 to 48: 1" && bins[9] === "112 to 120: 1", `a numeric column gets a histogram (${bins.join(" | ")})`);
    await axe(page, "datasets");
  });

  journey("ask: streamed answer with SQL, table, chart and follow-ups; hostile Markdown stays text", async () => {
    await page.getByLabel("Message").fill("What is the revenue by region?");
    await page.getByLabel("Message").press("Enter");
    const answer = page.locator("article.message.assistant", { hasText: "leads with 180" });
    await answer.waitFor(WAIT);
    await answer.locator(".chart-canvas svg").first().waitFor(WAIT);
    await answer.getByRole("tab", { name: "Table" }).click();
    await answer.locator(".result-table td", { hasText: "north" }).first().waitFor(WAIT);
    await answer.getByRole("tab", { name: "SQL" }).click();
    check((await answer.locator("pre.sql").first().textContent()).includes("GROUP BY region"), "the SQL is shown");
    await page.getByRole("button", { name: "Which product sells best?" }).waitFor(WAIT);
    check((await answer.locator(".markdown img").count()) === 0, "no HTML from the model is rendered");
    check((await answer.locator(".markdown").textContent()).includes("<img src=x onerror=alert(1)>"), "raw HTML shows as text");
    await page.waitForFunction(() => document.querySelector(".chat-header h1")?.textContent !== "New chat", null, WAIT);
    await axe(page, "answer");
  });

  journey("reload keeps everything", async () => {
    await page.reload();
    const answer = page.locator("article.message.assistant", { hasText: "leads with 180" });
    await answer.waitFor(WAIT);
    await answer.locator(".chart-canvas svg").first().waitFor(WAIT);
    await page.locator(".dataset-card", { hasText: "sales" }).waitFor(WAIT);
  });

  journey("search jumps to the message", async () => {
    await page.keyboard.press("Control+k");
    await page.keyboard.type("leads with");
    const hit = page.getByRole("list", { name: "Search results" }).getByRole("link").first();
    await hit.waitFor(WAIT);
    await hit.click();
    await page.waitForURL(/\?m=/, WAIT);
    await page.locator("article.highlighted").waitFor(WAIT);
  });

  journey("SQL panel: run with Ctrl+Enter, then save", async () => {
    await page.getByRole("button", { name: "SQL", exact: true }).click();
    const editor = page.locator(".cm-content");
    await editor.waitFor(WAIT);
    await editor.click();
    await page.keyboard.type("SELECT product, SUM(revenue) AS total FROM sales GROUP BY product ORDER BY total DESC");
    await page.keyboard.press("Control+Enter");
    await page.locator(".sql-panel .result-table td", { hasText: "apples" }).waitFor(WAIT);
    check((await page.locator(".sql-panel .result-table tbody tr").count()) === 2, "two products");
    // Pages of 100, and the export carries the whole kept result.
    await page.locator(".cm-content").click();
    await page.keyboard.press("Control+a");
    await page.keyboard.type("SELECT a.revenue AS r1, b.revenue AS r2, c.revenue AS r3, d.revenue AS r4 FROM sales a, sales b, sales c, sales d");
    await page.keyboard.press("Control+Enter");
    await page.getByText("Page 1 of 7").waitFor(WAIT);
    await page.locator(".sql-panel").getByRole("button", { name: "Next" }).click();
    await page.getByText("Page 2 of 7").waitFor(WAIT);
    check((await page.locator(".sql-panel .result-table tbody tr").first().locator("td.rownum").textContent()) === "101", "page 2 starts at row 101");
    const [download] = await Promise.all([page.waitForEvent("download", WAIT), page.getByRole("button", { name: "Export CSV" }).last().click()]);
    const csv = readFileSync(await download.path(), "utf8");
    check(download.suggestedFilename().endsWith(".csv"), "a CSV file");
    check(csv.trim().split("\r\n").length === 626, `the export holds every row (${csv.trim().split("\r\n").length} lines)`);
    const answers = ["Top products", "reports"];
    const answer = (d) => d.accept(answers.shift());
    page.on("dialog", answer);
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("Saved as “Top products”.").waitFor(WAIT);
    page.off("dialog", answer);
    await axe(page, "sql panel");
  });

  journey("share, then open the public page in a fresh browser", async () => {
    await page.getByRole("button", { name: "Share", exact: true }).click();
    shareLink = await page.getByLabel("Share link").inputValue();
    check(shareLink.includes("/share/"), "a share link");
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached", ...WAIT });
    const stranger = await browser.newContext();
    const publicPage = await stranger.newPage();
    watch(publicPage, "public");
    await publicPage.goto(shareLink);
    await publicPage.getByText("leads with 180").waitFor(WAIT);
    await publicPage.locator(".chart-canvas svg").first().waitFor(WAIT);
    await axe(publicPage, "public page");
    await publicPage.screenshot({ path: join(results, "public-page.png"), fullPage: true });
    await stranger.close();
  });

  journey("stop keeps the partial answer", async () => {
    await page.getByLabel("Message").fill("answer slowly please");
    await page.getByLabel("Message").press("Enter");
    await page.locator("article.live", { hasText: "word3" }).waitFor(WAIT);
    await page.getByRole("button", { name: "Stop", exact: true }).click();
    await page.locator("article.message.assistant", { hasText: "Stopped." }).waitFor(WAIT);
  });

  journey("the WebSocket drops and recovers", async () => {
    let reopened = false;
    page.once("websocket", () => {
      reopened = true;
    });
    await page.evaluate(() => globalThis.__tabletalk.drop());
    await page.waitForFunction(() => !document.querySelector(".banner"), null, WAIT);
    for (let i = 0; i < 50 && !reopened; i++) await page.waitForTimeout(100);
    check(reopened, "a new WebSocket was opened after the drop");
    await page.getByLabel("Message").fill("hello again");
    await page.getByLabel("Message").press("Enter");
    await page.locator("article.message.assistant", { hasText: "You said: hello again" }).waitFor(WAIT);
  });

  journey("settings: the model switch reaches the next model request", async () => {
    await page.getByRole("button", { name: "Settings", exact: true }).click();
    await page.getByLabel("Model").selectOption("fake-b");
    await page.waitForFunction(() => document.querySelector("#model")?.value === "fake-b", null, WAIT);
    await axe(page, "settings");
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached", ...WAIT });
    const before = llm.requests.length;
    await page.getByLabel("Message").fill("which model");
    await page.getByLabel("Message").press("Enter");
    await page.locator("article.message.assistant", { hasText: "You said: which model" }).waitFor(WAIT);
    check(llm.requests.slice(before).every((r) => r.model === "fake-b"), "the next turn calls the chosen model");
  });

  journey("redo and fork", async () => {
    const last = page.locator("article.message.assistant").last();
    await last.getByRole("button", { name: "Redo" }).click();
    await page.locator("article.live").waitFor({ state: "detached", ...WAIT });
    await page.locator("article.message.assistant:not(.live)", { hasText: "You said: which model" }).last().waitFor(WAIT);
    const url = page.url();
    await page.locator("article.message.user").first().getByRole("button", { name: "Fork from here" }).click();
    await page.waitForURL((u) => u.toString() !== url && u.pathname.startsWith("/c/"), WAIT);
    await page.locator("article.message.user", { hasText: "What is the revenue by region?" }).waitFor(WAIT);
  });

  journey("an assistant: create, start a chat with its datasets and instructions", async () => {
    await page.getByRole("button", { name: "Assistants", exact: true }).click();
    await page.getByRole("button", { name: "New assistant" }).click();
    await page.getByLabel("Name", { exact: true }).fill("Sales analyst");
    await page.getByLabel("Instructions (added to every answer's prompt)").fill("The fiscal year starts in April.");
    await page.getByLabel("Datasets (one per line: URL, or table name and URL)").fill(`sales ${files.base}/sales.csv`);
    await axe(page, "assistant editor");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    const card = page.locator(".assistant-list li", { hasText: "Sales analyst" });
    await card.waitFor(WAIT);
    await card.getByRole("button", { name: "Start a chat" }).click();
    await page.getByRole("dialog").waitFor({ state: "detached", ...WAIT });
    await page.locator(".dataset-card", { hasText: "sales" }).locator(".status.ready").waitFor(WAIT);
    const before = llm.requests.length;
    await page.getByLabel("Message").fill("hi assistant");
    await page.getByLabel("Message").press("Enter");
    await page.locator("article.message.assistant", { hasText: "You said: hi assistant" }).waitFor(WAIT);
    const system = llm.requests[before]?.messages?.[0]?.content ?? "";
    check(system.includes("The fiscal year starts in April."), "the assistant's instructions reach the model");
  });

  journey("archive and unarchive", async () => {
    const title = await page.locator(".conversation-list li.active a").textContent();
    await page.locator(".conversation-list li.active").getByRole("button", { name: /^Archive / }).click();
    await page.locator(".conversation-list li", { hasText: title }).waitFor({ state: "detached", ...WAIT });
    await page.getByRole("button", { name: "Archived", exact: true }).click();
    const row = page.locator(".conversation-list li", { hasText: title });
    await row.waitFor(WAIT);
    await row.getByRole("button", { name: /^Unarchive / }).click();
    await row.waitFor({ state: "detached", ...WAIT });
    await page.getByRole("button", { name: "Active chats" }).click();
    await page.locator(".conversation-list li", { hasText: title }).waitFor(WAIT);
  });

  journey("OIDC sign-in: the referral key asked for in words, then signed in", async () => {
    const clientId = "tabletalk-journeys";
    const clientSecret = "journeys-secret";
    const provider = await fakeOidc({ clientId, clientSecret, account: { sub: "ann-1", email: "ann@example.com", name: "Ann" } });
    const oidcServer = await startServer(llm, {
      TABLETALK__AUTH__OIDC__ISSUER: provider.issuer,
      TABLETALK__SERVER__HOST: "127.0.0.1",
      GOOGLE_CLIENT_ID: clientId,
      GOOGLE_CLIENT_SECRET: clientSecret,
    });
    const visitor = await browser.newContext();
    const oidcPage = await visitor.newPage();
    watch(oidcPage, "oidc");
    try {
      await oidcPage.goto(oidcServer.base + "/");
      await oidcPage.getByRole("button", { name: "Sign in with Google" }).click();
      await oidcPage.waitForURL(/\/sign-in\?error=referral_key_required/, WAIT);
      await oidcPage.getByText("This server needs an access key for new accounts").waitFor(WAIT);
      await axe(oidcPage, "oidc sign-in");
      const key = (await oidcServer.cli("referral", "create", "--count", "1")).trim().split("\n")[0];
      check(key.length >= 8, "a referral key from the command line");
      await oidcPage.getByLabel("Access key (for new accounts)").fill(key);
      await oidcPage.getByRole("button", { name: "Sign in with Google" }).click();
      await oidcPage.getByRole("button", { name: "New chat", exact: true }).waitFor(WAIT);
      await oidcPage.getByText("ann@example.com").waitFor(WAIT);
    } finally {
      await visitor.close();
      oidcServer.stop();
      provider.close();
    }
  });

  journey("a long conversation renders only the messages near the viewport; the wheel reaches the first, a search hit jumps", async () => {
    const messages = Array.from({ length: 260 }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: `Long message number ${i} marker${i}x` }));
    const { id } = await page.evaluate(
      async (body) => (await fetch("/conversations/import", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })).json(),
      { title: "Long one", messages },
    );
    await page.goto(`${server.base}/c/${id}`);
    await page.getByText("marker259x").waitFor(WAIT);
    const rendered = () => page.locator("article.message").count();
    const atOpen = await rendered();
    check(atOpen > 0 && atOpen < 100, `only rows near the viewport are rendered (${atOpen} of 260)`);
    const log = page.getByRole("region", { name: "Chat history" });
    const box = await log.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let i = 0; i < 200 && (await page.getByText("marker0x").count()) === 0; i++) {
      await page.mouse.wheel(0, -1500);
      await page.waitForTimeout(20);
    }
    await page.getByText("marker0x").waitFor(WAIT);
    check(!(await page.getByText("marker259x").isVisible()), "the newest message is no longer on the page at the top");
    check((await rendered()) < 100, `still only the rows near the viewport (${await rendered()})`);
    // Back down to the end, where the list follows new messages again.
    await log.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.getByText("marker259x").waitFor(WAIT);
    await page.goto(server.base + "/");
    await page.getByRole("button", { name: "New chat", exact: true }).waitFor(WAIT);
    // The shortcut's key listener is attached after the first paint: press until the search box has the focus.
    const searchBox = page.getByRole("searchbox", { name: "Search conversations (Ctrl+K)" });
    for (let i = 0; i < 50 && !(await searchBox.evaluate((el) => el === document.activeElement)); i++) {
      await page.keyboard.press("Control+k");
      await page.waitForTimeout(20);
    }
    check(await searchBox.evaluate((el) => el === document.activeElement), "Ctrl+K focuses the search box");
    await page.keyboard.type("marker3x");
    await page.getByRole("list", { name: "Search results" }).getByRole("link").first().click();
    await page.locator("article.highlighted", { hasText: "marker3x" }).waitFor(WAIT);
  });

  journey("usable at 390 px", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const small = await phone.newPage();
    watch(small, "phone");
    await signIn(small, server.base);
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    check(overflow <= 1, `no horizontal scrolling at 390 px (overflow ${overflow})`);
    await small.screenshot({ path: join(results, "phone.png"), fullPage: true });
    await phone.close();
  });

  let failed = 0;
  process.on("exit", () => server.stop());
  for (const { name, run } of journeys) {
    const started = Date.now();
    try {
      await run();
      console.log(`ok   ${name} (${Date.now() - started} ms)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e instanceof Error ? e.message : e}`);
    }
    await page.screenshot({ path: join(results, `${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}.png`) }).catch(() => {});
  }
  await browser.close();
  server.stop();
  llm.close();
  files.close();
  for (const p of problems) console.log(`FAIL ${p}`);
  if (failed > 0 || problems.length > 0) {
    console.log(`${failed} journeys failed, ${problems.length} problems`);
    process.exit(1);
  }
  console.log(`${journeys.length} journeys passed`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
