//! Name resolution and type checking: the front end. [`check_source`] parses
//! a source text and turns it into a [`policy::CheckedPolicy`] plus
//! diagnostics. What a policy costs in the kernel is measured later, on the
//! programs codegen emits (`measure`, run by `compile::compile_source`).
//!
//! The pipeline inside: parse (syntax) → declarations and names (this file:
//! duplicates, invalid names, lists, macro cycles) → rules and traces
//! (`rules`, `cond`, `template`) → policy tests (`policy_tests`) → lints
//! (`lints`). Every step reports what it finds and carries on, so one run
//! reports as many problems as possible.
//!
//! Depends on `syntax`, `diag`, `span`, the table in `hooks` and the kernel
//! facts of `crate::kernel` (through the table); knows nothing of the later
//! stages (IR, the interpreter, codegen, BPF instructions, ELF) or of the
//! ABI between objects and the runtime (`tests/layers.rs` checks).

pub mod constants;
pub mod glob;
pub mod hooks;
pub mod listfile;
pub mod policy;
pub mod reference;

mod cond;
mod indexed;
mod lints;
mod literal;
mod never;
mod policy_tests;
mod rules;
mod template;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::diag::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::{self, ast};
use policy::{CheckedPolicy, CheckedRule, ListDef, ListId, Value};

pub use constants::CONSTANTS;

/// What a path part written as a field (`file.dir`, `file.name`, ...) is,
/// for hovers: `None` for any other name.
pub fn path_part_doc(name: &str) -> Option<String> {
    let (base, part) = cond::path_part(name)?;
    let what = match part {
        cond::PathPart::Dir => "the directory part (before the last `/`)",
        cond::PathPart::Name => "the base name (after the last `/`)",
    };
    Some(format!(
        "**{name}**: {what} of `{}`, tested in conditions (not reported: messages and `emit` name `{}`)",
        base.spec().name,
        base.spec().name
    ))
}

/// What a user or group name field (`proc.user`, ...) is, for hovers and
/// completion: `None` for any other name.
pub fn account_name_doc(name: &str) -> Option<String> {
    let (id, group) = cond::accounts::account_name(name)?;
    let (what, file) = if group {
        ("group", "/etc/group")
    } else {
        ("user", "/etc/passwd")
    };
    Some(format!(
        "**{name}**: the {what} name of `{}`, compared (`==`, `!=`, `in`) with names resolved from \
         the node's {file} when polrt loads the policy (`polc test --passwd/--group`); not \
         reported: messages and `emit` name `{}`",
        id.spec().name,
        id.spec().name
    ))
}

/// The user and group name fields (`proc.user`, ...) and their id fields.
pub fn account_name_fields() -> impl Iterator<Item = (&'static str, hooks::FieldId)> {
    cond::accounts::ACCOUNT_NAMES
        .iter()
        .filter_map(|(name, id, _)| hooks::FieldId::from_name(id).map(|id| (*name, id)))
}

/// The result of checking one source text.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The checked policy; `Some` if and only if there is no error.
    pub policy: Option<CheckedPolicy>,
    /// Errors and warnings, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses and checks `source`, read from `source_name`. Never panics.
/// List files are read from the directory of `source_name`.
pub fn check_source(source_name: &str, source: &str) -> Checked {
    check_source_in(source_name, source, &listfile::policy_dir(source_name))
}

