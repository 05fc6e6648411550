//! The language server behind `polc lsp`: the Language Server Protocol over
//! JSON-RPC, written by hand on `serde_json` (the protocol subset is small).
//!
//! [`Server::handle`] takes one message and returns the messages to send:
//! pure, so the protocol tests drive it directly or through the binary's
//! standard input and output ([`serve`], the `Content-Length` framing).
//!
//! What it offers, all from the same passes as `polc check`:
//! - diagnostics on open and on every change (full-text sync): the same
//!   codes, spans, notes and help; secondary labels as related
//!   information; the policy's own `test` blocks run on the interpreter,
//!   a failing one reported at its name (code `test`) and every one as a
//!   code lens ("passes" / what went wrong);
//! - hover: a field's type, hooks, backends and meaning; a hook's fields
//!   and backends; a keyword's doc (`symbols::keyword_doc`); a list,
//!   macro or rule's declaration; the explanation of the diagnostic code
//!   under the cursor;
//! - completion: hooks after `on`, the fields valid on the rule's hook (or
//!   the test's), lists after `in` and the string operators, macros in
//!   conditions, clause keywords and actions, declaration keywords;
//! - go to definition, find references, rename (with prepare) of lists,
//!   macros, rules and traces; formatting (`polc::fmt`).
//!
//! Positions are UTF-16 code units, as the protocol's default says.
//! Depends on `syntax`, `check`, `diag`, `fmt` and `interp`; does no I/O but
//! the stream [`serve`] is given.

mod position;
mod symbols;

use std::collections::HashMap;
use std::io::{BufRead, Write};

use serde_json::{json, Value};

use crate::check::hooks::{FieldId, Hook, HOOKS};
use crate::check::reference;
use crate::check::{check_source, CONSTANTS};
use crate::diag::{Code, Diagnostic, Severity};
use crate::span::Span;
use crate::syntax::lexer::{self, Token};
pub use position::LineIndex;
use symbols::{keyword_doc, Symbols};

/// JSON-RPC error: the method does not exist.
const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC error: bad parameters.
const INVALID_PARAMS: i64 = -32602;
/// LSP error: the request failed (e.g. renaming to a keyword).
const REQUEST_FAILED: i64 = -32803;

/// One open document.
struct Document {
    text: String,
    index: LineIndex,
}

/// The server's state: the open documents and whether `shutdown` came.
#[derive(Default)]
pub struct Server {
    documents: HashMap<String, Document>,
    shutdown: bool,
    exit: Option<u8>,
}

impl Server {
    /// A server with no document open.
    pub fn new() -> Server {
        Server::default()
    }

    /// After `exit`: the process's exit code (0 when `shutdown` came first).
    pub fn exit_code(&self) -> Option<u8> {
        self.exit
    }

    /// Handles one incoming message; returns the messages to send.
    pub fn handle(&mut self, message: &Value) -> Vec<Value> {
        let method = message.get("method").and_then(Value::as_str);
        let id = message.get("id").cloned();
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        let Some(method) = method else {
            // A response to a request of ours (we send none): ignored.
            return Vec::new();
        };
        let result = match method {
            "initialize" => Ok(initialize_result()),
            "initialized" | "$/cancelRequest" | "$/setTrace" => return Vec::new(),
            "shutdown" => {
                self.shutdown = true;
                Ok(Value::Null)
            }
            "exit" => {
                self.exit = Some(if self.shutdown { 0 } else { 1 });
                return Vec::new();
            }
            "textDocument/didOpen" => return self.did_open(&params),
            "textDocument/didChange" => return self.did_change(&params),
            "textDocument/didClose" => return self.did_close(&params),
            "textDocument/didSave" => return Vec::new(),
            "textDocument/hover" => self.with_document(&params, hover),
            "textDocument/completion" => self.with_document(&params, completion),
            "textDocument/definition" => self.with_document(&params, definition),
            "textDocument/references" => self.with_document(&params, references),
            "textDocument/prepareRename" => self.with_document(&params, prepare_rename),
            "textDocument/rename" => self.with_document(&params, rename),
            "textDocument/formatting" => self.with_document(&params, formatting),
            "textDocument/codeLens" => self.with_document(&params, code_lenses),
            _ if id.is_none() => return Vec::new(),
            other => Err((METHOD_NOT_FOUND, format!("`{other}` is not supported"))),
        };
        let Some(id) = id else {
            return Vec::new();
        };
        vec![match result {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err((code, message)) => json!({
                "jsonrpc": "2.0",
                "id": id,
                "error": {"code": code, "message": message},
            }),
        }]
    }

