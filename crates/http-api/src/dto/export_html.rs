//! The HTML export: one self-contained page — inline styles (light, dark and print), no scripts, no external
//! resources — in which everything that came from a person, a model or a dataset is escaped text.

use std::fmt::Write;

use tabletalk_domain::ConversationDetail;
use tabletalk_ports::{MessageRole, Timestamp};

const STYLE: &str = "\
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--card:#f6f8fa;--line:#d1d9e0;--you:#ddf4ff}\
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--card:#151b23;--line:#3d444d;--you:#0c2d6b}}\
*{box-sizing:border-box}\
body{margin:0 auto;max-width:52rem;padding:2rem 1rem;background:var(--bg);color:var(--fg);\
font:16px/1.55 system-ui,-apple-system,'Segoe UI',sans-serif}\
h1{font-size:1.6rem;margin:0 0 1.5rem}h2{font-size:1.1rem;margin:2rem 0 .75rem}\
.datasets{list-style:none;padding:0;margin:0}.datasets li{padding:.5rem .75rem;border:1px solid var(--line);\
border-radius:6px;margin-bottom:.5rem;background:var(--card)}.meta,.url{color:var(--muted);font-size:.85rem}\
.url{word-break:break-all}\
.message{border:1px solid var(--line);border-radius:8px;padding:.75rem 1rem;margin:0 0 1rem;background:var(--card)}\
.message.you{background:var(--you)}.who{font-weight:600}.when{color:var(--muted);font-size:.8rem;margin-left:.5rem}\
.content{margin-top:.4rem;overflow-wrap:anywhere}\
pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:.6rem .75rem;overflow-x:auto;\
font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap}\
footer{margin-top:2.5rem;color:var(--muted);font-size:.8rem;text-align:center}\
@media print{body{max-width:none;padding:0;font-size:11pt}.message,.datasets li{break-inside:avoid;\
background:none}pre{white-space:pre-wrap}}";

/// Text made safe for element content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escaped text with its line breaks kept as `<br>`.
fn escape_lines(text: &str) -> String {
    escape(text).replace("\r\n", "\n").replace('\n', "<br>\n")
}

/// The whole page. Writing into a `String` cannot fail, so `write!` results are ignored.
pub(crate) fn export_html(detail: &ConversationDetail, now: Timestamp) -> String {
    let c = &detail.conversation;
    let title = if c.title.is_empty() {
        "Untitled conversation"
    } else {
        &c.title
    };
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n",
        title = escape(title),
    );
    if !detail.datasets.is_empty() {
        page.push_str("<h2>Datasets</h2>\n<ul class=\"datasets\">\n");
        for d in &detail.datasets {
            let _ = writeln!(
                page,
                "<li><strong>{}</strong> <span class=\"meta\">{} rows, {} columns</span><div class=\"url\">{}</div></li>",
                escape(&d.name),
                d.row_count,
                d.column_count,
                escape(&d.url),
            );
        }
        page.push_str("</ul>\n");
    }
    page.push_str("<h2>Conversation</h2>\n");
    for m in &detail.messages {
        let (class, who) = match m.role {
            MessageRole::User => ("message you", "You"),
            MessageRole::Assistant => ("message", "Assistant"),
        };
        let _ = write!(
            page,
            "<section class=\"{class}\"><div><span class=\"who\">{who}</span><time class=\"when\" datetime=\"{at}\">{at}</time></div>\n\
             <div class=\"content\">{content}</div>\n",
            at = m.created_at,
            content = escape_lines(&m.content),
        );
        for execution in &m.sql_executions {
            let _ = writeln!(page, "<pre><code>{}</code></pre>", escape(&execution.query));
        }
        page.push_str("</section>\n");
    }
    let _ = write!(
        page,
        "<footer>Exported from Tabletalk · {now}</footer>\n</body>\n</html>\n"
    );
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped_and_lines_kept() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape_lines("a<b\nc"), "a&lt;b<br>\nc");
    }
}
