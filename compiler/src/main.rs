//! `polc`: command-line front of the compiler (clap only: read files, render, exit code).

fn main() {}