    fn with_document(
        &self,
        params: &Value,
        f: impl FnOnce(&Request<'_>) -> Result<Value, (i64, String)>,
    ) -> Result<Value, (i64, String)> {
        let uri = params
            .pointer("/textDocument/uri")
            .and_then(Value::as_str)
            .ok_or((INVALID_PARAMS, "no textDocument.uri".to_string()))?;
        let document = self
            .documents
            .get(uri)
            .ok_or((INVALID_PARAMS, format!("`{uri}` is not open")))?;
        let offset = params
            .get("position")
            .map(|position| document.index.offset(&document.text, position));
        f(&Request {
            uri,
            text: &document.text,
            index: &document.index,
            offset: offset.unwrap_or(0),
            params,
        })
    }

    fn did_open(&mut self, params: &Value) -> Vec<Value> {
        let (Some(uri), Some(text)) = (
            params.pointer("/textDocument/uri").and_then(Value::as_str),
            params.pointer("/textDocument/text").and_then(Value::as_str),
        ) else {
            return Vec::new();
        };
        self.set_text(uri, text.to_string())
    }

    fn did_change(&mut self, params: &Value) -> Vec<Value> {
        let Some(uri) = params.pointer("/textDocument/uri").and_then(Value::as_str) else {
            return Vec::new();
        };
        let Some(changes) = params.get("contentChanges").and_then(Value::as_array) else {
            return Vec::new();
        };
        let mut text = match self.documents.get(uri) {
            Some(document) => document.text.clone(),
            None => String::new(),
        };
        for change in changes {
            let Some(new_text) = change.get("text").and_then(Value::as_str) else {
                continue;
            };
            match change.get("range") {
                // Incremental changes are applied too, though the server
                // asks for full text.
                Some(range) => {
                    let index = LineIndex::new(&text);
                    let start = range.get("start").map_or(0, |p| index.offset(&text, p));
                    let end = range.get("end").map_or(start, |p| index.offset(&text, p));
                    if start <= end && end <= text.len() {
                        text.replace_range(start..end, new_text);
                    }
                }
                None => text = new_text.to_string(),
            }
        }
        self.set_text(uri, text)
    }

    fn did_close(&mut self, params: &Value) -> Vec<Value> {
        let Some(uri) = params.pointer("/textDocument/uri").and_then(Value::as_str) else {
            return Vec::new();
        };
        self.documents.remove(uri);
        vec![publish(uri, Vec::new())]
    }

    fn set_text(&mut self, uri: &str, text: String) -> Vec<Value> {
        let index = LineIndex::new(&text);
        let diagnostics = document_diagnostics(uri, &text, &index);
        self.documents
            .insert(uri.to_string(), Document { text, index });
        vec![publish(uri, diagnostics)]
    }
}

/// A request on one document.
struct Request<'a> {
    uri: &'a str,
    text: &'a str,
    index: &'a LineIndex,
    /// The byte offset of `params.position`.
    offset: usize,
    params: &'a Value,
}

impl Request<'_> {
    fn range(&self, span: Span) -> Value {
        self.index.range(self.text, span)
    }

    fn location(&self, span: Span) -> Value {
        json!({"uri": self.uri, "range": self.range(span)})
    }
}

