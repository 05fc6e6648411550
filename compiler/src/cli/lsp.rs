//! `polc lsp`: the language server of `polc::lsp` on standard input and
//! output (JSON-RPC with `Content-Length` headers).

use std::process::ExitCode;

/// Serves until the client says `exit` or closes standard input.
pub fn run() -> ExitCode {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    match polc::lsp::serve(&mut stdin.lock(), &mut stdout.lock()) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("polc lsp: {error}");
            ExitCode::from(crate::EXIT_USAGE)
        }
    }
}
