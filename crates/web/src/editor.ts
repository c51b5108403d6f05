// The SQL editor (CodeMirror 6), loaded with the SQL panel: highlighting, completion from the conversation's tables
// and columns, Ctrl+Enter runs.

import { autocompletion } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { sql, StandardSQL } from "@codemirror/lang-sql";
import { EditorState } from "@codemirror/state";
import { EditorView, keymap, placeholder } from "@codemirror/view";

export interface SqlEditor {
  text(): string;
  set(text: string): void;
  destroy(): void;
}

export function createEditor(
  parent: HTMLElement,
  initial: string,
  tables: Record<string, string[]>,
  run: () => void,
): SqlEditor {
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: initial,
      extensions: [
        history(),
        keymap.of([{ key: "Mod-Enter", run: () => (run(), true) }, ...defaultKeymap, ...historyKeymap]),
        sql({ dialect: StandardSQL, schema: tables, upperCaseKeywords: true }),
        autocompletion(),
        placeholder("SELECT * FROM table1 LIMIT 100"),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ "aria-label": "SQL editor" }),
      ],
    }),
  });
  return {
    text: () => view.state.doc.toString(),
    set: (text) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
    destroy: () => view.destroy(),
  };
}