fn initialize_result() -> Value {
    json!({
        "capabilities": {
            "textDocumentSync": {"openClose": true, "change": 1},
            "hoverProvider": true,
            "completionProvider": {"triggerCharacters": ["."]},
            "definitionProvider": true,
            "referencesProvider": true,
            "renameProvider": {"prepareProvider": true},
            "documentFormattingProvider": true,
            "codeLensProvider": {"resolveProvider": false},
        },
        "serverInfo": {"name": "polc", "version": crate::LONG_VERSION},
    })
}

fn publish(uri: &str, diagnostics: Vec<Value>) -> Value {
    json!({
        "jsonrpc": "2.0",
        "method": "textDocument/publishDiagnostics",
        "params": {"uri": uri, "diagnostics": diagnostics},
    })
}

/// Every diagnostic of `polc check`, plus the failing `test` blocks.
pub fn document_diagnostics(uri: &str, text: &str, index: &LineIndex) -> Vec<Value> {
    let checked = check_source(uri, text);
    let mut out: Vec<Value> = checked
        .diagnostics
        .iter()
        .map(|d| lsp_diagnostic(uri, text, index, d))
        .collect();
    if let Some(policy) = &checked.policy {
        for test in &policy.tests {
            let (_, problems) = run_test(policy, test);
            if problems.is_empty() {
                continue;
            }
            let name = test_name_span(text, test.span);
            out.push(json!({
                "range": index.range(text, name),
                "severity": 1,
                "code": "test",
                "source": "polc test",
                "message": format!("test \"{}\" fails: {}", test.name, problems.join("; ")),
            }));
        }
    }
    out
}

/// The span of a test's name (its string literal) in its declaration.
fn test_name_span(text: &str, test: Span) -> Span {
    let decl = text.get(test.range()).unwrap_or("");
    match (decl.find('"'), decl.find('{')) {
        (Some(open), Some(brace)) if open < brace => {
            let close = decl[open + 1..].find('"').map_or(brace, |c| open + 2 + c);
            Span::new(test.start as usize + open, test.start as usize + close)
        }
        _ => test,
    }
}

fn lsp_diagnostic(uri: &str, text: &str, index: &LineIndex, d: &Diagnostic) -> Value {
    let mut message = d.message.clone();
    if let Some(label) = d.labels.iter().find(|l| l.primary) {
        if !label.message.is_empty() {
            message.push_str(&format!("\n{}", label.message));
        }
    }
    for note in &d.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let related: Vec<Value> = d
        .labels
        .iter()
        .filter(|l| !l.primary)
        .map(|l| {
            json!({
                "location": {"uri": uri, "range": index.range(text, l.span)},
                "message": l.message,
            })
        })
        .collect();
    json!({
        "range": index.range(text, d.primary_span()),
        "severity": match d.severity { Severity::Error => 1, Severity::Warning => 2 },
        "code": d.code.as_str(),
        "source": "polc",
        "message": message,
        "relatedInformation": related,
    })
}

/// The token under (or just before) `offset`.
fn token_at<'s>(tokens: &[lexer::Spanned<'s>], offset: usize) -> Option<lexer::Spanned<'s>> {
    tokens
        .iter()
        .find(|(start, _, end)| *start <= offset && offset <= *end)
        .copied()
}

fn markdown(value: String) -> Value {
    json!({"contents": {"kind": "markdown", "value": value}})
}

