//! `polc fmt`: the one canonical layout of a `.pol` file, printed from the
//! AST with the source's comments put back where they were.
//!
//! The layout: one declaration after another, a blank line around every
//! rule, trace and test (between lists and macros, a blank line only where
//! the source had one); bodies indented by four spaces, one clause a line;
//! single spaces around operators and after commas; lists, conditions,
//! `emit` and test events on one line when they fit in [`WIDTH`] columns and
//! hold no comment, else broken: a list one element a line (with a trailing
//! comma), a condition one `and`/`or` term a line (nested groups in
//! parentheses of their own), `emit` and `with` filled line by line.
//! Literals are printed exactly as written (strings keep their escapes,
//! numbers their base).
//!
//! Comments are attached by position: a comment on a line of its own is
//! printed on a line of its own before the next construct, at that
//! construct's indentation; a comment after code on the same line stays at
//! the end of that line. Formatting is idempotent and never changes the
//! AST (parentheses are printed exactly where precedence needs them, and
//! around every nested `and`/`or` group), so never the meaning: the
//! properties in `tests/fmt.rs` check both.
//!
//! What a new construct needs here: one arm in the printer of its AST node
//! (`decl`, `rule_clause`, `test_clause`, `cond`, `operand`), its flat text
//! in `Printer::flat_cond` or `Printer::flat_operand`, and, if it can
//! hold comments or grow long, a broken form. Keywords come from the AST's
//! `as_str`s, so a new operator or action prints without a change here.
//!
//! Depends on `syntax` only; refuses a file with syntax errors (they are
//! returned as diagnostics).

use crate::diag::Diagnostic;
use crate::span::Span;
use crate::syntax::ast::{
    Cond, Decl, FieldValue, File, ListDecl, MacroDecl, Operand, RuleClause, RuleDecl, RuleKeyword,
    TestClause, TestDecl,
};
use crate::syntax::{lexer, parse};

/// The line width the layout aims at.
pub const WIDTH: usize = 100;
/// One level of indentation.
const INDENT: usize = 4;

/// Formats `source`. A file with syntax errors is not formatted: its
/// diagnostics come back instead (type errors do not matter here).
pub fn format_source(source: &str) -> Result<String, Vec<Diagnostic>> {
    let (file, diagnostics) = parse(source);
    let errors: Vec<Diagnostic> = diagnostics.into_iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(format_file(source, &file))
}

/// Prints a parsed file (which must have parsed without errors).
pub fn format_file(source: &str, file: &File) -> String {
    let mut printer = Printer {
        source,
        comments: lexer::comments(source),
        next_comment: 0,
        lines: Vec::new(),
    };
    printer.file(file);
    let mut out = String::new();
    for line in &printer.lines {
        if !line.text.is_empty() {
            out.extend(std::iter::repeat_n(' ', line.indent));
            out.push_str(&line.text);
        }
        out.push('\n');
    }
    // No blank lines at the end; an empty file stays empty.
    while out.ends_with("\n\n") {
        out.pop();
    }
    if out == "\n" {
        out.clear();
    }
    out
}

/// One output line: its indentation and its text.
struct Line {
    indent: usize,
    text: String,
}

struct Printer<'s> {
    source: &'s str,
    comments: Vec<Span>,
    /// The first comment not printed yet.
    next_comment: usize,
    lines: Vec<Line>,
}

