//! Human-readable rendering of diagnostics, rustc style, through
//! codespan-reporting. Colour is the caller's choice (the CLI enables it only
//! on a terminal; tests never do).

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor, Styles, StylesWriter};

use super::{clamp_to_char_boundary, Diagnostic, Severity};

/// Renders `diagnostics` of the file `source_name` with text `source`, one
/// after the other, each followed by a blank line.
pub fn render_text(
    diagnostics: &[Diagnostic],
    source_name: &str,
    source: &str,
    color: bool,
) -> String {
    let file = SimpleFile::new(source_name, source);
    let config = term::Config::default();
    let mut out = String::new();
    for diagnostic in diagnostics {
        let rendered = to_codespan(diagnostic, source);
        let text = if color {
            let styles = Styles::default();
            let mut buffer = termcolor::Buffer::ansi();
            let result = {
                let mut writer = StylesWriter::new(&mut buffer, &styles);
                term::emit_to_write_style(&mut writer, &config, &file, &rendered)
            };
            result.map(|()| String::from_utf8_lossy(buffer.as_slice()).into_owned())
        } else {
            let mut text = String::new();
            term::emit_to_string(&mut text, &config, &file, &rendered).map(|()| text)
        };
        match text {
            Ok(text) => out.push_str(&text),
            // Spans are clamped into the source, so this is unreachable in
            // practice; still say something rather than lose the diagnostic.
            Err(error) => out.push_str(&format!(
                "{}[{}]: {} ({error})\n\n",
                diagnostic.severity.as_str(),
                diagnostic.code,
                diagnostic.message
            )),
        }
    }
    out
}

fn to_codespan(diagnostic: &Diagnostic, source: &str) -> cs::Diagnostic<()> {
    let severity = match diagnostic.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let labels = diagnostic
        .labels
        .iter()
        .map(|label| {
            let start = clamp_to_char_boundary(source, label.span.start as usize);
            let end = clamp_to_char_boundary(source, label.span.end as usize).max(start);
            let style = if label.primary {
                cs::LabelStyle::Primary
            } else {
                cs::LabelStyle::Secondary
            };
            cs::Label::new(style, (), start..end).with_message(&label.message)
        })
        .collect();
    let notes = diagnostic
        .notes
        .iter()
        .map(|note| format!("note: {note}"))
        .chain(diagnostic.help.iter().map(|help| format!("help: {help}")))
        .collect();
    cs::Diagnostic::new(severity)
        .with_code(diagnostic.code.as_str())
        .with_message(&diagnostic.message)
        .with_labels(labels)
        .with_notes(notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Code;
    use crate::span::Span;

    #[test]
    fn renders_code_message_label_and_help() {
        let source = "rule r {\n    on exec\n}\n";
        let diagnostic = Diagnostic::new(
            Code::E0306,
            "rule `r` has no action",
            Span::new(5, 6),
            "this rule",
        )
        .with_help("add `deny`");
        let text = render_text(&[diagnostic], "p.pol", source, false);
        assert!(
            text.starts_with("error[E0306]: rule `r` has no action\n"),
            "{text}"
        );
        assert!(text.contains("p.pol:1:6"), "{text}");
        assert!(text.contains("= help: add `deny`"), "{text}");
        assert!(!text.contains('\u{1b}'), "no colour: {text}");
        let coloured = render_text(
            &[Diagnostic::new(Code::E0306, "m", Span::new(0, 4), "l")],
            "p.pol",
            source,
            true,
        );
        assert!(coloured.contains('\u{1b}'), "colour: {coloured}");
    }

    #[test]
    fn spans_past_the_end_or_inside_a_character_do_not_fail() {
        let source = "é";
        let diagnostic = Diagnostic::new(Code::E0103, "m", Span::new(1, 99), "l");
        let text = render_text(&[diagnostic], "p.pol", source, false);
        assert!(text.starts_with("error[E0103]: m"), "{text}");
    }
}