/// [`check_source`], with the list files a relative path names read from
/// `list_dir`.
pub fn check_source_in(source_name: &str, source: &str, list_dir: &Path) -> Checked {
    let (file, parse_diagnostics) = syntax::parse(source);
    let mut checker = Checker::new(source);
    checker.list_dir = list_dir.to_path_buf();
    checker.broken_names = file.broken_names.iter().cloned().collect();
    checker.diags = parse_diagnostics;
    checker.declare(&file);
    checker.check_macros();
    let rules = checker.check_rules(&file);
    let tests = checker.check_tests(&file, &rules);
    // Declarations skipped by parse errors may have been the users: no
    // unused warnings then.
    if !checker
        .diags
        .iter()
        .any(|d| d.is_error() && d.code.as_str().starts_with("E01"))
    {
        checker.report_unused();
    }
    let rules: Option<Vec<CheckedRule>> = rules.into_iter().map(|rule| rule.checked).collect();
    // Lints only make sense on a policy that is otherwise valid.
    if let Some(rules) = rules
        .as_ref()
        .filter(|_| !checker.diags.iter().any(Diagnostic::is_error))
    {
        checker.lint_rules(rules);
        checker.lint_contradictions(rules);
        checker.lint_patterns(rules);
        checker.lint_comm_exemptions(rules);
        checker.lint_container_values(rules);
        checker.lint_unreadable(rules);
    }
    let allowed = std::mem::take(&mut checker.allowed);
    let mut diagnostics = checker.diags;
    // An `allow` of a warning the policy no longer gets is reported (W0085):
    // an acknowledgement stays true. (With errors, lints did not run.)
    if !diagnostics.iter().any(Diagnostic::is_error) {
        for (code, span) in &allowed {
            if !diagnostics.iter().any(|d| d.code == *code) {
                diagnostics.push(
                    Diagnostic::new(
                        Code::W0085,
                        format!(
                            "`allow {}`: the policy gets no {}",
                            code.as_str(),
                            code.as_str()
                        ),
                        *span,
                        "nothing to allow",
                    )
                    .with_help("remove the declaration"),
                );
            }
        }
    }
    diagnostics.retain(|d| d.is_error() || !allowed.iter().any(|(code, _)| *code == d.code));
    let mut policy = None;
    if !diagnostics.iter().any(Diagnostic::is_error) {
        if let (Some(rules), Some(tests)) = (rules, tests) {
            let checked = CheckedPolicy {
                source_name: source_name.to_string(),
                source_hash: format!("{:x}", Sha256::digest(source.as_bytes())),
                lists: checker.lists,
                rules,
                tests,
            };
            policy = Some(checked);
        }
    }
    Checked {
        policy,
        diagnostics: sort_and_dedup(without_consequences(diagnostics, source)),
    }
}

/// Drops "not a condition" (E0217) on an operand that a syntax error
/// follows directly: the parser ended the condition there because of that
/// error (`proc.comm glob "x"` is a bare `proc.comm`, then `glob`).
fn without_consequences(mut diagnostics: Vec<Diagnostic>, source: &str) -> Vec<Diagnostic> {
    let syntax_starts: Vec<u32> = diagnostics
        .iter()
        .filter(|d| d.is_error() && d.code.as_str().starts_with("E01"))
        .map(|d| d.primary_span().start)
        .collect();
    diagnostics.retain(|d| {
        if d.code != Code::E0217 {
            return true;
        }
        let end = d.primary_span().end as usize;
        !syntax_starts.iter().any(|&start| {
            source
                .get(end..start as usize)
                .is_some_and(|between| between.trim().is_empty())
        })
    });
    diagnostics
}

/// Sorts by position (then code) and drops repeats of the same problem (a
/// macro checked on its own and again where it is used).
pub(crate) fn sort_and_dedup(mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = HashSet::new();
    diagnostics.retain(|d| seen.insert((d.code, d.message.clone(), d.primary_span())));
    diagnostics.sort_by_key(|d| (d.primary_span().start, d.primary_span().end, d.code));
    diagnostics
}

/// Uses labelled in a recursive-macro diagnostic; longer cycles are summed up.
const MAX_CYCLE_LABELS: usize = 8;

/// The element type of a list.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum ListKind {
    Str,
    Int,
    Ip,
    Bool,
}

impl ListKind {
    fn name(self) -> &'static str {
        match self {
            ListKind::Str => "str",
            ListKind::Int => "int",
            ListKind::Ip => "ip",
            ListKind::Bool => "bool",
        }
    }
}

