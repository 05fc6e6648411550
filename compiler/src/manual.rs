//! Shell completions and man pages of a command-line interface, generated
//! from its clap `Command` by `clap_complete` and `clap_mangen`: what
//! `polc completions SHELL`, `polc man DIR` and their `polrt` twins print
//! and write. Returns bytes; the binaries do the I/O.

use std::path::PathBuf;

use clap::Command;
pub use clap_complete::Shell;

/// The arguments of `completions`.
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The arguments of `man`.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// The directory to write the pages into (created if missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// The completion script of `command` for `shell`.
pub fn completions(mut command: Command, shell: Shell) -> Vec<u8> {
    let name = command.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut out);
    out
}

/// The man pages of `command` and of each of its subcommands, as (file
/// name, roff text): `polc.1`, `polc-check.1`, ...
pub fn man_pages(command: Command) -> Result<Vec<(String, Vec<u8>)>, std::io::Error> {
    let mut command = command;
    command.build();
    let name = command.get_name().to_string();
    let mut pages = Vec::new();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    pages.push((format!("{name}.1"), page));
    for sub in command.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let sub_name = format!("{name}-{}", sub.get_name());
        let sub = sub.clone().name(sub_name.clone());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub).render(&mut page)?;
        pages.push((format!("{sub_name}.1"), page));
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Command {
        Command::new("tool").about("does things").subcommand(
            Command::new("check")
                .about("checks")
                .arg(clap::arg!(--fast "quickly")),
        )
    }

    #[test]
    fn every_subcommand_gets_a_page() {
        let pages = man_pages(sample()).expect("renders");
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["tool.1", "tool-check.1"]);
        let check = String::from_utf8_lossy(&pages[1].1);
        assert!(check.contains(".TH tool-check 1"), "{check}");
        assert!(check.contains("quickly"), "{check}");
    }

    #[test]
    fn completions_name_the_subcommands() {
        let bash = String::from_utf8(completions(sample(), Shell::Bash)).expect("utf-8");
        assert!(bash.contains("check"), "{bash}");
        assert!(bash.contains("_tool"), "{bash}");
    }
}
