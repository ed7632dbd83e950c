//! The process's command line, parsed by clap with only the object it names.
//!
//! clap copies every global option into every object while it builds a command, on every run: 13
//! options, help texts included, into all 23 objects, before it looks at the arguments. That was about
//! half of the client's start (BENCHMARKS.md, "One invocation per command"). So the object is found
//! first, by skipping the leading global options as clap's own definitions of them describe, and clap
//! parses with a tree that holds that object alone, made without the others (`cli::object_command`).
//!
//! The result is the same [`Cli`] the whole tree gives. Whenever the scan is not sure (no object, an
//! abbreviation, `--`, an option it does not know, `--help` and `--version` among them) or the narrow
//! parse fails, the whole tree parses instead, so help, errors and suggestions stay clap's own.

use std::ffi::{OsStr, OsString};

use clap::{ArgAction, Args, Command, FromArgMatches, Parser};

use crate::cli::{object_command, Cli, GlobalOptions};

/// The program's name in [`Cli`]'s definition (a test holds them equal).
const NAME: &str = "nsfleet";

/// [`Cli::parse`], faster: exits with clap's message and status on a usage error.
pub fn parse() -> Cli {
    let args: Vec<OsString> = std::env::args_os().collect();
    match try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    }
}

/// [`Cli::try_parse_from`] through the narrow tree when it can be used.
pub fn try_parse_from(args: &[OsString]) -> Result<Cli, clap::Error> {
    if let Some(narrow) = narrow_command(args) {
        if let Ok(cli) = narrow
            .try_get_matches_from(args)
            .and_then(|matches| Cli::from_arg_matches(&matches))
        {
            return Ok(cli);
        }
    }
    Cli::try_parse_from(args)
}

/// The global options and the one object `args` names, or `None` when that is not certain.
fn narrow_command(args: &[OsString]) -> Option<Command> {
    let globals = GlobalOptions::augment_args(Command::new(NAME));
    let word = object_word(&globals, args.get(1..)?)?;
    // The copies of the global options happen when clap builds the tree it parses, which holds this one
    // object; its verbs' arguments are deferred (`cli.rs`).
    let object = object_command(word.to_str()?)?;
    Some(globals.subcommand(object).subcommand_required(true))
}

/// The first argument that is not a global option or its value: the object's name as written.
fn object_word<'a>(globals: &Command, args: &'a [OsString]) -> Option<&'a OsStr> {
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let text = arg.to_str()?;
        if let Some(long) = text.strip_prefix("--") {
            let (name, attached) = match long.split_once('=') {
                Some((name, _)) => (name, true),
                None => (long, false),
            };
            // `--` itself ends up here with an empty name, which no option has.
            let option = globals
                .get_arguments()
                .find(|a| a.get_long() == Some(name))?;
            if takes_one_value(option)? && !attached {
                rest.next()?;
            }
        } else if let Some(shorts) = text.strip_prefix('-') {
            if shorts.is_empty() {
                return None;
            }
            for (at, short) in shorts.char_indices() {
                let option = globals
                    .get_arguments()
                    .find(|a| a.get_short() == Some(short))?;
                if takes_one_value(option)? {
                    // The rest of the cluster is the value (`-nNS`), or else the next argument is.
                    if at + short.len_utf8() == shorts.len() {
                        rest.next()?;
                    }
                    break;
                }
            }
        } else {
            return Some(arg.as_os_str());
        }
    }
    None
}

/// Whether the option takes exactly one value (`Some(true)`) or none (`Some(false)`); `None` for
/// anything else (optional or several values), which the scan does not try to follow.
fn takes_one_value(option: &clap::Arg) -> Option<bool> {
    match option.get_action() {
        ArgAction::Set | ArgAction::Append => match option.get_num_args() {
            None => Some(true),
            Some(range) if range.min_values() == 1 && range.max_values() == 1 => Some(true),
            Some(_) => None,
        },
        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
