//! `polc lsp` as editors run it: JSON-RPC messages with `Content-Length`
//! framing on the binary's standard input and output, and a real client,
//! Neovim's built-in one (`nvim --headless`, Debian's `neovim`, installed
//! by `scripts/setup.sh`), editing a policy file.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Session {
    fn start() -> Session {
        let mut child = Command::new(env!("CARGO_BIN_EXE_polc"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("polc lsp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Session {
            child,
            stdin,
            stdout,
            next_id: 1,
        }
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn receive(&mut self) -> Value {
        let mut length = None;
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).expect("read") > 0,
                "polc lsp closed its output"
            );
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length: ") {
                length = value.parse::<usize>().ok();
            }
        }
        let mut body = vec![0; length.expect("a Content-Length header")];
        self.stdout.read_exact(&mut body).expect("read body");
        serde_json::from_slice(&body).expect("a JSON body")
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let message = self.receive();
            if message["id"] == id {
                return message;
            }
        }
    }

    /// The next `publishDiagnostics` notification.
    fn diagnostics(&mut self) -> Value {
        loop {
            let message = self.receive();
            if message["method"] == "textDocument/publishDiagnostics" {
                return message["params"].clone();
            }
        }
    }
}

const URI: &str = "file:///work/policy.pol";

#[test]
fn the_protocol_over_standard_input_and_output() {
    let mut lsp = Session::start();
    let init = lsp.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {}}),
    );
    let capabilities = &init["result"]["capabilities"];
    for capability in [
        "hoverProvider",
        "definitionProvider",
        "referencesProvider",
        "documentFormattingProvider",
    ] {
        assert_eq!(capabilities[capability], true, "{capability}: {init}");
    }
    assert!(capabilities["completionProvider"].is_object());
    assert_eq!(capabilities["renameProvider"]["prepareProvider"], true);
    lsp.notify("initialized", json!({}));

    let text = "list shells = [\"/bin/sh\"]\n\nrule r {\n    on exec\n    when exec.path in shells and proc.ui == 0\n    deny\n}\n";
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": URI, "languageId": "pol", "version": 1, "text": text}}),
    );
    let published = lsp.diagnostics();
    assert_eq!(published["uri"], URI);
    let first = &published["diagnostics"][0];
    assert_eq!(first["code"], "E0201");
    assert_eq!(first["range"]["start"], json!({"line": 4, "character": 33}));
    assert!(first["message"]
        .as_str()
        .is_some_and(|m| m.contains("`proc.uid`")));

    // An edit: diagnostics follow it.
    let fixed = text.replace("proc.ui ", "proc.uid ");
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"text": fixed}]}),
    );
    assert_eq!(lsp.diagnostics()["diagnostics"], json!([]));

    let position = |line: u64, character: u64| json!({"textDocument": {"uri": URI}, "position": {"line": line, "character": character}});
    let hover = lsp.request("textDocument/hover", position(4, 12));
    let value = hover["result"]["contents"]["value"].as_str().unwrap_or("");
    assert!(value.contains("**exec.path**"), "{hover}");
    let definition = lsp.request("textDocument/definition", position(4, 27));
    assert_eq!(
        definition["result"]["range"]["start"],
        json!({"line": 0, "character": 5})
    );
    let completion = lsp.request("textDocument/completion", position(3, 7));
    let labels: Vec<&str> = completion["result"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["label"].as_str())
        .collect();
    assert!(
        labels.contains(&"file.open") && labels.contains(&"net.connect"),
        "{labels:?}"
    );
    let mut rename = position(0, 7);
    rename["newName"] = json!("interpreters");
    let edits = lsp.request("textDocument/rename", rename);
    assert_eq!(
        edits["result"]["changes"][URI].as_array().map(Vec::len),
        Some(2),
        "{edits}"
    );
    let formatting = lsp.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": URI}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    assert_eq!(
        formatting["result"],
        json!([]),
        "already formatted: {formatting}"
    );

    assert_eq!(lsp.request("shutdown", Value::Null)["result"], Value::Null);
    lsp.notify("exit", Value::Null);
    let status = lsp.child.wait().expect("polc lsp ends");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn exit_without_shutdown_is_an_error_and_bad_json_is_answered() {
    let mut lsp = Session::start();
    let body = "{not json";
    write!(lsp.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
    lsp.stdin.flush().expect("flush");
    let reply = lsp.receive();
    assert_eq!(reply["error"]["code"], -32700, "{reply}");
    lsp.notify("exit", Value::Null);
    assert_eq!(lsp.child.wait().expect("ends").code(), Some(1));
}

/// Neovim (`nvim --headless`) runs `polc lsp` with its own client on a
/// policy with a mistake: the diagnostics it receives, a hover, and a
/// formatting of the buffer.
#[test]
fn neovim_receives_diagnostics_hover_and_formatting() {
    let nvim = std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("nvim"))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| panic!("nvim not found: install Neovim (scripts/setup.sh does)"));
    let dir = std::env::temp_dir().join(format!("polc-lsp-nvim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let policy = dir.join("policy.pol");
    std::fs::write(
        &policy,
        "rule r {\n  on exec\n  when proc.ui == 0\n  deny\n}\n",
    )
    .expect("write");
    let script = dir.join("client.lua");
    std::fs::write(&script, NEOVIM_CLIENT).expect("write");
    let out = dir.join("out.txt");
    let mut child = Command::new(nvim)
        .args(["--headless", "--clean", "-n"])
        .arg(&policy)
        .arg("-c")
        .arg(format!("luafile {}", script.display()))
        .env("POLC_BIN", env!("CARGO_BIN_EXE_polc"))
        .env("OUT", &out)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("nvim starts");
    // Neovim quits by itself; a hang is a failure, not a stuck test run.
    let mut waited = Duration::ZERO;
    while child.try_wait().expect("wait").is_none() {
        assert!(
            waited < Duration::from_secs(60),
            "nvim did not finish within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
        waited += Duration::from_millis(100);
    }
    let lines: Vec<String> = std::fs::read_to_string(&out)
        .unwrap_or_else(|e| panic!("nvim wrote no results ({e})"))
        .lines()
        .map(str::to_string)
        .collect();
    let find = |prefix: &str| -> String {
        lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .cloned()
            .unwrap_or_else(|| panic!("no `{prefix}` line in {lines:#?}"))
    };
    let diagnostic = find("diagnostic ");
    assert!(
        diagnostic.starts_with("diagnostic 2:7 E0201 unknown field `proc.ui`"),
        "{diagnostic}"
    );
    assert!(diagnostic.contains("help: a field with a similar name exists: `proc.uid`"));
    assert!(find("hover ").contains("**on**"), "{lines:#?}");
    let formatted = find("formatted ");
    assert_eq!(
        formatted,
        "formatted rule r { |     on exec |     when proc.ui == 0 |     deny | }"
    );
    let _ = std::fs::remove_dir_all(PathBuf::from(&dir));
}

/// The Neovim side: attach the client, wait for diagnostics, hover, format,
/// write what it got to $OUT, quit.
const NEOVIM_CLIENT: &str = r#"
local buf = vim.api.nvim_get_current_buf()
local id = vim.lsp.start_client({
  name = 'polc',
  cmd = { os.getenv('POLC_BIN'), 'lsp' },
  root_dir = vim.fn.getcwd(),
})
vim.lsp.buf_attach_client(buf, id)
vim.wait(20000, function() return #vim.diagnostic.get(buf) > 0 end, 20)
local out = {}
for _, d in ipairs(vim.diagnostic.get(buf)) do
  table.insert(out, string.format('diagnostic %d:%d %s %s', d.lnum, d.col, tostring(d.code),
    (d.message:gsub('\n', ' | '))))
end
local params = { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = 1, character = 3 } }
for _, reply in pairs(vim.lsp.buf_request_sync(buf, 'textDocument/hover', params, 10000) or {}) do
  local value = reply.result and reply.result.contents.value or 'nil'
  table.insert(out, 'hover ' .. (value:gsub('\n', ' | ')))
end
vim.lsp.buf.formatting_sync(nil, 10000)
local text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), ' | ')
table.insert(out, 'formatted ' .. text)
vim.fn.writefile(out, os.getenv('OUT'))
vim.lsp.stop_client(id)
vim.cmd('qa!')
"#;
