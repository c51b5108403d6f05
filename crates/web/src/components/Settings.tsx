// Settings: the model, developer mode, the theme, what the account may use, and the day's token budget.

import { useEffect, useState } from "preact/hooks";

import { ApiError, get, put } from "../api";
import { untilReset } from "../chat";
import { applyTheme, storedTheme, type Theme } from "../theme";
import type { Capabilities, Settings as SettingsShape, Usage } from "../types";
import { Dialog } from "./Dialog";

export function Settings({ usage, onClose }: { usage: Usage | null; onClose: () => void }) {
  const [settings, setSettings] = useState<SettingsShape | null>(null);
  const [capabilities, setCapabilities] = useState<Capabilities | null>(null);
  const [theme, setTheme] = useState<Theme>(storedTheme());
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    get<SettingsShape>("/settings").then(setSettings).catch(() => setProblem("Could not load the settings."));
    get<Capabilities>("/capabilities").then(setCapabilities).catch(() => {});
  }, []);

  const change = async (body: Partial<SettingsShape>) => {
    setProblem(null);
    try {
      setSettings(await put<SettingsShape>("/settings", body));
    } catch (e) {
      setProblem(e instanceof ApiError ? e.message : "Could not save.");
    }
  };

  return (
    <Dialog title="Settings" onClose={onClose}>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {settings && (
        <div class="form-grid">
          <label for="model">Model</label>
          <select id="model" value={settings.selected_model} onChange={(e) => change({ selected_model: e.currentTarget.value })}>
            {settings.available_models.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
          <label for="dev-mode">Developer mode (prompt preview)</label>
          <input id="dev-mode" type="checkbox" checked={settings.dev_mode} onChange={(e) => change({ dev_mode: e.currentTarget.checked })} />
        </div>
      )}
      <div class="form-grid">
        <label for="theme">Theme</label>
        <select
          id="theme"
          value={theme}
          onChange={(e) => {
            const next = e.currentTarget.value as Theme;
            setTheme(next);
            applyTheme(next);
          }}
        >
          <option value="system">System</option>
          <option value="light">Light</option>
          <option value="dark">Dark</option>
        </select>
      </div>
      {usage && (
        <p>
          {usage.tokens_used.toLocaleString()} of {usage.token_limit.toLocaleString()} tokens used in the last 24 hours; the oldest use
          expires in {untilReset(usage.resets_in_seconds)}.
        </p>
      )}
      {capabilities && (
        <p class="muted">
          Tools: {capabilities.tools.join(", ") || "none"} · at most {capabilities.limits.max_datasets_per_conversation} datasets per chat ·
          uploads up to {Math.round(capabilities.limits.max_upload_bytes / 1048576)} MiB · queries up to {capabilities.limits.query_timeout_s} s
        </p>
      )}
    </Dialog>
  );
}
