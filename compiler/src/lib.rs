//! polc: compiles `.pol` runtime-security policies to verified, bounded eBPF.
//!
//! The pipeline, one module per arrow, each carrying a plain data type:
//!
//! ```text
//! &str ──syntax──▶ AST + diagnostics ──check──▶ CheckedPolicy
//!      ──ir──▶ one loop-free decision program per (hook, backend)
//!      ──codegen──▶ instructions + relocations + stats (bpf::asm)
//!      ──measure──▶ cost diagnostics (E04xx) on the emitted programs
//!      ──object──▶ one ELF object with .BTF, .BTF.ext, maps and metadata (abi)
//! ```
//!
//! `compile::compile_source` runs the front end, lowering, codegen and the
//! measurement: a policy it accepts is one the kernel accepts.
//!
//! The library does no I/O beyond the source text it is given and never
//! touches the kernel.

pub use polc_abi as abi;

/// `--version` of both binaries: the version, the commit it was built from
/// and the build date.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("POLC_COMMIT"),
    ", built ",
    env!("POLC_BUILD_DATE"),
    ")"
);

pub mod accounts;
pub mod bpf;
pub mod check;
pub mod codegen;
pub mod compile;
pub mod container;
pub mod diag;
pub mod fmt;
pub mod interp;
pub mod ir;
pub mod kernel;
pub mod listfile;
pub mod lsp;
pub mod manual;
pub mod measure;
pub mod object;
pub mod span;
pub mod syntax;
