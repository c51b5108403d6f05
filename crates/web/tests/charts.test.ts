import { describe, expect, it } from "vitest";

import { records, toVegaLite } from "../src/charts";

const columns = ["region", "revenue", "cost"];
const rows = [
  ["north", 10, 4],
  ["south", 7, 5],
];

describe("create_chart as Vega-Lite", () => {
  it("draws every chart type the tool offers over the result's rows", () => {
    for (const chart_type of ["bar", "horizontal_bar", "line", "scatter", "histogram", "pie", "box", "heatmap", "choropleth"]) {
      const spec = toVegaLite({ chart_type, x_column: "region", y_columns: ["revenue"], title: "T" }, columns, rows);
      expect(spec.mark, chart_type).toBeTruthy();
      expect((spec.data as { values: unknown[] }).values).toHaveLength(2);
      expect(spec.title).toBe("T");
    }
  });

  it("folds several y columns into series and maps aggregations", () => {
    const spec = toVegaLite({ chart_type: "bar", x_column: "region", y_columns: ["revenue", "cost"], aggregation: "avg" }, columns, rows);
    expect(spec.transform).toEqual([{ fold: ["revenue", "cost"], as: ["series", "value"] }]);
    const encoding = spec.encoding as Record<string, Record<string, unknown>>;
    expect(encoding.y).toMatchObject({ field: "value", aggregate: "mean" });
    expect(encoding.color).toEqual({ field: "series", type: "nominal" });
  });

  it("keeps cells as they are, missing ones as null", () => {
    expect(records(["a", "b"], [[1]])).toEqual([{ a: 1, b: null }]);
  });
});
