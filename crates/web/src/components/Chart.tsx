// A chart drawn by Vega-Lite, loaded on first use. Expressions go through vega-interpreter, so the page's
// Content-Security-Policy needs no `unsafe-eval`.

import { useEffect, useRef, useState } from "preact/hooks";

import { toVegaLite } from "../charts";
import type { Cell } from "../types";

export function Chart({ spec, columns, rows }: { spec: Record<string, unknown>; columns: string[]; rows: Cell[][] }) {
  const ref = useRef<HTMLDivElement>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    let finalize: (() => void) | undefined;
    let cancelled = false;
    (async () => {
      try {
        const [{ default: embed }, { expressionInterpreter }] = await Promise.all([import("vega-embed"), import("vega-interpreter")]);
        if (cancelled || !ref.current) return;
        const dark = document.documentElement.dataset.theme === "dark";
        const result = await embed(ref.current, toVegaLite(spec, columns, rows) as never, {
          actions: false,
          ast: true,
          expr: expressionInterpreter,
          renderer: "svg",
          ...(dark ? { theme: "dark" as const } : {}),
        });
        finalize = () => result.finalize();
      } catch (e) {
        setProblem(e instanceof Error ? e.message : "The chart could not be drawn.");
      }
    })();
    return () => {
      cancelled = true;
      finalize?.();
    };
  }, [spec, columns, rows]);
  return (
    <figure class="chart" aria-label={typeof spec.title === "string" && spec.title ? spec.title : "Chart"}>
      {problem && <p class="error">{problem}</p>}
      <div ref={ref} class="chart-canvas" />
    </figure>
  );
}