fn hover(request: &Request<'_>) -> Result<Value, (i64, String)> {
    let lexed = lexer::lex(request.text);
    let mut parts: Vec<String> = Vec::new();
    if let Some((start, token, end)) = token_at(&lexed.tokens, request.offset) {
        let span = Span::new(start, end);
        match token {
            Token::Ident(name) => {
                let symbols = Symbols::of(request.text);
                if let Some(field) = FieldId::from_name(name)
                    .or_else(|| crate::check::hooks::indexed_by_base(name).first().copied())
                {
                    let hook = symbols.hook_at(request.offset);
                    for field in std::iter::once(field).chain(
                        crate::check::hooks::indexed_by_base(name)
                            .into_iter()
                            .skip(1),
                    ) {
                        parts.push(field_doc(field, hook));
                    }
                } else if let Some(hook) = Hook::from_name(name) {
                    parts.push(hook_doc(hook));
                } else if let Some(doc) = crate::check::path_part_doc(name) {
                    parts.push(doc);
                } else if let Some(doc) = crate::check::account_name_doc(name) {
                    parts.push(doc);
                } else if let Some(decl) = symbols.declaration_of(name) {
                    parts.push(format!(
                        "```pol\n{}\n```",
                        symbols.declaration_text(request.text, decl)
                    ));
                    parts.extend(list_file_doc(request, |list| list.name.text == name));
                } else if let Some(value) =
                    CONSTANTS.iter().find(|c| c.name == name).map(|c| c.value)
                {
                    parts.push(format!("**{name}**: a built-in constant, {value}"));
                }
            }
            Token::Str(_) => {
                parts.extend(list_file_doc(request, |list| {
                    list.file.as_ref().is_some_and(|f| f.span == span)
                }));
            }
            other => {
                if let Some(doc) = other.keyword().and_then(keyword_doc) {
                    parts.push(format!(
                        "**{}**: {doc}",
                        other.keyword().unwrap_or_default()
                    ));
                }
            }
        }
        // The diagnostics at this place, explained.
        let checked = check_source(request.uri, request.text);
        let mut seen: Vec<Code> = Vec::new();
        for diagnostic in &checked.diagnostics {
            let at = diagnostic.primary_span();
            let overlaps = at.start <= span.end && span.start <= at.end.max(at.start + 1);
            if overlaps && !seen.contains(&diagnostic.code) {
                seen.push(diagnostic.code);
                let doc = diagnostic.code.doc();
                parts.push(format!(
                    "**{}** ({}): {}\n\n{}\n\n**Fix:** {}",
                    diagnostic.code,
                    diagnostic.severity.as_str(),
                    doc.title,
                    doc.what,
                    doc.fix
                ));
            }
        }
        if parts.is_empty() {
            return Ok(Value::Null);
        }
        let mut result = markdown(parts.join("\n\n---\n\n"));
        result["range"] = request.range(span);
        return Ok(result);
    }
    Ok(Value::Null)
}

/// Hover text of a list file (`list NAME = file "PATH"`) the predicate
/// picks: where it is read from, its entries now, or why it cannot be used.
fn list_file_doc(
    request: &Request<'_>,
    pick: impl Fn(&crate::syntax::ast::ListDecl) -> bool,
) -> Option<String> {
    use crate::check::listfile;
    let (file, _) = crate::syntax::parse(request.text);
    let list = file.decls.iter().find_map(|decl| match decl {
        crate::syntax::ast::Decl::List(list) if list.file.is_some() && pick(list) => Some(list),
        _ => None,
    })?;
    let path = listfile::resolve(
        &listfile::policy_dir(request.uri),
        &list.file.as_ref()?.value,
    );
    Some(match listfile::load(&path) {
        Ok(entries) => format!(
            "**list file** `{}`: {} entries of type {} (polrt refills the list's maps in place when the file changes)",
            path.display(),
            entries.values.len(),
            entries.kind.name()
        ),
        Err(error) => format!("**list file** `{}`: {error}", path.display()),
    })
}

