//! `cargo bench -p polc-bench --bench lsp_latency`: how long `polc lsp`
//! takes from an edit of a 1,000-line policy to the diagnostics it
//! publishes (`textDocument/didChange` with the whole text, as the server
//! asks for, handled by `polc::lsp::Server`: parse, check, lints, cost,
//! the policy's own tests on the interpreter). The policy is realistic:
//! lists, macros, rules on every hook with messages, traces and tests;
//! each edit changes one literal, alternately breaking and fixing a field
//! name. Prints the median, the 90th percentile and the worst; the target
//! is under 10 ms (docs/editors.md). Nothing is asserted.

use std::time::Instant;

use serde_json::json;

/// A policy of about `lines` lines.
fn policy(lines: usize) -> String {
    let mut source = String::from(
        "# A large policy for the latency benchmark.\n\
         list shells = [\"/bin/sh\", \"/bin/bash\", \"/usr/bin/bash\", \"/bin/dash\"]\n\
         list private = [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7]\n\
         macro root = proc.uid == 0\n\n",
    );
    let mut i = 0;
    while source.lines().count() < lines {
        let block = match i % 5 {
            0 => format!(
                "rule exec_{i} {{\n    on exec\n    when exec.path in shells and not root and proc.ppid != {i}\n    audit \"shell {{exec.path}} by uid {{proc.uid}}\"\n}}\n\n"
            ),
            1 => format!(
                "rule open_{i} {{\n    on file.open\n    when file.path startswith \"/srv/app-{i}/\" and file.write\n    deny \"{{proc.comm}} wrote {{file.path}}\"\n}}\n\n"
            ),
            2 => format!(
                "rule connect_{i} {{\n    on net.connect\n    when net.dport == {} and not net.daddr in private\n    deny \"{{proc.comm}} to {{net.daddr}}\"\n}}\n\n",
                1000 + i
            ),
            3 => format!(
                "trace bind_{i} {{\n    on net.bind\n    when net.sport == {}\n    emit proc.pid, proc.comm, net.saddr\n}}\n\n",
                2000 + i
            ),
            _ => format!(
                "test \"connect {i}\" {{\n    on net.connect with net.dport = {}, net.daddr = 198.51.100.7\n    expect deny by connect_{}\n}}\n\n",
                1000 + i - 2,
                i - 2
            ),
        };
        source.push_str(&block);
        i += 1;
    }
    source
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let edits = if quick { 5 } else { 400 };
    let text = policy(1000);
    let lines = text.lines().count();
    let uri = "file:///bench/large.pol";
    let mut server = polc::lsp::Server::new();
    server.handle(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}));
    let opened = server.handle(&json!({
        "jsonrpc": "2.0",
        "method": "textDocument/didOpen",
        "params": {"textDocument": {"uri": uri, "languageId": "pol", "version": 1, "text": text}},
    }));
    let clean = opened[0]["params"]["diagnostics"]
        .as_array()
        .map_or(0, Vec::len);
    let mut times = Vec::with_capacity(edits);
    for edit in 0..edits {
        // Break a field name, then fix it: each edit changes the result.
        let edited = if edit % 2 == 0 {
            text.replacen("proc.ppid", "proc.ppidd", 1)
        } else {
            text.clone()
        };
        let start = Instant::now();
        let published = server.handle(&json!({
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": uri, "version": edit + 2},
                "contentChanges": [{"text": edited}],
            },
        }));
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        let count = published[0]["params"]["diagnostics"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(
            count > clean,
            edit % 2 == 0,
            "the edit shows in the diagnostics"
        );
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "lsp: edit to diagnostics, {lines}-line policy ({} bytes, {clean} diagnostics clean), {edits} edits: median {:.2} ms, p90 {:.2} ms, worst {:.2} ms",
        text.len(),
        at(0.5),
        at(0.9),
        at(1.0)
    );
}
