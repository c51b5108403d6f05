// Markdown from the model rendered as Preact elements: `marked`'s lexer gives the structure, and every piece of
// text becomes a text node. Raw HTML in the source is shown as text, links only keep http(s) and mailto targets, so
// nothing the model writes can run or load anything.

import { Lexer, type Token, type Tokens } from "marked";
import type { ComponentChildren } from "preact";
import { useMemo } from "preact/hooks";

function safeHref(href: string): string | undefined {
  try {
    const url = new URL(href, location.origin);
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function inline(tokens: Token[] | undefined, fallback: string): ComponentChildren {
  if (!tokens) return fallback;
  return tokens.map((token, i) => {
    switch (token.type) {
      case "strong":
        return <strong key={i}>{inline((token as Tokens.Strong).tokens, token.raw)}</strong>;
      case "em":
        return <em key={i}>{inline((token as Tokens.Em).tokens, token.raw)}</em>;
      case "del":
        return <del key={i}>{inline((token as Tokens.Del).tokens, token.raw)}</del>;
      case "codespan":
        return <code key={i}>{(token as Tokens.Codespan).text}</code>;
      case "br":
        return <br key={i} />;
      case "link": {
        const link = token as Tokens.Link;
        const href = safeHref(link.href);
        const text = inline(link.tokens, link.text);
        return href ? (
          <a key={i} href={href} target="_blank" rel="noopener noreferrer nofollow">
            {text}
          </a>
        ) : (
          <span key={i}>{text}</span>
        );
      }
      case "text": {
        const text = token as Tokens.Text;
        return text.tokens ? <span key={i}>{inline(text.tokens, text.text)}</span> : decode(text.text);
      }
      case "escape":
        return (token as Tokens.Escape).text;
      default:
        // html, images and anything else: their source, as text.
        return token.raw;
    }
  });
}

/** marked escapes entities in text; show the characters the model wrote. */
function decode(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" })[e] ?? _);
}

function block(token: Token, key: number): ComponentChildren {
  switch (token.type) {
    case "heading": {
      const heading = token as Tokens.Heading;
      const level = Math.min(6, Math.max(3, heading.depth + 2));
      const Tag = `h${level}` as "h3";
      return <Tag key={key}>{inline(heading.tokens, heading.text)}</Tag>;
    }
    case "paragraph":
      return <p key={key}>{inline((token as Tokens.Paragraph).tokens, token.raw)}</p>;
    case "code":
      return (
        <pre key={key} class="code-block">
          <code>{(token as Tokens.Code).text}</code>
        </pre>
      );
    case "blockquote":
      return <blockquote key={key}>{(token as Tokens.Blockquote).tokens.map(block)}</blockquote>;
    case "list": {
      const list = token as Tokens.List;
      const items = list.items.map((item, i) => <li key={i}>{item.tokens.map((t, j) => (t.type === "text" ? inline((t as Tokens.Text).tokens, (t as Tokens.Text).text) : block(t, j)))}</li>);
      return list.ordered ? <ol key={key}>{items}</ol> : <ul key={key}>{items}</ul>;
    }
    case "table": {
      const table = token as Tokens.Table;
      return (
        <div key={key} class="table-scroll">
          <table class="md-table">
            <thead>
              <tr>{table.header.map((cell, i) => <th key={i}>{inline(cell.tokens, cell.text)}</th>)}</tr>
            </thead>
            <tbody>
              {table.rows.map((row, r) => (
                <tr key={r}>{row.map((cell, i) => <td key={i}>{inline(cell.tokens, cell.text)}</td>)}</tr>
              ))}
            </tbody>
          </table>
        </div>
      );
    }
    case "hr":
      return <hr key={key} />;
    case "space":
      return null;
    case "text": {
      const text = token as Tokens.Text;
      return <p key={key}>{inline(text.tokens, text.text)}</p>;
    }
    default:
      return <p key={key}>{token.raw}</p>;
  }
}

/** The elements for `source`; when the lexer gives up, the source as one paragraph of text. */
function render(source: string): ComponentChildren {
  try {
    return <div class="markdown">{new Lexer({ gfm: true }).lex(source).map(block)}</div>;
  } catch {
    return <p>{source}</p>;
  }
}

/** Lexed again only when the text changes: a message re-renders on every streamed token of another one. */
export function Markdown({ source }: { source: string }) {
  return useMemo(() => render(source), [source]);
}
