// Sign-in: the local access key (Enter submits) or the OpenID Connect provider, with an optional referral key.

import { useEffect, useState } from "preact/hooks";

import { ApiError, get, post } from "../api";
import { signInError } from "../router";

interface Props {
  error: string | null;
  signedIn: boolean;
  onSignedIn: () => void;
}

export function SignIn({ error, signedIn, onSignedIn }: Props) {
  const [mode, setMode] = useState<"oidc" | "local" | null>(null);
  const [key, setKey] = useState("");
  const [referral, setReferral] = useState("");
  const [showReferral, setShowReferral] = useState(error === "referral_key_required" || error === "invalid_referral_key");
  const [problem, setProblem] = useState<string | null>(error ? signInError(error) : null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (signedIn) onSignedIn();
    get<{ auth_mode?: "oidc" | "local" }>("/health")
      .then((h) => setMode(h.auth_mode ?? "local"))
      .catch(() => setProblem("The server cannot be reached."));
  }, []);

  const local = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      await post("/auth/dev-login", { referral_key: key.trim() });
      onSignedIn();
    } catch (err) {
      setProblem(err instanceof ApiError ? err.message : "Sign-in failed.");
    } finally {
      setBusy(false);
    }
  };

  const oidc = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const body = referral.trim() ? { referral_key: referral.trim() } : {};
      const { redirect_url } = await post<{ redirect_url: string }>("/auth/google", body);
      location.assign(redirect_url);
    } catch (err) {
      setProblem(err instanceof ApiError ? err.message : "Sign-in failed.");
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <div class="sign-in-card">
        <h1>Tabletalk</h1>
        <p class="muted">Chat with your data.</p>
        {problem && (
          <p class="error" role="alert">
            {problem}
          </p>
        )}
        {mode === "local" && (
          <form onSubmit={local}>
            <label for="access-key">Access key</label>
            <input
              id="access-key"
              type="password"
              autocomplete="current-password"
              value={key}
              onInput={(e) => setKey(e.currentTarget.value)}
              placeholder="Printed by the server at start-up"
              required
              autoFocus
            />
            <button type="submit" class="primary" disabled={busy || !key.trim()}>
              {busy ? "Signing in…" : "Sign in"}
            </button>
          </form>
        )}
        {mode === "oidc" && (
          <form onSubmit={oidc}>
            {showReferral ? (
              <>
                <label for="referral-key">Access key (for new accounts)</label>
                <input id="referral-key" value={referral} onInput={(e) => setReferral(e.currentTarget.value)} maxLength={256} />
              </>
            ) : (
              <button type="button" class="link" onClick={() => setShowReferral(true)}>
                I have an access key
              </button>
            )}
            <button type="submit" class="primary" disabled={busy}>
              {busy ? "Redirecting…" : "Sign in with Google"}
            </button>
          </form>
        )}
        {mode === null && !problem && <p role="status">Loading…</p>}
      </div>
    </main>
  );
}
