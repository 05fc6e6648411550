//! Machine-readable rendering: one JSON object per diagnostic per line, with
//! the code, severity, message, spans (byte offsets and 1-based line/column),
//! notes and help.

use serde_json::{json, Value};

use super::{line_col, Diagnostic};

/// Renders `diagnostics` as JSON lines (each line one complete object).
pub fn render_json(diagnostics: &[Diagnostic], source_name: &str, source: &str) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let spans: Vec<Value> = diagnostic
            .labels
            .iter()
            .map(|label| {
                let start = label.span.start as usize;
                let end = label.span.end as usize;
                let (line_start, column_start) = line_col(source, start);
                let (line_end, column_end) = line_col(source, end);
                json!({
                    "file": source_name,
                    "byte_start": start,
                    "byte_end": end,
                    "line_start": line_start,
                    "column_start": column_start,
                    "line_end": line_end,
                    "column_end": column_end,
                    "label": label.message,
                    "primary": label.primary,
                })
            })
            .collect();
        let object = json!({
            "code": diagnostic.code.as_str(),
            "severity": diagnostic.severity.as_str(),
            "message": diagnostic.message,
            "spans": spans,
            "notes": diagnostic.notes,
            "help": diagnostic.help,
        });
        out.push_str(&object.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Code;
    use crate::span::Span;

    #[test]
    fn one_object_per_line_with_positions() {
        let source = "list a = []\nlist b = []\n";
        let diagnostics = [
            Diagnostic::new(Code::E0212, "empty list", Span::new(9, 11), "here"),
            Diagnostic::new(Code::E0212, "empty list", Span::new(21, 23), "here").with_help("add"),
        ];
        let text = render_json(&diagnostics, "p.pol", source);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let second: Value = serde_json::from_str(lines[1]).expect("valid JSON");
        assert_eq!(second["code"], "E0212");
        assert_eq!(second["severity"], "error");
        assert_eq!(second["help"], "add");
        assert_eq!(second["spans"][0]["byte_start"], 21);
        assert_eq!(second["spans"][0]["line_start"], 2);
        assert_eq!(second["spans"][0]["column_start"], 10);
        assert_eq!(second["spans"][0]["primary"], true);
    }
}
