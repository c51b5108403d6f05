// What every screen does with a person's action: forget the last problem, run it, then refresh what it changed;
// a failure is shown in the server's own words (a 422 reads `field: message`).

import { useState } from "preact/hooks";

import { ApiError } from "./api";

export function problemText(error: unknown, fallback = "That did not work."): string {
  return error instanceof ApiError ? error.message : fallback;
}

/** `act(work)` resolves `true` when `work` and then `after` succeeded, else shows the problem and resolves `false`. */
export function useAction(after?: () => unknown) {
  const [problem, setProblem] = useState<string | null>(null);
  const act = async (work: () => Promise<unknown>): Promise<boolean> => {
    setProblem(null);
    try {
      await work();
      await after?.();
      return true;
    } catch (e) {
      setProblem(problemText(e));
      return false;
    }
  };
  return { problem, setProblem, act };
}
