// The chart a `create_chart` call asks for, as a Vega-Lite specification over the result's rows.

import type { Cell } from "./types";

export type VegaLiteSpec = Record<string, unknown>;

const AGGREGATES: Record<string, string> = { sum: "sum", avg: "mean", count: "count", min: "min", max: "max" };

function str(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

function numeric(rows: Record<string, Cell>[], column: string): boolean {
  return rows.some((r) => typeof r[column] === "number") && rows.every((r) => r[column] === null || typeof r[column] === "number");
}

/** Rows as objects keyed by column, for Vega's inline data. */
export function records(columns: string[], rows: Cell[][]): Record<string, Cell>[] {
  return rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i] ?? null])));
}

/** A Vega-Lite spec for `spec` (the `create_chart` arguments) over `columns`/`rows`. */
export function toVegaLite(spec: Record<string, unknown>, columns: string[], rows: Cell[][]): VegaLiteSpec {
  const values = records(columns, rows);
  const kind = str(spec.chart_type) ?? "bar";
  const x = str(spec.x_column) ?? columns[0] ?? "x";
  const ys = Array.isArray(spec.y_columns) ? spec.y_columns.filter((y): y is string => typeof y === "string") : [];
  const y = ys[0] ?? columns.find((c) => c !== x && numeric(values, c)) ?? columns[1] ?? x;
  const color = str(spec.color_column);
  const aggregate = AGGREGATES[str(spec.aggregation) ?? "none"];
  const xType = numeric(values, x) ? "quantitative" : "nominal";
  const base: VegaLiteSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: str(spec.title) ?? "",
    data: { values },
    width: "container",
    height: 280,
    // Axis labels count inside the size, so long category names are not cut off.
    autosize: { type: "fit", contains: "padding" },
    config: { axisX: { labelAngle: 0, labelLimit: 140, labelOverlap: true } },
  };
  // Several y columns become one series each.
  const folded = ys.length > 1 ? { transform: [{ fold: ys, as: ["series", "value"] }] } : {};
  const yField = ys.length > 1 ? "value" : y;
  const colorEncoding = ys.length > 1 ? { color: { field: "series", type: "nominal" } } : color ? { color: { field: color, type: "nominal" } } : {};
  const yEnc = { field: yField, type: "quantitative", ...(aggregate ? { aggregate } : {}) };
  switch (kind) {
    case "line":
      return { ...base, ...folded, mark: { type: "line", point: true }, encoding: { x: { field: x, type: xType === "quantitative" ? "quantitative" : "ordinal" }, y: yEnc, ...colorEncoding } };
    case "scatter":
      return { ...base, mark: "point", encoding: { x: { field: x, type: "quantitative" }, y: { field: y, type: "quantitative" }, ...colorEncoding } };
    case "histogram":
      return { ...base, mark: "bar", encoding: { x: { field: x, bin: true, type: "quantitative" }, y: { aggregate: "count", type: "quantitative" } } };
    case "pie":
      return { ...base, mark: { type: "arc", tooltip: true }, encoding: { theta: { field: y, type: "quantitative" }, color: { field: x, type: "nominal" } } };
    case "box":
      return { ...base, mark: "boxplot", encoding: { x: { field: x, type: "nominal" }, y: { field: y, type: "quantitative" } } };
    case "heatmap":
      return {
        ...base,
        mark: "rect",
        encoding: { x: { field: x, type: "nominal" }, y: { field: color ?? ys[1] ?? y, type: "nominal" }, color: { field: y, type: "quantitative", ...(aggregate ? { aggregate } : {}) } },
      };
    case "horizontal_bar":
      return { ...base, ...folded, mark: "bar", encoding: { y: { field: x, type: "nominal", sort: "-x" }, x: yEnc, ...colorEncoding } };
    case "choropleth":
      // No map data is bundled: the values per region as bars.
      return { ...base, mark: "bar", encoding: { x: { field: x, type: "nominal", sort: "-y" }, y: yEnc } };
    default: {
      const horizontal = spec.orientation === "horizontal";
      const category = { field: x, type: xType === "quantitative" ? "ordinal" : "nominal" };
      const stack = spec.bar_mode === "stack" ? {} : ys.length > 1 ? { xOffset: { field: "series" } } : {};
      return {
        ...base,
        ...folded,
        mark: "bar",
        encoding: horizontal ? { y: category, x: yEnc, ...colorEncoding } : { x: category, y: yEnc, ...colorEncoding, ...stack },
      };
    }
  }
}
