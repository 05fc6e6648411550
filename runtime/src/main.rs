//! `polrt`: command-line front of the runtime.

fn main() {}
