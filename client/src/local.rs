//! The commands that print something made from the CLI's own definitions and contact no agent: shell
//! completions and man pages. Both come from the same clap definitions the parser uses, so they never
//! disagree with what the CLI accepts.

use std::io::{self, Write};
use std::path::Path;

use clap::CommandFactory;

use crate::app::{EXIT_FAILED, EXIT_SUCCESS};
use crate::cli::{Cli, Object};

/// Runs `object` if it is a local command; `None` for everything that goes to agents.
pub fn run(object: &Object) -> Option<u8> {
    let result = match object {
        Object::Completions { shell } => print_completions(*shell),
        Object::Man { dir: None } => print_man_page(),
        Object::Man { dir: Some(dir) } => write_man_pages(dir),
        _ => return None,
    };
    Some(match result {
        Ok(()) => EXIT_SUCCESS,
        Err(error) => {
            eprintln!("nsfleet: {error}");
            EXIT_FAILED
        }
    })
}

fn print_completions(shell: clap_complete::Shell) -> io::Result<()> {
    let mut command = Cli::command();
    // Into memory first: clap_complete panics on a write error, and `| head` closes the pipe early.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "nsfleet", &mut script);
    write_stdout(&script)
}

fn print_man_page() -> io::Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    write_stdout(&page)
}

/// A reader that stopped reading (`| head`) is not an error worth a message.
fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// nsfleet.1 and nsfleet-OBJECT.1 (nsfleet-link.1, ...) for every subcommand, nested ones included
/// (nsfleet-link-add.1).
fn write_man_pages(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("create {}: {e}", dir.display())))?;
    let mut command = Cli::command();
    // Builds the subcommands' display names (nsfleet-link, ...) that clap_mangen names the pages by.
    command.build();
    write_pages(&command, dir)
}

fn write_pages(command: &clap::Command, dir: &Path) -> io::Result<()> {
    let name = command
        .get_display_name()
        .unwrap_or_else(|| command.get_name());
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    std::fs::write(&path, page)
        .map_err(|e| io::Error::new(e.kind(), format!("write {}: {e}", path.display())))?;
    // clap's generated `help` subcommands only repeat the pages around them.
    for subcommand in command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
    {
        write_pages(subcommand, dir)?;
    }
    Ok(())
}
