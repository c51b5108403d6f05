// What the journeys and the client benchmark share: the real `tabletalk` binary started on a free port with the fake
// model, and signing in through the page.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const binary = resolve(process.env.TABLETALK_BIN ?? join(here, "../../../target/debug/tabletalk"));
export const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const ACCESS_KEY = "journey-access-key-0001";
export const WAIT = { timeout: 15_000 };

function freePort() {
  return new Promise((res) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => res(port));
    });
  });
}

/** The binary on a free port: local mode with a known access key, or OIDC mode with `env` naming the issuer. */
export async function startServer(llm, env = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "tabletalk-journeys-"));
  const base = `http://127.0.0.1:${port}`;
  const childEnv = {
      ...process.env,
      TABLETALK__SERVER__PORT: String(port),
      TABLETALK__SERVER__PUBLIC_URL: base,
      TABLETALK__SERVER__FRONTEND_URL: base,
      TABLETALK__STORAGE__DATA_DIR: join(dataDir, "data"),
      TABLETALK__AUTH__LOCAL_ACCESS_KEY: ACCESS_KEY,
      TABLETALK__LLM__PROVIDER: "openai",
      TABLETALK__LLM__BASE_URL: `${llm.base}/v1`,
      TABLETALK__LLM__MODEL: "fake-a",
      TABLETALK__LLM__MODELS: "fake-a,fake-b",
      TABLETALK__DATASETS__ALLOWED_CIDRS: "127.0.0.1/32",
      RUST_LOG: "warn",
      ...env,
  };
  const child = spawn(binary, [], { cwd: dataDir, env: childEnv, stdio: ["ignore", "inherit", "inherit"] });
  const cli = (...args) =>
    new Promise((done, fail) => {
      const run = spawn(binary, args, { cwd: dataDir, env: childEnv, stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      run.stdout.on("data", (c) => (out += c));
      run.on("exit", (code) => (code === 0 ? done(out) : fail(new Error(`tabletalk ${args.join(" ")} exited ${code}`))));
    });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) {
        return {
          base,
          cli,
          stop: () => {
            child.kill("SIGTERM");
            rmSync(dataDir, { recursive: true, force: true });
          },
        };
      }
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill("SIGKILL");
  throw new Error("tabletalk did not start");
}


export async function signIn(page, base) {
  await page.goto(base + "/");
  await page.getByLabel("Access key").fill(ACCESS_KEY);
  await page.getByLabel("Access key").press("Enter");
  await page.getByRole("button", { name: "New chat", exact: true }).waitFor(WAIT);
}