impl<'s> Printer<'s> {
    fn text(&self, span: Span) -> &'s str {
        self.source.get(span.range()).unwrap_or("")
    }

    // ---- lines ----

    fn new_line(&mut self, indent: usize) {
        self.lines.push(Line {
            indent,
            text: String::new(),
        });
    }

    fn push(&mut self, text: &str) {
        if self.lines.is_empty() {
            self.new_line(0);
        }
        if let Some(line) = self.lines.last_mut() {
            line.text.push_str(text);
        }
    }

    /// The indentation of the current line.
    fn line_indent(&self) -> usize {
        self.lines.last().map_or(0, |line| line.indent)
    }

    /// The column the current line has reached.
    fn column(&self) -> usize {
        self.lines
            .last()
            .map_or(0, |line| line.indent + line.text.chars().count())
    }

    fn blank_line(&mut self) {
        if self.lines.last().is_some_and(|line| !line.text.is_empty()) {
            self.new_line(0);
        }
    }

    // ---- comments ----

    /// Prints, each on a line of its own at `indent`, every comment that
    /// starts before `pos` and is not printed yet.
    fn leading(&mut self, pos: u32, indent: usize) {
        let mut prev: Option<Span> = None;
        while let Some(&comment) = self.comments.get(self.next_comment) {
            if comment.start >= pos {
                break;
            }
            self.next_comment += 1;
            // Paragraphs of comments stay apart.
            if prev.is_some_and(|prev| self.blank_between(prev.end, comment.start)) {
                self.blank_line();
            }
            prev = Some(comment);
            let text = self.text(comment).trim_end().to_string();
            self.new_line(indent);
            self.push(&text);
        }
    }

    /// Appends to the current line the comment that follows `end` on the
    /// same source line with only blanks between.
    fn trailing(&mut self, end: u32) {
        let Some(&comment) = self.comments.get(self.next_comment) else {
            return;
        };
        let between = self
            .source
            .get(end as usize..comment.start as usize)
            .unwrap_or("\n");
        if comment.start < end || !between.chars().all(|c| c == ' ' || c == '\t') {
            return;
        }
        self.next_comment += 1;
        let text = self.text(comment).trim_end().to_string();
        self.push("  ");
        self.push(&text);
    }

    /// Whether a comment starts in `[start, end)`.
    fn comment_in(&self, start: u32, end: u32) -> bool {
        self.comments[self.next_comment..]
            .iter()
            .any(|c| c.start >= start && c.start < end)
    }

    /// Whether a comment must break `cond` onto several lines: one before
    /// its last comparison (printed between its terms), or one in the list
    /// of its last comparison (printed in the list, one item a line).
    fn comment_forces_break(&self, cond: &Cond) -> bool {
        let span = cond.span();
        if self.comment_in(span.start, last_leaf_start(cond)) {
            return true;
        }
        match last_leaf(cond) {
            Cond::Cmp {
                rhs: Operand::List { span, .. },
                ..
            } => self.comment_in(span.start, span.end),
            _ => false,
        }
    }

    /// Whether the source has an empty line between `start` and `end`.
    fn blank_between(&self, start: u32, end: u32) -> bool {
        let text = self.source.get(start as usize..end as usize).unwrap_or("");
        let mut lines = text.split('\n');
        // The first piece ends the line `start` is on, the last begins the
        // line `end` is on: only the lines in between can be empty.
        lines.next();
        let mut inner: Vec<&str> = lines.collect();
        inner.pop();
        inner.iter().any(|line| line.trim().is_empty())
    }

    // ---- declarations ----

    fn file(&mut self, file: &File) {
        let mut prev: Option<(&Decl, u32)> = None;
        for decl in &file.decls {
            let span = decl_span(decl);
            let first_comment = self
                .comments
                .get(self.next_comment)
                .filter(|c| c.start < span.start)
                .copied();
            let is_block = |d: &Decl| !matches!(d, Decl::List(_) | Decl::Macro(_) | Decl::Allow(_));
            if let Some((prev_decl, prev_end)) = prev {
                let gap_end = first_comment.map_or(span.start, |c| c.start);
                if is_block(prev_decl) || is_block(decl) || self.blank_between(prev_end, gap_end) {
                    self.blank_line();
                }
            }
            if first_comment.is_some() {
                self.leading(span.start, 0);
                // A comment block separated from the declaration stays so.
                let last = self.comments[self.next_comment - 1];
                if self.blank_between(last.end, span.start) {
                    self.blank_line();
                }
            }
            self.decl(decl);
            self.trailing(span.end);
            prev = Some((decl, span.end));
        }
        if let Some(&last) = self.comments.get(self.next_comment) {
            if let Some((_, end)) = prev {
                if self.blank_between(end, last.start) {
                    self.blank_line();
                }
            }
        }
        self.leading(u32::MAX, 0);
    }

    fn decl(&mut self, decl: &Decl) {
        match decl {
            Decl::List(list) => self.list_decl(list),
            Decl::Macro(m) => self.macro_decl(m),
            Decl::Rule(rule) => self.rule_decl(rule),
            Decl::Test(test) => self.test_decl(test),
            Decl::Allow(allow) => {
                self.new_line(0);
                self.push(&format!("allow {}", allow.code.text));
                if let Some(reason) = &allow.reason {
                    let reason = self.text(reason.span).to_string();
                    self.push(&format!(" {reason}"));
                }
            }
        }
    }

    fn list_decl(&mut self, list: &ListDecl) {
        self.new_line(0);
        self.push(&format!("list {} = ", list.name.text));
        if let Some(path) = &list.file {
            let path = self.text(path.span).to_string();
            self.push(&format!("file {path}"));
            return;
        }
        self.list(&list.items, list.items_span, 0);
    }

    fn macro_decl(&mut self, m: &MacroDecl) {
        self.new_line(0);
        self.push(&format!("macro {} = ", m.name.text));
        self.cond(&m.cond, INDENT);
    }

    /// A body in braces after the name that ends at `after`: one clause a
    /// line (printed by `clause`), comments kept, up to the `}` that ends
    /// the declaration at `end`.
    fn body<C>(
        &mut self,
        after: u32,
        clauses: &[C],
        span_of: impl Fn(&C) -> Span,
        mut clause: impl FnMut(&mut Self, &C),
        end: u32,
    ) {
        self.push(" {");
        let brace = self.source[after as usize..]
            .find('{')
            .map_or(after, |at| after + at as u32 + 1);
        // A comment after `{` stays on its line.
        self.trailing(brace);
        for item in clauses {
            let span = span_of(item);
            self.leading(span.start, INDENT);
            self.new_line(INDENT);
            clause(self, item);
            self.trailing(span.end);
        }
        // Comments before `}` belong to the body.
        self.leading(end.saturating_sub(1), INDENT);
        self.new_line(0);
        self.push("}");
    }

    fn rule_decl(&mut self, rule: &RuleDecl) {
        self.new_line(0);
        let keyword = match rule.keyword {
            RuleKeyword::Rule => "rule",
            RuleKeyword::Trace => "trace",
        };
        self.push(&format!("{keyword} {}", rule.name.text));
        self.body(
            rule.name.span.end,
            &rule.clauses,
            RuleClause::span,
            Self::rule_clause,
            rule.span.end,
        );
    }

    fn rule_clause(&mut self, clause: &RuleClause) {
        match clause {
            RuleClause::On { hook, .. } => self.push(&format!("on {}", hook.text)),
            RuleClause::When { cond, .. } => {
                self.push("when ");
                self.cond(cond, 2 * INDENT);
            }
            RuleClause::Action {
                action, message, ..
            } => {
                self.push(action.as_str());
                if let Some(message) = message {
                    self.push(" ");
                    self.push(self.text(message.span));
                }
            }
            RuleClause::Emit { fields, .. } => {
                self.push("emit ");
                let names: Vec<String> = fields.iter().map(|f| f.text.clone()).collect();
                self.fill(&names, 2 * INDENT);
            }
        }
    }

    fn test_decl(&mut self, test: &TestDecl) {
        self.new_line(0);
        self.push(&format!("test {}", self.text(test.name.span)));
        self.body(
            test.name.span.end,
            &test.clauses,
            TestClause::span,
            Self::test_clause,
            test.span.end,
        );
    }

    fn test_clause(&mut self, clause: &TestClause) {
        match clause {
            TestClause::On { hook, fields, .. } => {
                self.push(&format!("on {}", hook.text));
                if !fields.is_empty() {
                    self.push(" with ");
                    let items: Vec<String> = fields.iter().map(|f| self.field_value(f)).collect();
                    self.fill(&items, 2 * INDENT);
                }
            }
            TestClause::Expect { action, by, .. } => {
                self.push(&format!("expect {}", action.as_str()));
                if let Some(by) = by {
                    self.push(&format!(" by {}", by.text));
                }
            }
            TestClause::ExpectTraces { traces, .. } if traces.is_empty() => {
                self.push("expect no traces");
            }
            TestClause::ExpectTraces { traces, .. } => {
                self.push("expect traces ");
                let names: Vec<String> = traces.iter().map(|t| t.text.clone()).collect();
                self.fill(&names, 2 * INDENT);
            }
        }
    }

    fn field_value(&self, field: &FieldValue) -> String {
        format!("{} = {}", field.field.text, self.flat_operand(&field.value))
    }

    /// Comma-separated items, as many a line as fit; continuation lines at
    /// `indent`.
    fn fill(&mut self, items: &[String], indent: usize) {
        for (i, item) in items.iter().enumerate() {
            let last = i + 1 == items.len();
            let width = item.chars().count() + usize::from(!last);
            if i > 0 {
                if self.column() + 1 + width > WIDTH {
                    self.new_line(indent);
                } else {
                    self.push(" ");
                }
            }
            self.push(item);
            if !last {
                self.push(",");
            }
        }
    }

    // ---- lists ----

    /// A bracketed list at the end of the current line: flat when it fits
    /// and holds no comment, else one item a line at `indent + 4`.
    fn list(&mut self, items: &[Operand], span: Span, indent: usize) {
        let flat = format!(
            "[{}]",
            items
                .iter()
                .map(|item| self.flat_operand(item))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !self.comment_in(span.start, span.end) && self.column() + flat.chars().count() <= WIDTH {
            self.push(&flat);
            return;
        }
        self.push("[");
        self.trailing(span.start + 1);
        for item in items {
            let item_span = item.span();
            self.leading(item_span.start, indent + INDENT);
            self.new_line(indent + INDENT);
            let text = self.flat_operand(item);
            self.push(&text);
            self.push(",");
            // A comment after the comma stays on the item's line.
            let after_comma = self.source[item_span.end as usize..span.end as usize]
                .find(',')
                .map_or(item_span.end, |at| item_span.end + at as u32 + 1);
            self.trailing(after_comma);
        }
        self.leading(span.end.saturating_sub(1), indent + INDENT);
        self.new_line(indent);
        self.push("]");
    }

    // ---- conditions ----

    /// A condition at the end of the current line. Flat when it fits and
    /// no comment lies before its last comparison; else its `and`/`or`
    /// terms go one a line, continuation lines at `indent`.
    fn cond(&mut self, cond: &Cond, indent: usize) {
        let flat = self.flat_cond(cond);
        if !self.comment_forces_break(cond) && self.column() + flat.chars().count() <= WIDTH {
            self.push(&flat);
            return;
        }
        match cond {
            Cond::Or { terms, .. } | Cond::And { terms, .. } => {
                let op = if matches!(cond, Cond::Or { .. }) {
                    "or"
                } else {
                    "and"
                };
                for (i, term) in terms.iter().enumerate() {
                    if i > 0 {
                        self.trailing(terms[i - 1].span().end);
                        self.leading(term.span().start, indent);
                        self.new_line(indent);
                        self.push(op);
                        self.push(" ");
                    }
                    self.term(term, indent);
                }
            }
            Cond::Not { inner, .. } => {
                self.push("not ");
                self.term(inner, indent);
            }
            Cond::Cmp { lhs, op, rhs, .. } => {
                let lhs = self.flat_operand(lhs);
                self.push(&format!("{lhs} {} ", op.as_str()));
                self.operand(rhs, self.line_indent());
            }
            Cond::Bare(operand) => self.operand(operand, self.line_indent()),
        }
    }

    /// A term of `and`/`or`/`not`: a nested `and`/`or` in parentheses,
    /// broken onto lines of its own when it does not fit.
    fn term(&mut self, cond: &Cond, indent: usize) {
        if !matches!(cond, Cond::And { .. } | Cond::Or { .. }) {
            self.cond(cond, indent);
            return;
        }
        let flat = format!("({})", self.flat_cond(cond));
        let span = cond.span();
        if !self.comment_forces_break(cond) && self.column() + flat.chars().count() <= WIDTH {
            self.push(&flat);
            return;
        }
        // The line the group opens on sets the indentation of its parts.
        let line_indent = self.line_indent();
        self.push("(");
        self.leading(span.start, line_indent + INDENT);
        self.new_line(line_indent + INDENT);
        self.cond(cond, line_indent + INDENT);
        self.trailing(span.end);
        self.new_line(line_indent);
        self.push(")");
    }

    fn operand(&mut self, operand: &Operand, indent: usize) {
        match operand {
            Operand::List { items, span } => self.list(items, *span, indent),
            other => {
                let text = self.flat_operand(other);
                self.push(&text);
            }
        }
    }

    fn flat_cond(&self, cond: &Cond) -> String {
        match cond {
            Cond::Or { terms, .. } | Cond::And { terms, .. } => {
                let op = if matches!(cond, Cond::Or { .. }) {
                    " or "
                } else {
                    " and "
                };
                terms
                    .iter()
                    .map(|term| self.flat_term(term))
                    .collect::<Vec<_>>()
                    .join(op)
            }
            Cond::Not { inner, .. } => format!("not {}", self.flat_term(inner)),
            Cond::Cmp { lhs, op, rhs, .. } => format!(
                "{} {} {}",
                self.flat_operand(lhs),
                op.as_str(),
                self.flat_operand(rhs)
            ),
            Cond::Bare(operand) => self.flat_operand(operand),
        }
    }

    fn flat_term(&self, cond: &Cond) -> String {
        match cond {
            Cond::And { .. } | Cond::Or { .. } => format!("({})", self.flat_cond(cond)),
            other => self.flat_cond(other),
        }
    }

    fn flat_operand(&self, operand: &Operand) -> String {
        match operand {
            Operand::Name(name) => name.text.clone(),
            Operand::Int { text, .. } | Operand::Ip { text, .. } => text.clone(),
            Operand::Str(lit) => self.text(lit.span).to_string(),
            Operand::Bool { value, .. } => value.to_string(),
            Operand::List { items, .. } => format!(
                "[{}]",
                items
                    .iter()
                    .map(|item| self.flat_operand(item))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The shortest edit script from lines `a` to lines `b` (longest common
/// subsequence): `(' ', i, j)` keeps `a[i]` (= `b[j]`), `('-', i, _)`
/// removes `a[i]`, `('+', _, j)` adds `b[j]`; removals before additions.
pub fn edit_script(a: &[&str], b: &[&str]) -> Vec<(char, usize, usize)> {
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut script = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            script.push((' ', i, j));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            script.push(('-', i, j));
            i += 1;
        } else {
            script.push(('+', i, j));
            j += 1;
        }
    }
    script
}

/// A unified diff (three lines of context) from `old` to `new`, both
/// named `name`: what `polc fmt --check` prints. Empty when they are equal.
pub fn line_diff(name: &str, old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let script = edit_script(&a, &b);
    const CONTEXT: usize = 3;
    let changed: Vec<usize> = (0..script.len()).filter(|&k| script[k].0 != ' ').collect();
    if changed.is_empty() {
        return String::new();
    }
    let mut out = format!("--- {name}\n+++ {name} (formatted)\n");
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = changed[k];
        while k < changed.len() && changed[k] <= end + 2 * CONTEXT {
            end = changed[k];
            k += 1;
        }
        let end = (end + CONTEXT + 1).min(script.len());
        let hunk = &script[start..end];
        let old_len = hunk.iter().filter(|s| s.0 != '+').count();
        let new_len = hunk.iter().filter(|s| s.0 != '-').count();
        let (_, first_a, first_b) = hunk[0];
        out.push_str(&format!(
            "@@ -{},{old_len} +{},{new_len} @@\n",
            first_a + usize::from(old_len > 0),
            first_b + usize::from(new_len > 0)
        ));
        for &(tag, i, j) in hunk {
            let line = if tag == '+' { b[j] } else { a[i] };
            out.push(tag);
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn decl_span(decl: &Decl) -> Span {
    match decl {
        Decl::List(list) => list.span,
        Decl::Macro(m) => m.span,
        Decl::Rule(rule) => rule.span,
        Decl::Test(test) => test.span,
        Decl::Allow(allow) => allow.span,
    }
}

/// The last comparison (or bare operand) of a condition.
fn last_leaf(cond: &Cond) -> &Cond {
    match cond {
        Cond::Or { terms, .. } | Cond::And { terms, .. } => {
            terms.last().map_or(cond, |term| last_leaf(term))
        }
        Cond::Not { inner, .. } => last_leaf(inner),
        leaf => leaf,
    }
}

/// Where the last comparison (or bare operand) of a condition starts.
fn last_leaf_start(cond: &Cond) -> u32 {
    last_leaf(cond).span().start
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(source: &str) -> String {
        match format_source(source) {
            Ok(text) => text,
            Err(diags) => panic!("{source}: {diags:#?}"),
        }
    }

    fn assert_formats(source: &str, expected: &str) {
        let once = fmt(source);
        assert_eq!(once, expected, "formatting:\n{source}");
        assert_eq!(fmt(&once), once, "not idempotent:\n{once}");
    }

    #[test]
    fn a_rule_gets_the_canonical_layout() {
        assert_formats(
            "rule   r{on exec when proc.uid==0 and not(proc.comm in[\"a\",\"b\",]) deny \"x\"}",
            "rule r {\n    on exec\n    when proc.uid == 0 and not proc.comm in [\"a\", \"b\"]\n    deny \"x\"\n}\n",
        );
    }

    #[test]
    fn indexed_fields_are_written_without_spaces() {
        assert_formats(
            "rule r{on exec when exec.args [ 1 ]==\"-e\" or exec.args[ * ] == \"x\" or exec.env[ \"A\\x42\" ] != \"\" or proc.ancestors [2] .comm == \"sh\" audit \"{exec.args[1]}\"}\n\
             trace t { on exec emit exec.env [\"PATH\"] , exec.args[0] }\n\
             test \"t\" { on exec with exec.args [2] = \"-e\" expect allow }",
            "rule r {\n    on exec\n    when exec.args[1] == \"-e\"\n        or exec.args[*] == \"x\"\n        or exec.env[\"AB\"] != \"\"\n        or proc.ancestors[2].comm == \"sh\"\n    audit \"{exec.args[1]}\"\n}\n\n\
             trace t {\n    on exec\n    emit exec.env[\"PATH\"], exec.args[0]\n}\n\n\
             test \"t\" {\n    on exec with exec.args[2] = \"-e\"\n    expect allow\n}\n",
        );
    }

    #[test]
    fn parentheses_only_where_groups_nest() {
        assert_formats(
            "macro m = (a or b) and not (c and d) or (e)\n",
            "macro m = ((a or b) and not (c and d)) or e\n",
        );
    }

    #[test]
    fn comments_stay_where_they_were() {
        assert_formats(
            "# header\n\n# about l\nlist l = [1, # one\n 2]\nrule r { # body\n  on exec # hook\n  # before when\n  when a == 1 # first\n    and b == 2\n  deny\n  # at the end\n}\n# last\n",
            "# header\n\n# about l\nlist l = [\n    1,  # one\n    2,\n]\n\nrule r {  # body\n    on exec  # hook\n    # before when\n    when a == 1  # first\n        and b == 2\n    deny\n    # at the end\n}\n# last\n",
        );
    }

    #[test]
    fn long_conditions_break_at_their_terms() {
        let long = "exec.path startswith \"/usr/local/libexec/some-long-directory/\"";
        let source = format!("rule r {{ on exec when {long} and ({long} or proc.uid == 0) deny }}");
        assert_formats(
            &source,
            &format!(
                "rule r {{\n    on exec\n    when {long}\n        and ({long} or proc.uid == 0)\n    deny\n}}\n"
            ),
        );
        let source = format!(
            "rule r {{ on exec when {long} and ({long} or {long} or proc.uid == 0) deny }}"
        );
        assert_formats(
            &source,
            &format!(
                "rule r {{\n    on exec\n    when {long}\n        and (\n            {long}\n            or {long}\n            or proc.uid == 0\n        )\n    deny\n}}\n"
            ),
        );
    }

    #[test]
    fn tests_and_emits_fill_their_lines() {
        let fields: Vec<String> = (0..12).map(|i| format!("proc.field{i}")).collect();
        let source = format!(
            "trace t {{ on exec emit {} }}\ntest \"t\" {{ on exec with proc.uid = 0 expect no traces expect deny by r }}",
            fields.join(",")
        );
        let out = fmt(&source);
        assert!(out.lines().all(|l| l.chars().count() <= WIDTH), "{out}");
        assert!(out.contains("\n        proc.field"), "{out}");
        assert!(out.ends_with(
            "test \"t\" {\n    on exec with proc.uid = 0\n    expect no traces\n    expect deny by r\n}\n"
        ));
        assert_eq!(fmt(&out), out);
    }

    #[test]
    fn blank_lines_between_lists_and_macros_follow_the_source() {
        assert_formats(
            "list a = [1]\nlist b = [2]\n\n\n\nmacro m = x\nrule r { on exec deny }\n",
            "list a = [1]\nlist b = [2]\n\nmacro m = x\n\nrule r {\n    on exec\n    deny\n}\n",
        );
    }

    #[test]
    fn the_diff_shows_hunks_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let new = "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\n";
        assert_eq!(
            line_diff("p.pol", old, new),
            "--- p.pol\n+++ p.pol (formatted)\n@@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n d\n e\n@@ -8,3 +8,4 @@\n h\n i\n j\n+k\n"
        );
        assert_eq!(line_diff("p.pol", old, old), "");
    }

    #[test]
    fn syntax_errors_are_returned_not_formatted() {
        assert!(format_source("rule r { on exec when a = 1 deny }").is_err());
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("# only a comment\n"), "# only a comment\n");
    }
}