/// Hover text of a field: type, hooks, backends (on `hook` when known), meaning.
fn field_doc(field: FieldId, hook: Option<Hook>) -> String {
    let spec = field.spec();
    let hooks: Vec<Hook> = Hook::ALL
        .into_iter()
        .filter(|h| field.available_on(*h))
        .collect();
    let hooks_text = if hooks.len() == Hook::ALL.len() {
        "every hook".to_string()
    } else {
        hooks
            .iter()
            .map(|h| format!("`{h}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let backends: Vec<String> = hooks
        .iter()
        .filter(|h| hook.is_none_or(|rule_hook| rule_hook == **h))
        .map(|h| {
            let on: Vec<&str> = reference::field_backends(field, *h)
                .iter()
                .map(|b| b.name())
                .collect();
            format!(
                "`{h}`: {}",
                if on.is_empty() {
                    "none".to_string()
                } else {
                    on.join(", ")
                }
            )
        })
        .collect();
    let mut text = format!(
        "**{}**: {}\n\n{}\n\nHooks: {hooks_text}. Backends that read it: {}.",
        spec.name,
        reference::type_text(field),
        spec.doc,
        backends.join("; ")
    );
    if let Some(hook) = hook.filter(|h| !field.available_on(*h)) {
        text.push_str(&format!("\n\nNot available on `{hook}` (E0302)."));
    }
    text
}

fn hook_doc(hook: Hook) -> String {
    let spec = hook.spec();
    let fields: Vec<String> = reference::own_fields(hook)
        .iter()
        .map(|name| format!("`{name}`"))
        .collect();
    let backends: Vec<&str> = spec.backends.iter().map(|b| b.kind.name()).collect();
    format!(
        "**on {}**: {}\n\nFields beyond `proc.*`: {}. Backends, strongest first: {}.",
        spec.name,
        spec.doc,
        if fields.is_empty() {
            "none".to_string()
        } else {
            fields.join(", ")
        },
        backends.join(", ")
    )
}

/// LSP completion item kinds.
const KIND_KEYWORD: u32 = 14;
const KIND_FIELD: u32 = 5;
const KIND_EVENT: u32 = 23;
const KIND_VARIABLE: u32 = 6;
const KIND_FUNCTION: u32 = 3;
const KIND_CONSTANT: u32 = 21;

fn item(label: &str, kind: u32, detail: String) -> Value {
    json!({"label": label, "kind": kind, "detail": detail})
}

fn completion(request: &Request<'_>) -> Result<Value, (i64, String)> {
    let text = request.text;
    let offset = request.offset.min(text.len());
    // The word being typed (a dotted name may be half written).
    let word_start = text[..offset]
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .last()
        .map_or(offset, |(i, _)| i);
    let lexed = lexer::lex(&text[..word_start]);
    let prev = lexed.tokens.last().map(|(_, t, _)| *t);
    let symbols = Symbols::of(text);
    let context = symbols.context_at(word_start);
    let hook = symbols.hook_at(word_start);
    let fields = |kinds: &mut Vec<Value>| {
        for field in FieldId::all()
            .filter(|f| !f.spec().internal() && hook.is_none_or(|h| f.available_on(h)))
        {
            kinds.push(item(
                field.spec().name,
                KIND_FIELD,
                format!("{} — {}", reference::type_text(field), field.spec().doc),
            ));
        }
        // User and group names, where their id field is.
        for (name, id) in crate::check::account_name_fields() {
            if hook.is_none_or(|h| id.available_on(h)) {
                let doc = crate::check::account_name_doc(name).unwrap_or_default();
                kinds.push(item(name, KIND_FIELD, doc));
            }
        }
    };
    let mut items: Vec<Value> = Vec::new();
    match prev {
        Some(Token::On) => {
            for spec in HOOKS {
                items.push(item(spec.name, KIND_EVENT, spec.doc.to_string()));
            }
        }
        Some(
            Token::In | Token::StartsWith | Token::EndsWith | Token::Contains | Token::Matches,
        ) => {
            for name in symbols.lists() {
                items.push(item(name, KIND_VARIABLE, "list".to_string()));
            }
        }
        Some(Token::When | Token::And | Token::Or | Token::Not | Token::LParen)
            if context != symbols::Context::TopLevel =>
        {
            fields(&mut items);
            for name in symbols.macros() {
                items.push(item(name, KIND_FUNCTION, "macro".to_string()));
            }
        }
        Some(Token::Emit | Token::With) => fields(&mut items),
        Some(Token::Comma) if context != symbols::Context::TopLevel => fields(&mut items),
        Some(Token::Assign) if context == symbols::Context::TopLevel => {
            for name in symbols.macros() {
                items.push(item(name, KIND_FUNCTION, "macro".to_string()));
            }
            fields(&mut items);
        }
        Some(
            Token::EqEq
            | Token::NotEq
            | Token::Lt
            | Token::Le
            | Token::Gt
            | Token::Ge
            | Token::Has
            | Token::HasAny,
        ) => {
            for constant in CONSTANTS {
                items.push(item(
                    constant.name,
                    KIND_CONSTANT,
                    format!("constant {} ({})", constant.value, constant.kind.describe()),
                ));
            }
        }
        Some(Token::By) | Some(Token::Traces) => {
            for name in symbols.rules() {
                items.push(item(name, KIND_FUNCTION, "rule or trace".to_string()));
            }
        }
        _ => {
            let keywords: &[&str] = match context {
                symbols::Context::Rule => &["on", "when", "emit", "allow", "audit", "deny", "kill"],
                symbols::Context::Test => &["on", "expect", "with", "by", "traces", "no"],
                symbols::Context::TopLevel => &["list", "macro", "rule", "trace", "test", "allow"],
            };
            for keyword in keywords {
                let doc = keyword_doc(keyword).unwrap_or_default();
                items.push(item(keyword, KIND_KEYWORD, doc.to_string()));
            }
            if matches!(context, symbols::Context::Rule) {
                for op in [
                    "and",
                    "or",
                    "not",
                    "in",
                    "startswith",
                    "endswith",
                    "contains",
                    "has",
                    "matches",
                ] {
                    let doc = keyword_doc(op).unwrap_or_default();
                    items.push(item(op, KIND_KEYWORD, doc.to_string()));
                }
            }
        }
    }
    Ok(json!({"isIncomplete": false, "items": items}))
}

fn definition(request: &Request<'_>) -> Result<Value, (i64, String)> {
    let symbols = Symbols::of(request.text);
    Ok(match symbols.symbol_at(request.offset) {
        Some(symbol) => request.location(symbol.declaration),
        None => Value::Null,
    })
}

fn references(request: &Request<'_>) -> Result<Value, (i64, String)> {
    let symbols = Symbols::of(request.text);
    let Some(symbol) = symbols.symbol_at(request.offset) else {
        return Ok(Value::Null);
    };
    let include_declaration = request
        .params
        .pointer("/context/includeDeclaration")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut spans: Vec<Span> = Vec::new();
    if include_declaration {
        spans.push(symbol.declaration);
    }
    spans.extend(symbol.references.iter().copied());
    Ok(Value::Array(
        spans.into_iter().map(|s| request.location(s)).collect(),
    ))
}

fn prepare_rename(request: &Request<'_>) -> Result<Value, (i64, String)> {
    let symbols = Symbols::of(request.text);
    Ok(match symbols.symbol_at(request.offset) {
        Some(symbol) => {
            let at = symbol
                .all_spans()
                .find(|s| s.start as usize <= request.offset && request.offset <= s.end as usize)
                .unwrap_or(symbol.declaration);
            json!({"range": request.range(at), "placeholder": symbol.name})
        }
        None => Value::Null,
    })
}

fn rename(request: &Request<'_>) -> Result<Value, (i64, String)> {
    let new_name = request
        .params
        .get("newName")
        .and_then(Value::as_str)
        .ok_or((INVALID_PARAMS, "no newName".to_string()))?;
    let symbols = Symbols::of(request.text);
    let Some(symbol) = symbols.symbol_at(request.offset) else {
        return Err((REQUEST_FAILED, "nothing to rename here".to_string()));
    };
    let valid = new_name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && new_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid || lexer::is_keyword(new_name) {
        return Err((
            REQUEST_FAILED,
            format!("`{new_name}` is not a valid name (a plain identifier that is not a keyword)"),
        ));
    }
    if let Some(other) = symbols.clash(&symbol, new_name) {
        return Err((
            REQUEST_FAILED,
            format!("`{new_name}` is already the name of a {other}"),
        ));
    }
    let edits: Vec<Value> = symbol
        .all_spans()
        .map(|span| json!({"range": request.range(span), "newText": new_name}))
        .collect();
    Ok(json!({"changes": {request.uri: edits}}))
}

fn formatting(request: &Request<'_>) -> Result<Value, (i64, String)> {
    match crate::fmt::format_source(request.text) {
        Ok(formatted) if formatted == request.text => Ok(json!([])),
        Ok(formatted) => Ok(json!([{
            "range": request.range(Span::new(0, request.text.len())),
            "newText": formatted,
        }])),
        // Nothing to do on a file with syntax errors (they are diagnostics).
        Err(_) => Ok(Value::Null),
    }
}

fn code_lenses(request: &Request<'_>) -> Result<Value, (i64, String)> {
    let checked = check_source(request.uri, request.text);
    let Some(policy) = &checked.policy else {
        return Ok(json!([]));
    };
    let lenses: Vec<Value> = policy
        .tests
        .iter()
        .map(|test| {
            let (decision, problems) = run_test(policy, test);
            let title = if problems.is_empty() {
                format!(
                    "✓ passes: {}",
                    crate::interp::describe_decision(
                        policy,
                        decision.rule,
                        decision.action,
                        &decision.traces
                    )
                )
            } else {
                format!("✗ fails: {}", problems.join("; "))
            };
            json!({
                "range": request.range(test_name_span(request.text, test.span)),
                "command": {"title": title, "command": ""},
            })
        })
        .collect();
    Ok(Value::Array(lenses))
}

/// Serves LSP messages from `input` to `output` until `exit` (or the end of
/// the input); returns the exit code the protocol asks for.
pub fn serve(input: &mut impl BufRead, output: &mut impl Write) -> std::io::Result<u8> {
    let mut server = Server::new();
    while let Some(message) = read_message(input)? {
        let message: Value = match serde_json::from_slice(&message) {
            Ok(value) => value,
            Err(error) => {
                write_message(
                    output,
                    &json!({
                        "jsonrpc": "2.0",
                        "id": null,
                        "error": {"code": -32700, "message": format!("parse error: {error}")},
                    }),
                )?;
                continue;
            }
        };
        for reply in server.handle(&message) {
            write_message(output, &reply)?;
        }
        if let Some(code) = server.exit_code() {
            return Ok(code);
        }
    }
    Ok(1)
}

/// Reads one framed message; `None` at the end of the input.
pub fn read_message(input: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut length: Option<usize> = None;
    loop {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end();
        if line.is_empty() {
            if length.is_some() {
                break;
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok();
            }
        }
    }
    let length = length.unwrap_or(0);
    if length > 64 << 20 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a message of {length} bytes"),
        ));
    }
    let mut body = vec![0; length];
    input.read_exact(&mut body)?;
    Ok(Some(body))
}

