// The arithmetic of a virtualised list whose rows have different heights: where each row starts (measured heights
// where known, an estimate elsewhere), which rows a viewport needs, and the row a reader is looking at (the anchor),
// so that the list can keep that row still while rows above it are measured. No DOM here: tests/virtual.test.ts.

/** Top offset of every row, and the total height as the last entry (length = rows + 1). */
export function offsetsOf(keys: readonly string[], heights: ReadonlyMap<string, number>, estimate: number): number[] {
  const offsets = new Array<number>(keys.length + 1);
  let top = 0;
  for (let i = 0; i < keys.length; i++) {
    offsets[i] = top;
    top += heights.get(keys[i] ?? "") ?? estimate;
  }
  offsets[keys.length] = top;
  return offsets;
}

/** The height to assume for a row not measured yet: the mean of those measured, or `fallback`. */
export function estimateOf(heights: ReadonlyMap<string, number>, fallback: number): number {
  if (heights.size === 0) return fallback;
  let sum = 0;
  for (const h of heights.values()) sum += h;
  return sum / heights.size;
}

/** Index of the row covering `y` (the last row when `y` is past the end; 0 for an empty list). */
export function rowAt(offsets: readonly number[], y: number): number {
  const rows = offsets.length - 1;
  if (rows <= 0) return 0;
  let low = 0;
  let high = rows - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((offsets[mid] ?? 0) <= y) low = mid;
    else high = mid - 1;
  }
  return low;
}

/** Rows [start, end) to render for a viewport of `height` at `top`, with `overscan` pixels either side. */
export function rangeFor(offsets: readonly number[], top: number, height: number, overscan: number): [number, number] {
  const rows = offsets.length - 1;
  if (rows <= 0) return [0, 0];
  const start = rowAt(offsets, Math.max(0, top - overscan));
  const end = rowAt(offsets, top + height + overscan) + 1;
  return [start, Math.min(rows, end)];
}

/** What the reader looks at: the first row showing at `top`, and how far into it the viewport starts. */
export interface Anchor {
  key: string;
  within: number;
}

export function anchorAt(keys: readonly string[], offsets: readonly number[], top: number): Anchor | null {
  if (keys.length === 0) return null;
  const index = rowAt(offsets, top);
  return { key: keys[index] ?? "", within: top - (offsets[index] ?? 0) };
}

/** The scroll position that shows `anchor` where it was, or null when its row is gone. */
export function scrollTopFor(keys: readonly string[], offsets: readonly number[], anchor: Anchor): number | null {
  const index = keys.indexOf(anchor.key);
  if (index < 0) return null;
  return Math.max(0, (offsets[index] ?? 0) + anchor.within);
}
