// SQL shown with its keywords, strings, numbers and comments marked: a small tokenizer whose pieces become text
// nodes in spans (nothing is parsed as HTML).

const KEYWORDS = new Set(
  ("select from where group by order having limit offset join left right full inner outer cross on as and or not in is null " +
    "like ilike between case when then else end distinct union all intersect except with over partition rows range asc desc " +
    "count sum avg min max cast exists true false interval date timestamp extract filter nulls first last using")
    .split(" "),
);

type Piece = { kind: "keyword" | "string" | "number" | "comment" | "plain"; text: string };

export function tokenize(sql: string): Piece[] {
  const pieces: Piece[] = [];
  const pattern = /(--[^\n]*)|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)|(\s+|.)/gs;
  for (const match of sql.matchAll(pattern)) {
    const [text, comment, string, quoted, number, word] = match;
    if (comment) pieces.push({ kind: "comment", text });
    else if (string) pieces.push({ kind: "string", text });
    else if (quoted) pieces.push({ kind: "plain", text });
    else if (number) pieces.push({ kind: "number", text });
    else if (word && KEYWORDS.has(word.toLowerCase())) pieces.push({ kind: "keyword", text });
    else pieces.push({ kind: "plain", text });
  }
  return pieces;
}

export function Sql({ sql }: { sql: string }) {
  return (
    <pre class="code-block sql">
      <code>
        {tokenize(sql).map((p, i) => (p.kind === "plain" ? p.text : <span key={i} class={`sql-${p.kind}`}>{p.text}</span>))}
      </code>
    </pre>
  );
}