/// Writes one framed message.
pub fn write_message(output: &mut impl Write, message: &Value) -> std::io::Result<()> {
    let body = message.to_string();
    write!(output, "Content-Length: {}\r\n\r\n{body}", body.len())?;
    output.flush()
}

#[cfg(test)]
mod tests;

/// Runs one of the policy's tests on the interpreter, as `polc test` does
/// by default: the user and group names it compares with resolve through
/// this machine's `/etc/passwd` and `/etc/group` (a name they lack fails
/// the test, saying so).
fn run_test(
    policy: &crate::check::policy::CheckedPolicy,
    test: &crate::check::policy::PolicyTest,
) -> (crate::interp::Decision, Vec<String>) {
    if crate::accounts::account_fields(policy).is_empty() {
        return crate::interp::run_test(policy, test);
    }
    let names = crate::accounts::Accounts::read(
        std::path::Path::new("/etc/passwd"),
        std::path::Path::new("/etc/group"),
    )
    .and_then(|accounts| accounts.event_values(policy));
    match names {
        Ok(names) => crate::interp::run_test_with(policy, test, &names),
        Err(why) => {
            let (decision, _) = crate::interp::run_test(policy, test);
            (
                decision,
                vec![format!(
                    "{why} (`polc test --passwd FILE --group FILE` resolves them through other files)"
                )],
            )
        }
    }
}
