//! The process's command line, parsed by clap with only the object it names.
//!
//! clap copies every global option into every object while it builds a command, on every run: 13
//! options, help texts included, into all 23 objects, before it looks at the arguments. That was about
//! half of the client's start (BENCHMARKS.md, "One invocation per command"). So the object is found
//! first, by skipping the leading global options as clap's own definitions of them describe, and clap
//! parses with a tree that holds that object alone, made without the others (`cli::object_command`).
//!
//! When every global option comes before the object, as in `nsfleet -n netns1 link set ceth1 up`, the
//! two halves are parsed apart: the global options by themselves, the object without them. clap then
//! neither copies the options' definitions into the object and its verb nor copies their values (the
//! defaults included) into every level of the matches, which was a quarter of an invocation's
//! instructions (BENCHMARKS.md). A command line with a global option, help or version after the object
//! goes to the narrow parse instead.
//!
//! The result is the same [`Cli`] the whole tree gives. Whenever the scan is not sure (no object, an
//! abbreviation, `--`, an option it does not know, `--help` and `--version` among them) or the split or
//! narrow parse fails, the whole tree parses instead, so help, errors and suggestions stay clap's own.

use std::ffi::{OsStr, OsString};

use clap::{ArgAction, Args, Command, FromArgMatches, Parser};

use crate::cli::{object_command, Cli, GlobalOptions, Object};

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

/// [`Cli::try_parse_from`] in halves, or through the narrow tree, when either can be used.
pub fn try_parse_from(args: &[OsString]) -> Result<Cli, clap::Error> {
    let globals = global_options();
    if let Some(at) = object_at(&globals, args) {
        let parsed = if every_global_option_first(&globals, args, at) {
            split_parse(globals, args, at)
        } else {
            narrow_command(globals, &args[at]).and_then(|narrow| {
                narrow
                    .try_get_matches_from(args)
                    .and_then(|matches| Cli::from_arg_matches(&matches))
                    .ok()
            })
        };
        if let Some(cli) = parsed {
            return Ok(cli);
        }
    }
    Cli::try_parse_from(args)
}

fn global_options() -> Command {
    GlobalOptions::augment_args(Command::new(NAME))
}

/// Where the object's name is in `args`: past the program's name and the leading global options.
fn object_at(globals: &Command, args: &[OsString]) -> Option<usize> {
    Some(1 + object_position(globals, args.get(1..)?)?)
}

/// No argument after the object could be read as a global option, help or version.
fn every_global_option_first(globals: &Command, args: &[OsString], at: usize) -> bool {
    !args[at + 1..].iter().any(|arg| may_be_global(globals, arg))
}

/// The global options before the object, parsed by themselves, and the object at `at` without them;
/// `None` when either half does not parse. A half that does not parse is a usage error, which the whole
/// tree words: the narrow tree, holding the same object and options, would refuse it too.
fn split_parse(globals: Command, args: &[OsString], at: usize) -> Option<Cli> {
    let object = object_command(args[at].to_str()?)?;
    let global = globals
        // With no subcommand to reach, marking them global would only make clap copy their values.
        .mut_args(|option| option.global(false))
        .try_get_matches_from(&args[..at])
        .and_then(|matches| GlobalOptions::from_arg_matches(&matches))
        .ok()?;
    let object = Command::new(NAME)
        .subcommand(object)
        .subcommand_required(true)
        .try_get_matches_from(std::iter::once(&args[0]).chain(&args[at..]))
        .and_then(|matches| Object::from_arg_matches(&matches))
        .ok()?;
    Some(Cli { global, object })
}

/// Whether clap could read `arg`, after the object, as a global option (which the whole tree would
/// propagate), or as help or version, which the whole tree renders. Today the object parsed alone would
/// refuse each of these anyway (no verb takes hyphenated values or an option named like a global one),
/// and the narrow parse would take over; this check keeps the split right should a verb ever gain such
/// an option, and spares command lines like `link list -o json` the failed attempt.
fn may_be_global(globals: &Command, arg: &OsStr) -> bool {
    let Some(text) = arg.to_str() else {
        return true;
    };
    if let Some(long) = text.strip_prefix("--") {
        let name = long.split_once('=').map_or(long, |(name, _)| name);
        // `--` itself has an empty name: what follows it is not to be judged here.
        name.is_empty()
            || name == "help"
            || name == "version"
            || globals.get_arguments().any(|option| {
                option.get_long() == Some(name)
                    || option
                        .get_all_aliases()
                        .is_some_and(|aliases| aliases.contains(&name))
            })
    } else if let Some(shorts) = text.strip_prefix('-') {
        shorts.chars().any(|short| {
            short == 'h'
                || short == 'V'
                || globals.get_arguments().any(|option| {
                    option.get_short() == Some(short)
                        || option
                            .get_all_short_aliases()
                            .is_some_and(|aliases| aliases.contains(&short))
                })
        })
    } else {
        false
    }
}

/// The global options and the one object `word` names, or `None` when it names none for certain.
fn narrow_command(globals: Command, word: &OsStr) -> Option<Command> {
    // The copies of the global options happen when clap builds the tree it parses, which holds this one
    // object; its verbs' arguments are deferred (`cli.rs`).
    let object = object_command(word.to_str()?)?;
    Some(globals.subcommand(object).subcommand_required(true))
}

/// Where the first argument that is not a global option or its value is: the object's name as written.
fn object_position(globals: &Command, args: &[OsString]) -> Option<usize> {
    let mut rest = args.iter().enumerate();
    while let Some((position, arg)) = rest.next() {
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
            return Some(position);
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
