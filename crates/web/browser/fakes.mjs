// In-process stand-ins for what the journeys cannot reach: an OpenAI-compatible Chat Completions server speaking the
// streamed wire format (../shared/wire/openai-compatible.md) with a scripted analyst, and a file server for datasets.

import http from "node:http";

export const SALES_CSV = "region,product,revenue\nnorth,apples,120\nsouth,apples,80\nnorth,pears,60\nsouth,pears,95\neast,apples,40\n";

function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

export async function fileServer(files) {
  const server = http.createServer((req, res) => {
    const body = files[req.url ?? ""];
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "text/csv", "Content-Length": Buffer.byteLength(body), ETag: '"v1"' });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  return { base: await listen(server), close: () => server.close() };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The scripted analyst: SQL first, then a chart and follow-ups, then a streamed answer. */
export async function fakeLlm() {
  const requests = [];
  const server = http.createServer(async (req, res) => {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw || "{}");
    requests.push(body);
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
    const send = (delta, finish = null) =>
      res.write(`data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
    const done = (usage = { prompt_tokens: 900, completion_tokens: 60 }) => {
      res.write(`data: ${JSON.stringify({ id: "c1", choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } })}\n\n`);
      res.end("data: [DONE]\n\n");
    };
    const calls = (list) => {
      list.forEach(([name, args], index) =>
        send({ tool_calls: [{ index, id: `call_${requests.length}_${index}`, type: "function", function: { name, arguments: JSON.stringify(args) } }] }),
      );
      send({}, "tool_calls");
      done();
    };
    const messages = body.messages ?? [];
    const last = messages[messages.length - 1] ?? {};
    const question = [...messages].reverse().find((m) => m.role === "user")?.content ?? "";
    const toolRounds = messages.filter((m) => m.role === "tool").length;
    if (question.includes("benchmark stream")) {
      // 100 tokens a second for six seconds, with Markdown the renderer has to keep re-parsing.
      for (let i = 0; i < 600 && !res.destroyed; i++) {
        send({ content: i % 40 === 39 ? "\n\n" : i % 7 === 0 ? `**w${i}** ` : `w${i} ` });
        await sleep(10);
      }
      send({}, "stop");
      done();
      return;
    }
    if (question.includes("slowly")) {
      for (let i = 0; i < 200 && !res.destroyed; i++) {
        send({ content: `word${i} ` });
        await sleep(50);
      }
      send({}, "stop");
      done();
      return;
    }
    if (question.includes("revenue") && last.role === "user") {
      calls([["execute_sql", { query: "SELECT region, SUM(revenue) AS revenue FROM sales GROUP BY region ORDER BY revenue DESC" }]]);
      return;
    }
    if (question.includes("revenue") && last.role === "tool" && toolRounds === 1) {
      calls([
        ["create_chart", { chart_type: "bar", title: "Revenue by region", x_column: "region", y_columns: ["revenue"] }],
        ["suggest_followups", { suggestions: ["Which product sells best?", "Show revenue by product"] }],
      ]);
      return;
    }
    const text = question.includes("revenue")
      ? "**North** leads with 180 in revenue, then south with 175.\n\n| region | revenue |\n|---|---|\n| north | 180 |\n| south | 175 |\n\n<img src=x onerror=alert(1)> stays text."
      : `You said: ${question}`;
    for (const piece of text.match(/.{1,12}/gs) ?? []) {
      send({ content: piece });
      await sleep(15);
    }
    send({}, "stop");
    done();
  });
  return { base: await listen(server), requests, close: () => server.close() };
}

/** An OpenID Connect provider speaking the real protocol (../shared/wire/google-oidc.md): discovery, JWKS,
 * `/authorize` redirecting with `code` and `state`, `/token` checking the client and the PKCE verifier and answering
 * an RS256-signed ID token, and `/userinfo`. It signs in one account. */
export async function fakeOidc({ clientId, clientSecret, account }) {
  const { createHash, generateKeyPairSync, sign, randomUUID } = await import("node:crypto");
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid: "journey-key", alg: "RS256", use: "sig" };
  const grants = new Map();
  const b64 = (data) => Buffer.from(data).toString("base64url");
  let issuer = "";
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", issuer);
    const json = (status, body) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/.well-known/openid-configuration") {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        userinfo_endpoint: `${issuer}/userinfo`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        code_challenge_methods_supported: ["S256"],
        scopes_supported: ["openid", "email", "profile"],
      });
    }
    if (url.pathname === "/jwks") return json(200, { keys: [jwk] });
    if (url.pathname === "/authorize") {
      const q = url.searchParams;
      if (q.get("client_id") !== clientId || q.get("code_challenge_method") !== "S256" || !q.get("state") || !q.get("nonce")) {
        res.writeHead(400).end("incomplete authorization request");
        return;
      }
      const code = `code-${randomUUID()}`;
      grants.set(code, { nonce: q.get("nonce"), challenge: q.get("code_challenge") });
      res.writeHead(302, { Location: `${q.get("redirect_uri")}?code=${code}&state=${encodeURIComponent(q.get("state"))}` }).end();
      return;
    }
    if (url.pathname === "/token" && req.method === "POST") {
      let raw = "";
      for await (const chunk of req) raw += chunk;
      const form = new URLSearchParams(raw);
      const basic = Buffer.from((req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString();
      const authenticated =
        basic === `${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}` ||
        basic === `${clientId}:${clientSecret}` ||
        (form.get("client_id") === clientId && form.get("client_secret") === clientSecret);
      if (!authenticated) return json(401, { error: "invalid_client" });
      const grant = grants.get(form.get("code") ?? "");
      grants.delete(form.get("code") ?? "");
      const verifier = form.get("code_verifier") ?? "";
      if (!grant || createHash("sha256").update(verifier).digest("base64url") !== grant.challenge) {
        return json(400, { error: "invalid_grant", error_description: "Bad Request" });
      }
      const now = Math.floor(Date.now() / 1000);
      const header = b64(JSON.stringify({ alg: "RS256", kid: jwk.kid, typ: "JWT" }));
      const claims = b64(
        JSON.stringify({ iss: issuer, aud: clientId, azp: clientId, sub: account.sub, email: account.email, email_verified: true, name: account.name, nonce: grant.nonce, iat: now, exp: now + 600 }),
      );
      const signature = sign("RSA-SHA256", Buffer.from(`${header}.${claims}`), privateKey).toString("base64url");
      return json(200, { access_token: `at-${randomUUID()}`, token_type: "Bearer", expires_in: 3599, scope: "openid email profile", id_token: `${header}.${claims}.${signature}` });
    }
    if (url.pathname === "/userinfo") return json(200, { sub: account.sub, email: account.email, email_verified: true, name: account.name });
    res.writeHead(404).end();
  });
  issuer = await listen(server);
  return { issuer, close: () => server.close() };
}
