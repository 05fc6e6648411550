//! Generators for the property tests and the fuzz targets: random
//! well-typed policies as source text ([`policy`]) and random events aimed
//! at their edges ([`events`]), from a seed or from fuzz input bytes
//! ([`rng`]).
//!
//! They live in the tests crate, not in the compiler library: they are test
//! tooling, the compiler must not grow code only tests use, and the fuzz
//! crate (its own workspace) depends on this library to reuse them. They
//! depend on `polc` only (the hook table, the checker's output and the
//! interpreter), never on the kernel.

pub mod events;
pub mod policy;
pub mod rng;