/// A list with what the checker knows about it.
#[derive(Clone, Debug)]
struct ListInfo {
    id: ListId,
    /// `None` when its elements are invalid (already reported).
    kind: Option<ListKind>,
    /// Each element's span, in order (for errors found at a use site).
    elem_spans: Vec<Span>,
    name_span: Span,
    /// A list file: its path as written, and each element's line in it.
    file: Option<(String, Vec<u32>)>,
}

/// A macro with what the checker knows about it.
struct MacroInfo<'a> {
    decl: &'a ast::MacroDecl,
    /// Part of a cycle (already reported): never expanded.
    recursive: bool,
}

/// State shared by the checking steps.
struct Checker<'a> {
    source: &'a str,
    /// Byte offsets of the source's newlines (line numbers by bisection).
    newlines: Vec<u32>,
    diags: Vec<Diagnostic>,
    /// Every list, named and inline; indexed by `ListId`.
    lists: Vec<ListDef>,
    list_infos: Vec<ListInfo>,
    list_names: HashMap<&'a str, usize>,
    /// Inline lists, by source span (a macro used twice shares them).
    inline_lists: HashMap<Span, usize>,
    macros: HashMap<&'a str, MacroInfo<'a>>,
    /// Macro names in declaration order.
    macro_order: Vec<&'a str>,
    /// Lists and macros some condition refers to.
    used: HashSet<String>,
    /// Comparisons in all expanded conditions so far (bounded, E0219).
    total_tests: usize,
    /// Declarations the parser could not read: not reported as unknown.
    broken_names: HashSet<String>,
    /// Where a list file's relative path starts.
    list_dir: PathBuf,
    /// Warnings the policy accepts (`allow W0060`): not reported.
    allowed: Vec<(Code, Span)>,
}

impl<'a> Checker<'a> {
    fn new(source: &'a str) -> Checker<'a> {
        Checker {
            source,
            newlines: source
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i as u32)
                .collect(),
            diags: Vec::new(),
            lists: Vec::new(),
            list_infos: Vec::new(),
            list_names: HashMap::new(),
            inline_lists: HashMap::new(),
            macros: HashMap::new(),
            macro_order: Vec::new(),
            used: HashSet::new(),
            total_tests: 0,
            broken_names: HashSet::new(),
            list_dir: PathBuf::from("."),
            allowed: Vec::new(),
        }
    }

