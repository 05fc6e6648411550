//! `polc build FILE [-o OUT] [--emit obj|asm|ir] [--stats]`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::{BuildArgs, Emit, EXIT_ERRORS, EXIT_USAGE};

/// Checks, compiles and writes what `args` asks for.
pub fn run(args: &BuildArgs) -> ExitCode {
    let built = match super::load_policy(&args.file, args.color.enabled(), args.ringbuf_size, false)
    {
        Ok(loaded) => loaded.build,
        Err(code) => return code,
    };
    let written = match args.emit {
        Emit::Obj => {
            let bytes = match built.object_bytes() {
                Ok(bytes) => bytes,
                Err(error) => {
                    eprintln!("polc: {error}");
                    return ExitCode::from(EXIT_ERRORS);
                }
            };
            let out = args
                .output
                .clone()
                .unwrap_or_else(|| args.file.with_extension("o"));
            write_file(&out, &bytes)
        }
        Emit::Asm => emit_text(args.output.as_ref(), &built.disassembly()),
        Emit::Ir => emit_text(args.output.as_ref(), &built.ir()),
    };
    if let Err(message) = written {
        eprintln!("{message}");
        return ExitCode::from(EXIT_USAGE);
    }
    if args.stats {
        print!("{}", built.stats());
    }
    // The process ends here: its memory goes with it, without freeing the
    // build piece by piece.
    std::mem::forget(built);
    ExitCode::SUCCESS
}

/// Writes `bytes` to `path`; `-` is standard output, as for clang.
fn write_file(path: &PathBuf, bytes: &[u8]) -> Result<(), String> {
    if path.as_os_str() == "-" {
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(bytes)
            .and_then(|()| stdout.flush())
            .map_err(|error| format!("polc: cannot write to standard output: {error}"));
    }
    std::fs::write(path, bytes)
        .map_err(|error| format!("polc: cannot write `{}`: {error}", path.display()))
}

fn emit_text(path: Option<&PathBuf>, text: &str) -> Result<(), String> {
    match path {
        Some(path) => write_file(path, text.as_bytes()),
        None => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            Ok(())
        }
    }
}
