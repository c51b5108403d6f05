// A scrolling list that renders only the rows near the viewport, however long the conversation (docs/web-client.md,
// "Long conversations"). Rows have different heights: each rendered row is measured (ResizeObserver) and remembered
// by key, unmeasured rows count as the mean measured height, and spacers stand in for the rows not rendered.
//
// Position is kept by an anchor — the row at the top of the viewport and how far into it — so measuring rows above
// never moves what the reader looks at. The list follows the bottom while the reader is there (streaming answers),
// and a `focusKey` brings its row into view (a search hit). Browser scroll anchoring is off (CSS) so the two never
// both correct the same change.

import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";

import { type Anchor, anchorAt, estimateOf, offsetsOf, rangeFor, scrollTopFor } from "../virtual";

/** Pixels rendered beyond the viewport either side, so a fast wheel rarely meets a spacer. */
const OVERSCAN = 900;
/** Assumed row height before any row was measured. */
const FALLBACK_HEIGHT = 120;
/** How close to the bottom counts as "at the bottom" (rounding of fractional pixels). */
const BOTTOM_SLACK = 8;

/** A row's elements and what they were made from. */
interface Kept<T> {
  item: T;
  deps: readonly unknown[];
  children: ComponentChildren;
}

function sameDeps(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((value, i) => Object.is(value, b[i]));
}

interface Props<T> {
  items: readonly T[];
  keyOf: (item: T) => string;
  row: (item: T) => ComponentChildren;
  /** Everything besides the item that `row` reads: a row is rendered again only when its item or one of these
   * changes (`row` itself may be a new function on every render). */
  rowDeps: readonly unknown[];
  /** A row to bring into view; it stays the anchor until the reader scrolls. */
  focusKey: string | null;
  /** Changes whenever the list must go to the bottom and follow it (the reader sent a message). */
  bottomSignal: number;
  /** Rendered after the rows, always (the answer being written, status lines). */
  children?: ComponentChildren;
  class?: string;
  label: string;
}

export function VirtualList<T>({ items, keyOf, row, rowDeps, focusKey, bottomSignal, children, class: className, label }: Props<T>) {
  const box = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const [, remeasured] = useState(0);
  const [viewport, setViewport] = useState({ top: 0, height: 800 });
  const following = useRef(true);
  const anchor = useRef<Anchor | null>(null);
  const pendingFocus = useRef<string | null>(null);

  const keys = useMemo(() => items.map(keyOf), [items]);
  // Each row's elements are kept while its item and `rowDeps` are the same, so a render caused by scrolling or by
  // a streamed token hands Preact the very same elements for rows already shown, which it then skips.
  const rendered = useRef(new Map<string, Kept<T>>());
  /** Whether this render put new or changed rows in the page: only then are the rows measured (reading their
   * heights makes the browser lay the page out at once, too costly on every streamed token). */
  const rowsChanged = useRef(true);
  const offsets = offsetsOf(keys, heights.current, estimateOf(heights.current, FALLBACK_HEIGHT));
  const total = offsets[keys.length] ?? 0;
  const top = following.current ? Math.max(0, total - viewport.height) : viewport.top;
  const [start, end] = rangeFor(offsets, top, viewport.height, OVERSCAN);

  /** Reads the height of every rendered row; true when one differs from what the layout assumed. */
  const measureRows = (): boolean => {
    const el = box.current;
    if (!el) return false;
    let changed = false;
    for (const row of el.querySelectorAll<HTMLElement>(":scope > .virtual-row")) {
      const key = row.dataset.key;
      const height = row.offsetHeight;
      if (key !== undefined && height > 0 && heights.current.get(key) !== height) {
        heights.current.set(key, height);
        changed = true;
      }
    }
    return changed;
  };

  // Rows that change height later (a chart drawn, the window narrowed) are measured again on the next frame; doing
  // it inside the observer's callback would mount new rows in the same frame, which browsers report as a loop.
  const observer = useMemo(
    () =>
      typeof ResizeObserver === "undefined"
        ? null
        : new ResizeObserver(() =>
            requestAnimationFrame(() => {
              if (measureRows()) remeasured((n) => n + 1);
            }),
          ),
    [],
  );
  useEffect(() => () => observer?.disconnect(), [observer]);

  useEffect(() => {
    const el = box.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const size = new ResizeObserver(() => setViewport({ top: el.scrollTop, height: el.clientHeight }));
    size.observe(el);
    return () => size.disconnect();
  }, []);

  useEffect(() => {
    following.current = true;
    anchor.current = null;
    remeasured((n) => n + 1);
  }, [bottomSignal]);

  useEffect(() => {
    if (focusKey && keys.includes(focusKey)) {
      pendingFocus.current = focusKey;
      remeasured((n) => n + 1);
    }
  }, [focusKey, focusKey !== null && keys.includes(focusKey)]);

  // After every render, before the browser paints: measure the rows just rendered (a change renders again at once,
  // so spacers and offsets agree with the page), then put the viewport where the reader expects it.
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const changed = rowsChanged.current;
    rowsChanged.current = false;
    if (changed && measureRows()) {
      remeasured((n) => n + 1);
      return;
    }
    if (pendingFocus.current) {
      following.current = false;
      anchor.current = { key: pendingFocus.current, within: -el.clientHeight / 3 };
      pendingFocus.current = null;
    }
    let wanted: number | null = null;
    if (following.current) wanted = el.scrollHeight - el.clientHeight;
    else if (anchor.current) wanted = scrollTopFor(keys, offsets, anchor.current);
    if (wanted !== null && Math.abs(el.scrollTop - wanted) > 1) el.scrollTop = wanted;
    if (el.scrollTop !== viewport.top || el.clientHeight !== viewport.height) {
      setViewport({ top: el.scrollTop, height: el.clientHeight });
    }
  });

  const kept = new Map<string, Kept<T>>();
  const shown = items.slice(start, end).map((item, i) => {
    const key = keys[start + i] ?? "";
    const before = rendered.current.get(key);
    const entry = before && before.item === item && sameDeps(before.deps, rowDeps) ? before : { item, deps: rowDeps, children: row(item) };
    if (entry !== before) rowsChanged.current = true;
    kept.set(key, entry);
    return (
      <Row key={key} rowKey={key} observer={observer}>
        {entry.children}
      </Row>
    );
  });
  if (kept.size !== rendered.current.size) rowsChanged.current = true;
  rendered.current = kept;

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    following.current = el.scrollHeight - el.scrollTop - el.clientHeight <= BOTTOM_SLACK;
    anchor.current = following.current ? null : anchorAt(keys, offsets, el.scrollTop);
    if (el.scrollTop !== viewport.top) setViewport({ top: el.scrollTop, height: el.clientHeight });
  };

  return (
    <div class={className} ref={box} onScroll={onScroll} role="region" aria-label={label}>
      <div class="virtual-spacer" style={{ height: `${offsets[start] ?? 0}px` }} />
      {shown}
      <div class="virtual-spacer" style={{ height: `${total - (offsets[end] ?? total)}px` }} />
      {children}
    </div>
  );
}

/** One rendered row, observed for later size changes while it is on the page. */
function Row({ rowKey, observer, children }: { rowKey: string; observer: ResizeObserver | null; children: ComponentChildren }) {
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || !observer) return;
    observer.observe(el);
    return () => observer.unobserve(el);
  }, [observer]);
  return (
    <div ref={ref} class="virtual-row" data-key={rowKey}>
      {children}
    </div>
  );
}
