import { describe, expect, it } from "vitest";

import { tokenize } from "../src/sql";

describe("SQL marking", () => {
  it("marks keywords, strings, numbers and comments and keeps every character", () => {
    const sql = "SELECT name, 42 AS n FROM \"My Table\" WHERE note = 'it''s <b>' -- done";
    const pieces = tokenize(sql);
    expect(pieces.map((p) => p.text).join("")).toBe(sql);
    const of = (kind: string) => pieces.filter((p) => p.kind === kind).map((p) => p.text);
    expect(of("keyword")).toEqual(["SELECT", "AS", "FROM", "WHERE"]);
    expect(of("number")).toEqual(["42"]);
    expect(of("string")).toEqual(["'it''s <b>'"]);
    expect(of("comment")).toEqual(["-- done"]);
    expect(pieces.find((p) => p.text === '"My Table"')?.kind).toBe("plain");
  });
});
