//! The server driven message by message, as a client would.

use serde_json::{json, Value};

use super::*;

const URI: &str = "file:///p.pol";

fn open(server: &mut Server, text: &str) -> Vec<Value> {
    server.handle(&json!({
        "jsonrpc": "2.0",
        "method": "textDocument/didOpen",
        "params": {"textDocument": {"uri": URI, "languageId": "pol", "version": 1, "text": text}},
    }))
}

fn request(server: &mut Server, method: &str, params: Value) -> Value {
    let replies =
        server.handle(&json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}));
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["id"], 7);
    replies[0].clone()
}

fn at(text: &str, needle: &str, delta: usize) -> Value {
    let offset = text.find(needle).expect("needle") + delta;
    LineIndex::new(text).position(text, offset)
}

fn doc_at(text: &str, needle: &str, delta: usize) -> Value {
    json!({"textDocument": {"uri": URI}, "position": at(text, needle, delta)})
}

const POLICY: &str = "list shells = [\"/bin/sh\"]\nmacro root = proc.uid == 0\n\nrule r {\n    on exec\n    when exec.path in shells and root\n    deny\n}\n\ntest \"t\" {\n    on exec with exec.path = \"/bin/sh\"\n    expect deny by r\n}\n";

#[test]
fn diagnostics_on_open_and_change_carry_codes_and_help() {
    let mut server = Server::new();
    let published = open(
        &mut server,
        "rule r {\n    on exec\n    when proc.ui == 0\n    deny\n}\n",
    );
    assert_eq!(published[0]["method"], "textDocument/publishDiagnostics");
    let diagnostics = &published[0]["params"]["diagnostics"];
    assert_eq!(diagnostics[0]["code"], "E0201");
    assert_eq!(diagnostics[0]["severity"], 1);
    assert_eq!(
        diagnostics[0]["range"]["start"],
        json!({"line": 2, "character": 9})
    );
    assert!(diagnostics[0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("help: a field with a similar name exists: `proc.uid`")));
    let fixed = server.handle(&json!({
        "jsonrpc": "2.0",
        "method": "textDocument/didChange",
        "params": {
            "textDocument": {"uri": URI, "version": 2},
            "contentChanges": [{"text": "rule r {\n    on exec\n    when proc.uid == 0\n    deny\n}\n"}],
        },
    }));
    assert_eq!(fixed[0]["params"]["diagnostics"], json!([]));
}

#[test]
fn failing_policy_tests_are_diagnostics_and_every_test_a_code_lens() {
    let mut server = Server::new();
    let text = POLICY.replace("expect deny by r", "expect allow");
    let published = open(&mut server, &text);
    let diagnostics = published[0]["params"]["diagnostics"]
        .as_array()
        .expect("array");
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0]["code"], "test");
    assert!(diagnostics[0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("expected allow, got deny by r")));
    let lenses = request(
        &mut server,
        "textDocument/codeLens",
        json!({"textDocument": {"uri": URI}}),
    );
    let title = lenses["result"][0]["command"]["title"]
        .as_str()
        .expect("title");
    assert!(title.starts_with("✗ fails"), "{title}");
    open(&mut server, POLICY);
    let lenses = request(
        &mut server,
        "textDocument/codeLens",
        json!({"textDocument": {"uri": URI}}),
    );
    assert_eq!(
        lenses["result"][0]["command"]["title"],
        "✓ passes: deny by r"
    );
}

