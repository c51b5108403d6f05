import { describe, expect, it } from "vitest";

import { parseRoute, signInError } from "../src/router";

describe("client routes", () => {
  it("match the pages the server serves", () => {
    expect(parseRoute("/", "")).toEqual({ page: "home" });
    expect(parseRoute("/c/abc", "?m=m1")).toEqual({ page: "conversation", id: "abc", message: "m1" });
    expect(parseRoute("/share/tok", "")).toEqual({ page: "shared-conversation", token: "tok" });
    expect(parseRoute("/shared/result/tok", "")).toEqual({ page: "shared-result", token: "tok" });
    expect(parseRoute("/sign-in", "?error=email_not_verified")).toEqual({ page: "sign-in", error: "email_not_verified" });
    expect(parseRoute("/nowhere", "")).toEqual({ page: "home" });
  });

  it("word every sign-in error", () => {
    for (const code of ["oauth_error", "referral_key_required", "invalid_referral_key", "email_not_verified", "email_domain_not_allowed"]) {
      expect(signInError(code)).not.toBe(signInError("something_else"));
    }
  });
});
