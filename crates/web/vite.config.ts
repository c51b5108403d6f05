import { defineConfig } from "vite";

// Same origin as the API: in development `vite` proxies the API and the WebSocket to a running `tabletalk`.
const api = process.env.TABLETALK_URL ?? "http://127.0.0.1:8000";
const apiPaths = [
  "/auth", "/conversations", "/usage", "/settings", "/capabilities", "/saved-queries", "/query-history",
  "/export", "/assistants", "/shared", "/api", "/health", "/openapi.json", "/api-docs",
];

export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: Object.fromEntries([
      ...apiPaths.map((p) => [p, { target: api, changeOrigin: false }]),
      ["/ws", { target: api.replace(/^http/, "ws"), ws: true }],
    ]),
  },
  test: { environment: "node", include: ["tests/**/*.test.ts"] },
} as never);
