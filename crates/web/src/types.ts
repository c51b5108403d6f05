// Wire shapes of the Tabletalk API (docs/api.md). Only what the client reads is typed.

export type Cell = string | number | boolean | null;

export interface User {
  user_id: string;
  email: string;
  name: string;
  avatar_url: string | null;
  auth_mode: "oidc" | "local";
}

export interface ConversationSummary {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
  dataset_count: number;
  message_count: number;
  last_message_preview: string | null;
  is_pinned: boolean;
  is_archived: boolean;
  assistant_id?: string | null;
}

export interface SqlExecution {
  query: string;
  columns: string[] | null;
  rows: Cell[][] | null;
  total_rows: number | null;
  error: string | null;
  execution_time_ms: number | null;
  limit_applied?: boolean;
}

export type TraceStep =
  | { type: "text" | "reasoning"; content: string }
  | { type: "tool_call"; tool: string; args: Record<string, unknown>; result: string };

export interface Message {
  id: string;
  role: "user" | "assistant";
  content: string;
  status?: "complete" | "stopped" | "error";
  error_message?: string | null;
  sql_query: string | null;
  reasoning: string | null;
  tool_call_trace: TraceStep[] | null;
  input_tokens?: number | null;
  output_tokens?: number | null;
  token_count?: number | null;
  created_at: string;
}

export interface Column {
  name: string;
  type: string;
  nullable: boolean;
  sample_values: string[];
}

export interface Dataset {
  id: string;
  conversation_id: string;
  name: string;
  url: string;
  source?: "url" | "upload";
  format?: string;
  status: "loading" | "ready" | "error";
  error_message: string | null;
  row_count: number;
  column_count: number;
  schema_json: string;
  column_descriptions: string;
  file_size_bytes?: number | null;
}

export interface ConversationDetail {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
  is_pinned: boolean;
  is_archived: boolean;
  assistant_id?: string | null;
  share_token: string | null;
  shared_at: string | null;
  messages: Message[];
  datasets: Dataset[];
}

export interface Usage {
  tokens_used: number;
  token_limit: number;
  remaining: number;
  resets_in_seconds: number;
  usage_percent: number;
}

export interface Settings {
  dev_mode: boolean;
  selected_model: string;
  available_models: string[];
}

export interface Capabilities {
  tools: string[];
  models: string[];
  default_model: string;
  limits: {
    token_limit: number;
    max_datasets_per_conversation: number;
    max_upload_bytes: number;
    query_timeout_s: number;
  };
}

export interface Assistant {
  id: string;
  name: string;
  description: string;
  instructions: string;
  model: string | null;
  temperature: number | null;
  tools: string[] | null;
  datasets: { url: string; name: string | null; column_descriptions: Record<string, string> }[];
  is_owner: boolean;
  is_shared: boolean;
}

export interface QueryResult {
  columns: string[];
  rows: Cell[][];
  total_rows: number;
  execution_time_ms: number;
  page?: number;
  page_size?: number;
  total_pages?: number;
  limit_applied?: boolean;
}

export interface SearchResult {
  conversation_id: string;
  conversation_title: string;
  message_id: string;
  snippet: string;
  matched?: string;
}

export interface SavedQuery {
  id: string;
  name: string;
  query: string;
  folder: string;
  is_pinned: boolean;
  share_token: string | null;
  created_at: string;
}

export interface HistoryEntry {
  id: string;
  query: string;
  status: string;
  is_starred?: boolean;
  created_at?: string;
  executed_at?: string;
}

/** Every WebSocket event: `{type, conversation_id, …}` (docs/api.md, "WebSocket"). */
export type ServerEvent =
  | { type: "chat_token"; conversation_id: string; message_id: string; token: string }
  | { type: "reasoning_token"; conversation_id: string; message_id: string; token: string }
  | { type: "reasoning_complete"; conversation_id: string; message_id: string }
  | { type: "tool_call_start"; conversation_id: string; message_id: string; tool: string; args: Record<string, unknown> }
  | { type: "query_progress"; conversation_id: string; message_id: string; query_number: number }
  | { type: "chart_spec"; conversation_id: string; message_id: string; execution_index: number; spec: Record<string, unknown> }
  | { type: "followup_suggestions"; conversation_id: string; message_id: string; suggestions: string[] }
  | {
      type: "chat_complete";
      conversation_id: string;
      message_id: string;
      content: string;
      status?: "complete" | "stopped";
      sql_query: string | null;
      sql_executions?: SqlExecution[];
      reasoning: string | null;
      tool_call_trace: TraceStep[] | null;
      input_tokens?: number;
      output_tokens?: number;
      token_count?: number;
    }
  | { type: "chat_error"; conversation_id: string; message_id: string; error: string; code?: string }
  | { type: "conversation_title_updated"; conversation_id: string; title: string }
  | { type: "usage_update"; conversation_id?: string; tokens_used: number; token_limit: number; remaining: number; usage_percent: number }
  | { type: "rate_limit_warning"; conversation_id?: string; usage_percent: number; remaining_tokens: number; daily_limit_reached: boolean }
  | { type: "rate_limit_exceeded"; conversation_id?: string; resets_in_seconds: number }
  | { type: "dataset_progress"; conversation_id: string; url: string; bytes_loaded: number; total_bytes: number | null }
  | { type: "dataset_loaded"; conversation_id: string; dataset: Dataset }
  | { type: "dataset_error"; conversation_id: string; dataset_id: string; error: string; code?: string }
  | { type: "dataset_profiled"; conversation_id: string; dataset_id: string; profiles: unknown };
