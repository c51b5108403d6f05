import { describe, expect, it } from "vitest";

import { anchorAt, estimateOf, offsetsOf, rangeFor, rowAt, scrollTopFor } from "../src/virtual";

const keys = ["a", "b", "c", "d", "e"];

describe("virtual list arithmetic", () => {
  it("places measured rows at their height and the others at the estimate", () => {
    const heights = new Map([
      ["a", 50],
      ["c", 200],
    ]);
    expect(offsetsOf(keys, heights, 100)).toEqual([0, 50, 150, 350, 450, 550]);
    expect(estimateOf(heights, 80)).toBe(125);
    expect(estimateOf(new Map(), 80)).toBe(80);
  });

  it("finds the row under a position, clamped to the list", () => {
    const offsets = [0, 50, 150, 350, 450, 550];
    expect(rowAt(offsets, 0)).toBe(0);
    expect(rowAt(offsets, 49.5)).toBe(0);
    expect(rowAt(offsets, 50)).toBe(1);
    expect(rowAt(offsets, 349)).toBe(2);
    expect(rowAt(offsets, 10_000)).toBe(4);
    expect(rowAt([0], 10)).toBe(0);
  });

  it("renders only the rows a viewport and its overscan touch", () => {
    const offsets = [0, 50, 150, 350, 450, 550];
    expect(rangeFor(offsets, 160, 100, 0)).toEqual([2, 3]);
    expect(rangeFor(offsets, 160, 100, 60)).toEqual([1, 3]);
    expect(rangeFor(offsets, 160, 100, 100)).toEqual([1, 4]);
    expect(rangeFor(offsets, 0, 10_000, 0)).toEqual([0, 5]);
    expect(rangeFor([0], 0, 500, 100)).toEqual([0, 0]);
  });

  it("keeps the row being read still when rows above it are measured", () => {
    const before = offsetsOf(keys, new Map(), 100);
    const anchor = anchorAt(keys, before, 330);
    expect(anchor).toEqual({ key: "d", within: 30 });
    // "a" and "b" turn out taller: the viewport moves down by as much, so "d" shows where it was.
    const after = offsetsOf(keys, new Map([["a", 180], ["b", 140]]), 100);
    expect(scrollTopFor(keys, after, anchor!)).toBe(330 + 80 + 40);
    // A deleted row gives no position rather than a wrong one.
    expect(scrollTopFor(["a", "b"], after, anchor!)).toBeNull();
    expect(anchorAt([], [0], 0)).toBeNull();
  });
});
