//! Parts of the `polc` binary that are not argument parsing: running compiled
//! decision programs in the kernel for `polc test`.

pub mod testrun;