#[test]
fn hover_explains_fields_hooks_keywords_names_and_codes() {
    let mut server = Server::new();
    open(&mut server, POLICY);
    let hover = |server: &mut Server, needle: &str| {
        let reply = request(server, "textDocument/hover", doc_at(POLICY, needle, 1));
        reply["result"]["contents"]["value"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let field = hover(&mut server, "exec.path in");
    assert!(field.contains("**exec.path**: path"), "{field}");
    assert!(field.contains("`exec`: lsm, tp_btf"), "{field}");
    let hook = hover(&mut server, "exec\n    when");
    assert!(hook.contains("**on exec**"), "{hook}");
    let keyword = hover(&mut server, "deny\n");
    assert!(
        keyword.contains("**deny**: refused with EPERM"),
        "{keyword}"
    );
    let list = hover(&mut server, "shells and");
    assert!(list.contains("list shells = [\"/bin/sh\"]"), "{list}");
    // A diagnostic's code is explained where it is.
    open(
        &mut server,
        "rule r {\n    on exec\n    when proc.ui == 0\n    deny\n}\n",
    );
    let text = "rule r {\n    on exec\n    when proc.ui == 0\n    deny\n}\n";
    let reply = request(
        &mut server,
        "textDocument/hover",
        doc_at(text, "proc.ui", 2),
    );
    let value = reply["result"]["contents"]["value"].as_str().unwrap_or("");
    assert!(
        value.contains("**E0201** (error): unknown field"),
        "{value}"
    );
}

fn labels(reply: &Value) -> Vec<String> {
    reply["result"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["label"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn completion_offers_what_fits_the_place() {
    let mut server = Server::new();
    let text = "list l = [1]\nmacro m = proc.uid == 0\nrule r {\n    on file.open\n    when \n}\nrule s {\n    on \n}\n";
    open(&mut server, text);
    let hooks = labels(&request(
        &mut server,
        "textDocument/completion",
        doc_at(text, "on \n", 3),
    ));
    assert!(hooks.contains(&"file.open".to_string()) && hooks.contains(&"exec".to_string()));
    let fields = labels(&request(
        &mut server,
        "textDocument/completion",
        doc_at(text, "when \n", 5),
    ));
    assert!(fields.contains(&"file.path".to_string()), "{fields:?}");
    assert!(fields.contains(&"proc.uid".to_string()), "{fields:?}");
    assert!(
        !fields.contains(&"exec.path".to_string()),
        "only fields of file.open: {fields:?}"
    );
    assert!(fields.contains(&"m".to_string()), "macros: {fields:?}");
    let text2 = "list l = [1]\nrule r {\n    on exec\n    when proc.uid in \n    \n}\n";
    open(&mut server, text2);
    let lists = labels(&request(
        &mut server,
        "textDocument/completion",
        doc_at(text2, "in \n", 3),
    ));
    assert_eq!(lists, ["l"]);
    let text3 = "rule r {\n    on exec\n    when proc.uid == 0\n    \n}\n";
    open(&mut server, text3);
    let clause = labels(&request(
        &mut server,
        "textDocument/completion",
        doc_at(text3, "    \n}", 4),
    ));
    assert!(
        clause.contains(&"deny".to_string()) && clause.contains(&"when".to_string()),
        "{clause:?}"
    );
    let top = labels(&request(
        &mut server,
        "textDocument/completion",
        doc_at(text3, "rule", 0),
    ));
    assert!(top.contains(&"rule".to_string()), "{top:?}");
}

#[test]
fn definition_references_and_rename() {
    let mut server = Server::new();
    open(&mut server, POLICY);
    let definition = request(
        &mut server,
        "textDocument/definition",
        doc_at(POLICY, "shells and", 2),
    );
    assert_eq!(
        definition["result"]["range"]["start"],
        json!({"line": 0, "character": 5})
    );
    let mut params = doc_at(POLICY, "r {", 0);
    params["context"] = json!({"includeDeclaration": true});
    let references = request(&mut server, "textDocument/references", params);
    let lines: Vec<u64> = references["result"]
        .as_array()
        .expect("array")
        .iter()
        .map(|l| l["range"]["start"]["line"].as_u64().unwrap_or(99))
        .collect();
    assert_eq!(lines, [3, 11]);
    let prepare = request(
        &mut server,
        "textDocument/prepareRename",
        doc_at(POLICY, "root\n", 1),
    );
    assert_eq!(prepare["result"]["placeholder"], "root");
    let mut params = doc_at(POLICY, "root\n", 1);
    params["newName"] = json!("is_root");
    let rename = request(&mut server, "textDocument/rename", params);
    let edits = rename["result"]["changes"][URI].as_array().expect("edits");
    assert_eq!(edits.len(), 2);
    assert!(edits.iter().all(|e| e["newText"] == "is_root"));
    let mut params = doc_at(POLICY, "root\n", 1);
    params["newName"] = json!("deny");
    assert_eq!(
        request(&mut server, "textDocument/rename", params)["error"]["code"],
        REQUEST_FAILED
    );
    let mut params = doc_at(POLICY, "root\n", 1);
    params["newName"] = json!("shells");
    assert_eq!(
        request(&mut server, "textDocument/rename", params)["error"]["code"],
        REQUEST_FAILED
    );
}

#[test]
fn formatting_replaces_the_document_with_its_canonical_layout() {
    let mut server = Server::new();
    let text = "rule r{on exec deny}";
    open(&mut server, text);
    let reply = request(
        &mut server,
        "textDocument/formatting",
        json!({"textDocument": {"uri": URI}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    assert_eq!(
        reply["result"][0]["newText"],
        "rule r {\n    on exec\n    deny\n}\n"
    );
}

#[test]
fn lifecycle_and_unknown_methods() {
    let mut server = Server::new();
    let init = request(&mut server, "initialize", json!({"capabilities": {}}));
    assert_eq!(init["result"]["capabilities"]["hoverProvider"], true);
    assert_eq!(
        request(&mut server, "workspace/symbol", json!({}))["error"]["code"],
        METHOD_NOT_FOUND
    );
    assert_eq!(
        request(&mut server, "shutdown", Value::Null)["result"],
        Value::Null
    );
    assert!(server
        .handle(&json!({"jsonrpc": "2.0", "method": "exit"}))
        .is_empty());
    assert_eq!(server.exit_code(), Some(0));
}

#[test]
fn framing_round_trips_and_serve_answers_in_order() {
    let mut input = Vec::new();
    for message in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}),
        json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": URI, "text": "rule r { on exec }"}}}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}),
        json!({"jsonrpc": "2.0", "method": "exit"}),
    ] {
        write_message(&mut input, &message).expect("write");
    }
    let mut output = Vec::new();
    let code = serve(&mut input.as_slice(), &mut output).expect("serve");
    assert_eq!(code, 0);
    let mut reader = output.as_slice();
    let mut replies = Vec::new();
    while let Some(body) = read_message(&mut reader).expect("read") {
        replies.push(serde_json::from_slice::<Value>(&body).expect("json"));
    }
    assert_eq!(replies.len(), 3);
    assert_eq!(replies[0]["id"], 1);
    assert_eq!(replies[1]["params"]["diagnostics"][0]["code"], "E0306");
    assert_eq!(replies[2]["id"], 2);
}

#[test]
fn every_keyword_of_the_grammar_has_a_doc() {
    let grammar = include_str!("../../../grammar/pol.lalrpop");
    for line in grammar.lines() {
        let line = line.trim();
        if let Some((quoted, _)) = line.split_once("=> Token::") {
            let keyword = quoted.trim().trim_matches('"');
            if !keyword.chars().all(|c| c.is_ascii_lowercase()) {
                continue;
            }
            assert!(
                keyword_doc(keyword).is_some(),
                "no doc for `{keyword}` in lsp/symbols.rs"
            );
        }
    }
}

#[test]
fn hover_on_an_indexed_field_explains_it_by_its_base_name() {
    let mut server = Server::new();
    let text = "rule r {\n    on exec\n    when exec.args[*] == \"-e\" or exec.env[\"LD_PRELOAD\"] != \"\"\n    deny\n}\n";
    open(&mut server, text);
    let hover = |server: &mut Server, needle: &str| {
        let reply = request(server, "textDocument/hover", doc_at(text, needle, 1));
        reply["result"]["contents"]["value"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let args = hover(&mut server, "exec.args[");
    assert!(args.contains("**exec.args[N]**: str"), "{args}");
    assert!(args.contains("`exec`: tp_btf"), "{args}");
    let env = hover(&mut server, "exec.env[");
    assert!(env.contains("**exec.env[\"NAME\"]**"), "{env}");
}

#[test]
fn hover_on_a_list_file_shows_its_path_and_entries() {
    let dir = std::env::temp_dir().join(format!("polc-lsp-list-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let nets = dir.join("nets.txt");
    std::fs::write(&nets, "# c\n10.0.0.0/8\nfd00::/8\n").expect("write");
    let text = format!(
        "list nets = file \"{}\"\n\nrule r {{\n    on net.connect\n    when net.daddr in nets\n    deny\n}}\n",
        nets.display()
    );
    let mut server = Server::new();
    open(&mut server, &text);
    for (needle, delta) in [("nets\n    deny", 1), ("nets.txt", 1)] {
        let reply = request(
            &mut server,
            "textDocument/hover",
            doc_at(&text, needle, delta),
        );
        let value = reply["result"]["contents"]["value"].as_str().unwrap_or("");
        assert!(
            value.contains(&format!(
                "**list file** `{}`: 2 entries of type ip",
                nets.display()
            )),
            "{value}"
        );
    }
    std::fs::remove_dir_all(&dir).expect("clean");
}
