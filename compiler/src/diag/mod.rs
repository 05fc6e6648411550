//! Diagnostics: the one [`Diagnostic`] type every stage reports with, the
//! stable error and warning [`Code`]s with their documentation, and the two
//! renderers (human text through codespan-reporting, JSON lines).
//!
//! Depends only on `span` (and codespan-reporting / serde_json for rendering);
//! knows nothing of the language or of hooks.

mod codes;
mod json;
mod text;

pub use codes::{errors_markdown, Code, CodeDoc};
pub use json::render_json;
pub use text::render_text;

use crate::span::Span;

/// How bad a diagnostic is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The policy is rejected.
    Error,
    /// The policy is accepted, but something is probably wrong.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A span of source with a message; exactly one label of a diagnostic is
/// primary (the place the problem is).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

/// One problem found in a policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    /// Terse, lower-case, no final period.
    pub message: String,
    /// The primary label first, then secondary ones.
    pub labels: Vec<Label>,
    /// Extra facts (`note: ...`).
    pub notes: Vec<String>,
    /// What to do about it (`help: ...`).
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic of `code` (its severity is the code's) whose primary label
    /// at `span` says `label`.
    pub fn new(
        code: Code,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: code.severity(),
            code,
            message: message.into(),
            labels: vec![Label {
                span,
                message: label.into(),
                primary: true,
            }],
            notes: Vec::new(),
            help: None,
        }
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Sets the help line when there is one.
    pub fn with_help_opt(mut self, help: Option<String>) -> Diagnostic {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// The span of the primary label.
    pub fn primary_span(&self) -> Span {
        self.labels
            .iter()
            .find(|label| label.primary)
            .map(|label| label.span)
            .unwrap_or_default()
    }

    /// Whether this is an error (as opposed to a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = clamp_to_char_boundary(source, offset);
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// The largest char boundary of `source` not after `offset`.
pub(crate) fn clamp_to_char_boundary(source: &str, offset: usize) -> usize {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_characters() {
        let source = "ab\nçd\n";
        assert_eq!(line_col(source, 0), (1, 1));
        assert_eq!(line_col(source, 3), (2, 1));
        // 'd' is after the two-byte 'ç': column 2.
        assert_eq!(line_col(source, 5), (2, 2));
        // Inside 'ç': clamped to its start.
        assert_eq!(line_col(source, 4), (2, 1));
        assert_eq!(line_col(source, 100), (3, 1));
    }

    #[test]
    fn new_sets_severity_from_the_code() {
        let error = Diagnostic::new(Code::E0201, "m", Span::new(0, 1), "l");
        assert!(error.is_error());
        let warning = Diagnostic::new(Code::W0001, "m", Span::new(0, 1), "l");
        assert_eq!(warning.severity, Severity::Warning);
        assert_eq!(warning.primary_span(), Span::new(0, 1));
    }
}
