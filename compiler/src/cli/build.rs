//! `polc build FILE [-o OUT] [--emit obj|asm|ir] [--stats]`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use polc::check::check_source;
use polc::compile::build;

use crate::{
    print_diagnostics, read_source, BuildArgs, Emit, MessageFormat, EXIT_ERRORS, EXIT_USAGE,
};

/// Checks, compiles and writes what `args` asks for.
pub fn run(args: &BuildArgs) -> ExitCode {
    let (name, source) = match read_source(&args.file) {
        Ok(read) => read,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let checked = check_source(&name, &source);
    print_diagnostics(
        &checked.diagnostics,
        &name,
        &source,
        MessageFormat::Human,
        args.color.enabled(),
    );
    let Some(policy) = checked.policy else {
        return ExitCode::from(EXIT_ERRORS);
    };
    let built = match build(&policy, &source, args.ringbuf_size) {
        Ok(built) => built,
        Err(error) => {
            eprintln!("polc: {error}");
            return ExitCode::from(EXIT_ERRORS);
        }
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
    ExitCode::SUCCESS
}

fn write_file(path: &PathBuf, bytes: &[u8]) -> Result<(), String> {
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