    fn report(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    /// Whether a syntax error lies in `span`: then a clause the declaration
    /// seems to lack may be in the part that did not parse, and saying it
    /// is missing would only repeat that error.
    fn syntax_error_in(&self, span: Span) -> bool {
        self.diags.iter().any(|d| {
            let at = d.primary_span();
            d.is_error()
                && d.code.as_str().starts_with("E01")
                && at.start >= span.start
                && at.start < span.end
        })
    }

    /// Reports a missing clause of the declaration at `span`, unless a
    /// syntax error in it explains why it seems missing.
    fn report_missing(&mut self, span: Span, diagnostic: Diagnostic) {
        if !self.syntax_error_in(span) {
            self.report(diagnostic);
        }
    }

    /// 1-based line of a byte offset (as [`crate::diag::line_col`] counts).
    fn line_of(&self, offset: u32) -> u32 {
        self.newlines.partition_point(|&nl| nl < offset) as u32 + 1
    }

    /// Registers lists and macros; reports duplicate and invalid names.
    fn declare(&mut self, file: &'a ast::File) {
        let mut values_namespace: HashMap<&'a str, (Span, &'static str)> = HashMap::new();
        let mut rules_namespace: HashMap<&'a str, (Span, &'static str)> = HashMap::new();
        let mut tests_namespace: HashMap<&'a str, Span> = HashMap::new();
        for decl in &file.decls {
            let (name, what, namespace) = match decl {
                ast::Decl::List(list) => (&list.name, "list", &mut values_namespace),
                ast::Decl::Macro(m) => (&m.name, "macro", &mut values_namespace),
                ast::Decl::Rule(rule) => (
                    &rule.name,
                    match rule.keyword {
                        ast::RuleKeyword::Rule => "rule",
                        ast::RuleKeyword::Trace => "trace",
                    },
                    &mut rules_namespace,
                ),
                ast::Decl::Allow(allow) => {
                    self.declare_allow(allow);
                    continue;
                }
                ast::Decl::Test(test) => {
                    if let Some(first) = tests_namespace.get(test.name.value.as_str()) {
                        self.diags.push(
                            Diagnostic::new(
                                Code::E0204,
                                format!("duplicate test name \"{}\"", test.name.value),
                                test.name.span,
                                "defined again here",
                            )
                            .with_label(*first, "first defined here")
                            .with_help("give each test its own name"),
                        );
                    } else {
                        tests_namespace.insert(test.name.value.as_str(), test.name.span);
                    }
                    continue;
                }
            };
            let duplicate = if let Some((first, first_what)) = namespace.get(name.text.as_str()) {
                self.diags.push(
                    Diagnostic::new(
                        Code::E0204,
                        format!("the name `{}` is defined twice", name.text),
                        name.span,
                        format!("{what} `{}` defined again here", name.text),
                    )
                    .with_label(*first, format!("first defined here as a {first_what}"))
                    .with_help(if what == "rule" || what == "trace" {
                        "rules and traces share one namespace: rename one of them"
                    } else {
                        "lists and macros share one namespace: rename one of them"
                    }),
                );
                true
            } else {
                namespace.insert(name.text.as_str(), (name.span, what));
                false
            };
            self.check_declared_name(name, what);
            if duplicate {
                continue;
            }
            match decl {
                ast::Decl::List(list) => self.declare_list(list),
                ast::Decl::Macro(m) => {
                    self.macros.insert(
                        m.name.text.as_str(),
                        MacroInfo {
                            decl: m,
                            recursive: false,
                        },
                    );
                    self.macro_order.push(m.name.text.as_str());
                }
                ast::Decl::Rule(_) | ast::Decl::Test(_) | ast::Decl::Allow(_) => {}
            }
        }
    }

    /// `allow CODE`: a warning, accepted for this policy; anything else is
    /// E0283.
    fn declare_allow(&mut self, allow: &ast::AllowDecl) {
        let name = &allow.code;
        match Code::from_name(&name.text) {
            Some(code) if code.severity() == crate::diag::Severity::Warning => {
                if !self.allowed.iter().any(|(c, _)| *c == code) {
                    self.allowed.push((code, name.span));
                }
            }
            found => {
                let (message, label) = match found {
                    Some(code) => (
                        format!("`{}` is an error: errors cannot be allowed", code.as_str()),
                        "an error",
                    ),
                    None => (format!("unknown warning `{}`", name.text), "no such code"),
                };
                self.diags.push(
                    Diagnostic::new(Code::E0283, message, name.span, label).with_help(
                        "`allow` takes a warning's code (`allow W0060`); `polc explain` lists them",
                    ),
                );
            }
        }
    }

    fn check_declared_name(&mut self, name: &ast::Name, what: &str) {
        let problem = if name.text.contains('.') {
            Some("dotted names are fields")
        } else if literal::constant(&name.text).is_some() {
            Some("this is a built-in constant")
        } else {
            None
        };
        if let Some(problem) = problem {
            self.diags.push(
                Diagnostic::new(
                    Code::E0218,
                    format!("invalid {what} name `{}`", name.text),
                    name.span,
                    problem,
                )
                .with_help(format!(
                    "use a plain identifier such as `{}`",
                    name.text.replace('.', "_").to_lowercase()
                )),
            );
        }
    }

    /// Reads a named list's elements and registers it.
    fn declare_list(&mut self, list: &'a ast::ListDecl) {
        if let Some(path) = &list.file {
            let index = self.add_file_list(list, path);
            self.list_names.insert(list.name.text.as_str(), index);
            return;
        }
        let index = self.add_list(
            Some(list.name.text.clone()),
            &list.items,
            list.items_span,
            list.name.span,
        );
        self.list_names.insert(list.name.text.as_str(), index);
    }

    /// Reads a list's elements (reporting empty, mixed and invalid ones) and
    /// adds it to the policy's lists; returns its index.
    fn add_list(
        &mut self,
        name: Option<String>,
        items: &[ast::Operand],
        span: Span,
        name_span: Span,
    ) -> usize {
        let (kind, elems) = self.list_elements(items, span, name.as_deref());
        let index = self.lists.len();
        let id = ListId(u32::try_from(index).unwrap_or(u32::MAX));
        self.lists.push(ListDef {
            name,
            elems,
            span,
            file: None,
        });
        self.list_infos.push(ListInfo {
            id,
            kind,
            elem_spans: items.iter().map(ast::Operand::span).collect(),
            name_span,
            file: None,
        });
        index
    }

    /// Reads and checks a list file (E0250-E0253) and adds its list.
    fn add_file_list(&mut self, list: &ast::ListDecl, path: &ast::StrLit) -> usize {
        let resolved = listfile::resolve(&self.list_dir, &path.value);
        let shown = path.value.clone();
        let (kind, elems, lines) = match listfile::load(&resolved) {
            Ok(file) => {
                let kind = match file.kind {
                    listfile::EntryKind::Str => ListKind::Str,
                    listfile::EntryKind::Int => ListKind::Int,
                    listfile::EntryKind::Ip => ListKind::Ip,
                };
                (Some(kind), file.values, file.lines)
            }
            Err(error) => {
                let diagnostic = match &error {
                    listfile::ListFileError::Read { reason } => Diagnostic::new(
                        Code::E0250,
                        format!("cannot read list file `{shown}`: {reason}"),
                        path.span,
                        if Path::new(&path.value).is_absolute() {
                            "this file"
                        } else {
                            "read from the policy file's directory"
                        },
                    )
                    .with_help(
                        "a relative path is read from the policy file's directory: correct it, or create the file",
                    ),
                    listfile::ListFileError::BadLine {
                        line,
                        text,
                        why,
                        help,
                    } => Diagnostic::new(
                        Code::E0251,
                        format!("{shown}:{line}: bad entry `{}`: {why}", text.escape_debug()),
                        path.span,
                        format!("line {line} of this file"),
                    )
                    .with_help(help.clone()),
                    listfile::ListFileError::Empty => Diagnostic::new(
                        Code::E0252,
                        format!("list file `{shown}` has no entry"),
                        path.span,
                        "empty, or only blank lines and comments",
                    )
                    .with_help("add entries, one a line, or remove the list"),
                    listfile::ListFileError::TooLarge { what } => Diagnostic::new(
                        Code::E0253,
                        format!("list file `{shown}` is too large: {what}"),
                        path.span,
                        format!(
                            "at most {} entries and {} bytes",
                            listfile::MAX_ENTRIES,
                            listfile::MAX_BYTES
                        ),
                    )
                    .with_help("merge entries into wider networks or prefixes, or split the list"),
                };
                self.report(diagnostic);
                (None, Vec::new(), Vec::new())
            }
        };
        let span = list.items_span;
        let index = self.lists.len();
        let id = ListId(u32::try_from(index).unwrap_or(u32::MAX));
        self.list_infos.push(ListInfo {
            id,
            kind,
            elem_spans: vec![path.span; elems.len()],
            name_span: list.name.span,
            file: Some((shown, lines)),
        });
        self.lists.push(ListDef {
            name: Some(list.name.text.clone()),
            elems,
            span,
            file: Some(resolved.display().to_string()),
        });
        index
    }

    fn list_elements(
        &mut self,
        items: &[ast::Operand],
        span: Span,
        name: Option<&str>,
    ) -> (Option<ListKind>, Vec<Value>) {
        if items.is_empty() {
            let what = name.map_or("this list".to_string(), |n| format!("list `{n}`"));
            self.report(
                Diagnostic::new(Code::E0212, format!("{what} is empty"), span, "no elements")
                    .with_help("add elements, or remove the list and the conditions that use it"),
            );
            return (None, Vec::new());
        }
        let mut kind: Option<(ListKind, Span)> = None;
        let mut valid = true;
        let mut elems = Vec::new();
        let mut first_of: HashMap<Value, Span> = HashMap::new();
        for item in items {
            let Some((item_kind, value)) = self.list_element(item) else {
                valid = false;
                continue;
            };
            if let Some(first) = first_of.get(&value) {
                self.report(
                    Diagnostic::new(
                        Code::W0007,
                        "duplicate list entry",
                        item.span(),
                        "again here",
                    )
                    .with_label(*first, "first here")
                    .with_help("remove the repetition, or correct the value that was meant"),
                );
            } else {
                first_of.insert(value.clone(), item.span());
            }
            match kind {
                None => kind = Some((item_kind, item.span())),
                Some((first, first_span)) if first != item_kind => {
                    self.report(
                        Diagnostic::new(
                            Code::E0211,
                            "list elements have different types",
                            item.span(),
                            format!("this is {}", article(item_kind.name())),
                        )
                        .with_label(
                            first_span,
                            format!("the list's first element is {}", article(first.name())),
                        )
                        .with_help(
                            "a list holds values of one type: split it into one list per type",
                        ),
                    );
                    valid = false;
                }
                Some(_) => {}
            }
            elems.push(value);
        }
        let kind = kind.filter(|_| valid).map(|(kind, _)| kind);
        (kind, elems)
    }

    /// One list element as a value of its own type (ints unchecked for width).
    fn list_element(&mut self, item: &ast::Operand) -> Option<(ListKind, Value)> {
        match item {
            ast::Operand::Str(lit) => Some((ListKind::Str, Value::Str(lit.value.clone()))),
            ast::Operand::Int { text, span } => self
                .int_literal(text, *span, None)
                .map(|v| (ListKind::Int, Value::Int(v))),
            ast::Operand::Ip { text, span } => self
                .ip_literal(text, *span)
                .map(|(addr, prefix)| (ListKind::Ip, Value::Ip { addr, prefix })),
            ast::Operand::Bool { value, .. } => Some((ListKind::Bool, Value::Bool(*value))),
            ast::Operand::Name(name) => {
                if let Some(value) = literal::constant(&name.text) {
                    return Some((ListKind::Int, Value::Int(value)));
                }
                self.report(
                    Diagnostic::new(
                        Code::E0207,
                        format!("`{}` is not a value", name.text),
                        name.span,
                        "lists hold literals",
                    )
                    .with_help("write strings in double quotes: `\"...\"`"),
                );
                None
            }
            ast::Operand::List { span, .. } => {
                self.report(Diagnostic::new(
                    Code::E0207,
                    "lists cannot contain lists",
                    *span,
                    "a list here",
                ));
                None
            }
        }
    }

    /// Parses an integer literal; when `bits` is given, checks it fits.
    fn int_literal(&mut self, text: &str, span: Span, field: Option<(&str, u8)>) -> Option<u64> {
        let value = match literal::parse_int(text) {
            Ok(value) => value,
            Err(error) => {
                let (message, label, help) = match error {
                    literal::IntError::Malformed => (
                        format!("invalid integer literal `{text}`"),
                        "not a number",
                        "write a decimal number, `0x` hex or `0o` octal".to_string(),
                    ),
                    literal::IntError::Negative => (
                        format!("negative integer `{text}`"),
                        "fields are unsigned",
                        "every integer field is 0 or more".to_string(),
                    ),
                    literal::IntError::TooLarge => (
                        format!("integer `{text}` does not fit in 64 bits"),
                        "too large",
                        format!("the largest integer is {}", u64::MAX),
                    ),
                };
                self.report(Diagnostic::new(Code::E0209, message, span, label).with_help(help));
                return None;
            }
        };
        if let Some((field, bits)) = field {
            let max = literal::int_max(bits);
            if value > max {
                self.report(
                    Diagnostic::new(
                        Code::E0209,
                        format!("`{text}` does not fit `{field}` (u{bits})"),
                        span,
                        format!("out of range 0..={max}"),
                    )
                    .with_help(format!(
                        "`{field}` is a {bits}-bit unsigned integer: 0 to {max}"
                    )),
                );
                return None;
            }
        }
        Some(value)
    }

    /// Parses an IP literal, reporting what is wrong with it.
    fn ip_literal(&mut self, text: &str, span: Span) -> Option<(std::net::IpAddr, u8)> {
        match literal::parse_ip(text) {
            Ok(ip) => Some(ip),
            Err(error) => {
                let diagnostic = match error {
                    literal::IpError::Malformed(why) => Diagnostic::new(
                        Code::E0210,
                        format!("invalid IP address `{text}`"),
                        span,
                        why,
                    )
                    .with_help("write an IPv4 address (`10.1.2.3`), an IPv6 address (`fd00::1`), or either with a `/prefix`"),
                    literal::IpError::PrefixTooLong { max } => Diagnostic::new(
                        Code::E0210,
                        format!("invalid network `{text}`"),
                        span,
                        format!("the prefix is at most /{max}"),
                    ),
                    literal::IpError::HostBits { network } => Diagnostic::new(
                        Code::E0210,
                        format!("network `{text}` has bits set past its prefix"),
                        span,
                        "host bits set",
                    )
                    .with_help(format!("the network is `{network}`")),
                };
                self.report(diagnostic);
                None
            }
        }
    }

    /// Finds recursive macros (reporting each cycle once), then checks each
    /// macro's body on its own (types; availability is checked where used).
    fn check_macros(&mut self) {
        let order = self.macro_order.clone();
        // Edges: macro -> (macro it uses, span of the use).
        let mut edges: HashMap<&'a str, Vec<(&'a str, Span)>> = HashMap::new();
        for name in &order {
            let Some(info) = self.macros.get(name) else {
                continue;
            };
            let mut uses = Vec::new();
            collect_bare_names(&info.decl.cond, &mut uses);
            let uses = uses
                .into_iter()
                .filter(|(used, _)| self.macros.contains_key(used))
                .collect();
            edges.insert(name, uses);
        }
        // Iterative depth-first search; a use of a macro on the current path
        // closes a cycle.
        let mut done: HashSet<&'a str> = HashSet::new();
        for start in &order {
            if done.contains(start) {
                continue;
            }
            let mut path: Vec<(&'a str, usize)> = vec![(start, 0)];
            let mut on_path: HashSet<&'a str> = HashSet::from([*start]);
            while let Some((node, next)) = path.last().copied() {
                let out = edges.get(node).map_or(&[][..], Vec::as_slice);
                if let Some(&(target, use_span)) = out.get(next) {
                    if let Some(last) = path.last_mut() {
                        last.1 += 1;
                    }
                    if on_path.contains(target) {
                        self.report_cycle(&path, target, use_span, &edges);
                    } else if !done.contains(target) {
                        path.push((target, 0));
                        on_path.insert(target);
                    }
                } else {
                    done.insert(node);
                    on_path.remove(node);
                    path.pop();
                }
            }
        }
        for name in order {
            if let Some(decl) = self.macros.get(name).map(|info| info.decl) {
                self.check_macro_alone(decl);
            }
        }
    }

    fn report_cycle(
        &mut self,
        path: &[(&'a str, usize)],
        target: &'a str,
        closing_use: Span,
        edges: &HashMap<&'a str, Vec<(&'a str, Span)>>,
    ) {
        let Some(start) = path.iter().position(|(node, _)| *node == target) else {
            return;
        };
        let cycle: Vec<&'a str> = path[start..].iter().map(|(node, _)| *node).collect();
        if cycle
            .iter()
            .any(|name| self.macros.get(name).is_some_and(|m| m.recursive))
        {
            return;
        }
        for name in &cycle {
            if let Some(info) = self.macros.get_mut(name) {
                info.recursive = true;
            }
        }
        let first = cycle[0];
        let mut diagnostic = if cycle.len() == 1 {
            Diagnostic::new(
                Code::E0205,
                format!("macro `{first}` uses itself"),
                closing_use,
                format!("`{first}` used in its own definition"),
            )
        } else {
            let mut d = Diagnostic::new(
                Code::E0205,
                format!("recursive macro `{first}`"),
                closing_use,
                format!(
                    "`{}` uses `{first}`, closing the cycle",
                    cycle[cycle.len() - 1]
                ),
            );
            // Label the uses along the cycle (the first few: a long cycle is
            // summed up in the note).
            for (k, (from, next)) in path[start..path.len() - 1]
                .iter()
                .enumerate()
                .take(MAX_CYCLE_LABELS)
            {
                let to = path[start + k + 1].0;
                let use_span = edges
                    .get(from)
                    .and_then(|out| out.get(next.checked_sub(1)?))
                    .filter(|(used, _)| *used == to)
                    .map(|(_, span)| *span);
                if let Some(span) = use_span {
                    d = d.with_label(span, format!("`{from}` uses `{to}`"));
                }
            }
            d
        };
        let chain = if cycle.len() <= MAX_CYCLE_LABELS {
            let names: Vec<&str> = cycle.iter().copied().chain([first]).collect();
            names.join(" -> ")
        } else {
            format!(
                "{} -> ... ({} macros) -> {first}",
                cycle[..MAX_CYCLE_LABELS].join(" -> "),
                cycle.len()
            )
        };
        diagnostic = diagnostic
            .with_note(format!("cycle: {chain}"))
            .with_help("macros are expanded in place, so a cycle never ends: break it");
        self.report(diagnostic);
    }

    /// Warns about lists and macros nothing uses.
    fn report_unused(&mut self) {
        let mut unused = Vec::new();
        for info in &self.list_infos {
            let Some(name) = self.lists[info.id.0 as usize].name.as_deref() else {
                continue;
            };
            if info.kind.is_none() {
                // Its elements are already reported; one problem at a time.
                continue;
            }
            if !self.used.contains(name) {
                unused.push(
                    Diagnostic::new(
                        Code::W0001,
                        format!("list `{name}` is never used"),
                        info.name_span,
                        "declared here",
                    )
                    .with_help("use it in a condition, or remove it"),
                );
            }
        }
        for name in &self.macro_order {
            if !self.used.contains(*name) {
                if let Some(info) = self.macros.get(name) {
                    unused.push(
                        Diagnostic::new(
                            Code::W0002,
                            format!("macro `{name}` is never used"),
                            info.decl.name.span,
                            "declared here",
                        )
                        .with_help("use it in a condition, or remove it"),
                    );
                }
            }
        }
        self.diags.extend(unused);
    }
}

/// "a str", "an int".
fn article(kind: &str) -> String {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {kind}")
    } else {
        format!("a {kind}")
    }
}

/// Every bare name in a condition (macro references), with its span.
fn collect_bare_names<'a>(cond: &'a ast::Cond, out: &mut Vec<(&'a str, Span)>) {
    match cond {
        ast::Cond::Or { terms, .. } | ast::Cond::And { terms, .. } => {
            for term in terms {
                collect_bare_names(term, out);
            }
        }
        ast::Cond::Not { inner, .. } => collect_bare_names(inner, out),
        ast::Cond::Bare(ast::Operand::Name(name)) => out.push((name.text.as_str(), name.span)),
        ast::Cond::Bare(_) | ast::Cond::Cmp { .. } => {}
    }
}

#[cfg(test)]
mod tests;
