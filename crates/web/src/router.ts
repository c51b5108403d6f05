// Client routes (the server answers every one of them with the app): `/`, `/sign-in`, `/c/{id}`, `/share/{token}`,
// `/shared/result/{token}`.

export type Route =
  | { page: "home" }
  | { page: "sign-in"; error: string | null }
  | { page: "conversation"; id: string; message: string | null }
  | { page: "shared-conversation"; token: string }
  | { page: "shared-result"; token: string };

export function parseRoute(pathname: string, search: string): Route {
  const params = new URLSearchParams(search);
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "sign-in") return { page: "sign-in", error: params.get("error") };
  if (parts[0] === "c" && parts[1]) return { page: "conversation", id: parts[1], message: params.get("m") };
  if (parts[0] === "share" && parts[1]) return { page: "shared-conversation", token: parts[1] };
  if (parts[0] === "shared" && parts[1] === "result" && parts[2]) return { page: "shared-result", token: parts[2] };
  return { page: "home" };
}

export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  dispatchEvent(new PopStateEvent("popstate"));
}

/** What a sign-in error code means, in words (the OIDC callback's `?error=`). */
export function signInError(code: string): string {
  switch (code) {
    case "oauth_error":
      return "The sign-in provider did not complete the sign-in. Try again.";
    case "referral_key_required":
      return "This server needs an access key for new accounts. Enter the key you were given, then sign in.";
    case "invalid_referral_key":
      return "That access key is not valid or was already used.";
    case "email_not_verified":
      return "Your account's email address is not verified with the provider.";
    case "email_domain_not_allowed":
      return "Accounts from your email domain are not allowed on this server.";
    default:
      return "Sign-in failed. Try again.";
  }
}
