//! `polc`: command-line front of the compiler (clap only: read files, render, exit code).

mod cli;

fn main() {}
