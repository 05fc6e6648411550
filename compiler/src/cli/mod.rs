//! The subcommands of the `polc` binary beyond `check`: `build` and `test`,
//! and running compiled decision programs in the kernel for `polc test`.

pub mod build;
pub mod test;
pub mod testrun;
