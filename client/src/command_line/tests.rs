use clap::CommandFactory;

use super::*;
use crate::cli::Object;
use clap::Subcommand;

fn args(line: &str) -> Vec<OsString> {
    std::iter::once("nsfleet")
        .chain(line.split_whitespace())
        .map(OsString::from)
        .collect()
}

/// The narrow parse gives what the whole tree gives: the same `Cli`, or the same error.
fn same_as_the_whole_tree(line: &str) {
    let args = args(line);
    match (try_parse_from(&args), Cli::try_parse_from(&args)) {
        (Ok(narrow), Ok(whole)) => {
            assert_eq!(format!("{narrow:?}"), format!("{whole:?}"), "{line}")
        }
        (Err(narrow), Err(whole)) => {
            assert_eq!(narrow.kind(), whole.kind(), "{line}");
            assert_eq!(
                narrow.render().to_string(),
                whole.render().to_string(),
                "{line}"
            );
        }
        (narrow, whole) => panic!("{line}: narrow {narrow:?}, whole tree {whole:?}"),
    }
}

/// The narrow tree for `args`, as `try_parse_from` makes it when it goes that way.
fn narrow_of(args: &[OsString]) -> Option<Command> {
    let globals = global_options();
    let at = object_at(&globals, args)?;
    narrow_command(globals, &args[at])
}

/// Whether `try_parse_from` parses `args` in halves, and they parse.
fn split(args: &[OsString]) -> Option<Cli> {
    let globals = global_options();
    let at = object_at(&globals, args)?;
    every_global_option_first(&globals, args, at)
        .then(|| split_parse(globals, args, at))
        .flatten()
}

fn narrowed_to(line: &str) -> Option<String> {
    let command = narrow_of(&args(line))?;
    let names: Vec<&str> = command.get_subcommands().map(Command::get_name).collect();
    assert_eq!(names.len(), 1, "{line}: {names:?}");
    Some(names[0].to_string())
}

#[test]
fn the_name_is_the_one_cli_declares() {
    assert_eq!(Cli::command().get_name(), NAME);
}

#[test]
fn the_object_is_found_past_the_global_options() {
    for (line, object) in [
        ("netns list", "netns"),
        ("-n netns1 link set ceth1 up", "link"),
        ("-nnetns1 addr add 172.20.0.11/16 dev ceth1", "address"),
        ("-4 -o json r", "route"),
        ("-46 neigh", "neighbour"),
        ("-o json --host unix:/run/a.sock,unix:/run/b.sock nat add masquerade from 172.20.0.0/16", "nat"),
        ("--host=unix:/x --timeout 2.5 --force l del veth1", "link"),
        ("--ca ca.pem --cert c.pem --key k.pem --token-file t forwarding", "forwarding"),
        ("--inventory hosts.yaml --host @web ping 192.0.2.1 -c 1", "ping"),
        ("-n link link list", "link"),
    ] {
        assert_eq!(narrowed_to(line).as_deref(), Some(object), "{line}");
    }
}

#[test]
fn anything_uncertain_goes_to_the_whole_tree() {
    for line in [
        "",
        "--help",
        "-h link",
        "-V",
        "--version",
        "li list",
        "help link",
        "-- netns",
        "- netns",
        "--no-such-option netns",
        "-x netns",
        "-n",
        "--host",
        "-o json",
    ] {
        assert_eq!(narrowed_to(line), None, "{line:?}");
    }
}

#[test]
fn the_narrow_parse_matches_the_whole_tree() {
    for line in [
        "netns add netns1",
        "netns",
        "netns list -o json",
        "link add veth1 type veth peer name ceth1",
        "link set ceth1 netns netns1",
        "-n netns1 link list",
        "link list -n netns1 -o json",
        "-n netns1 addr add 172.20.0.11/16 dev ceth1",
        "-n netns1 link set ceth1 up",
        "addr add 172.20.0.10/16 brd + dev br0",
        "-n netns1 route add default via 172.20.0.10",
        "-n netns1 ping 172.20.0.1 -c 1",
        "ping 172.20.0.12 -I veth2 -c 1 --timeout 3",
        "nat add masquerade from 172.20.0.0/16 oif br0",
        "forwarding set ipv4 on",
        "-4 route list",
        "-6 route",
        "--host a:1 --host b:2 link list --force",
        "--host=unix:/x,unix:/y -o json neigh list",
        "l ls",
        "a",
        "r s",
        "link del veth1 --ignore-missing",
        "batch setup.batch",
        "monitor",
        "hosts",
        "graph --declared fleet.yaml",
        "apply fleet.yaml --confirm 60",
        "commit status --host a:1",
        "lab list",
    ] {
        let args = args(line);
        let narrow = narrow_of(&args).unwrap_or_else(|| panic!("{line}: not narrowed"));
        if let Err(error) = narrow.try_get_matches_from(&args) {
            panic!("{line}: the narrow tree refused it: {error}");
        }
        same_as_the_whole_tree(line);
    }
}

/// Global options only before the object: the halves are parsed apart. One after it (or help, or
/// `--`): the split steps aside, and the answer is still the whole tree's.
#[test]
fn the_halves_are_parsed_apart_only_when_every_global_option_comes_first() {
    for line in [
        "netns list",
        "-n netns1 link set ceth1 up",
        "--host unix:/x forwarding set ipv4 on",
        "-4 -o json r",
        "--host=a:1,b:2 --timeout 2 ping 172.20.0.12 -I veth2 -c 1",
        "nat add masquerade from 172.20.0.0/16 oif br0",
        "link add veth1 type veth peer name ceth1",
        "link del veth1 --ignore-missing",
    ] {
        assert!(split(&args(line)).is_some(), "{line}: not split");
        same_as_the_whole_tree(line);
    }
    for line in [
        "link list -n netns1",
        "netns list -o json",
        "link del veth1 --force",
        "ping 172.20.0.1 -c 1 -4",
        "route list -46",
        "link set veth1 up --host=a:1",
        "link --help",
        "link list -h",
        "-n netns1 link -- list",
        "link set veth1 up --netn netns1",
    ] {
        assert!(split(&args(line)).is_none(), "{line}: split");
        same_as_the_whole_tree(line);
    }
}

#[test]
fn usage_errors_are_the_whole_trees() {
    for line in [
        "link frobnicate",
        "-46 route",
        "-o yaml link list",
        "--timeout soon netns",
        "netns add",
        "ping 172.20.0.1 -c 0",
        "link set veth1 mtu",
    ] {
        same_as_the_whole_tree(line);
    }
}

#[test]
fn every_nsfleet_line_of_the_readme_parses_as_with_the_whole_tree() {
    let readme = include_str!("../../../README.md");
    let mut lines = Vec::new();
    for line in readme.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("`nsfleet ") {
            let after = &rest[at + "`nsfleet ".len()..];
            let end = after.find('`').unwrap_or(after.len());
            lines.push(after[..end].to_string());
            rest = &after[end..];
        }
        if let Some(command) = line.trim_start().strip_prefix("nsfleet ") {
            lines.push(command.to_string());
        }
    }
    assert!(lines.len() > 50, "only {} lines found", lines.len());
    for line in &lines {
        same_as_the_whole_tree(line);
    }
}

/// Global options with their values, in every spelling the scan must follow.
const OPTIONS: &[&str] = &[
    "-n netns1",
    "-nnetns1",
    "--netns netns1",
    "--netns=netns1",
    "-o json",
    "-ojson",
    "--output=text",
    "-4",
    "-6",
    "--host unix:/x",
    "--host=a:1,b:2",
    "--timeout 2",
    "--timeout=0.5",
    "--force",
    "--ca ca.pem",
    "--token-file t",
    "--inventory hosts.yaml",
];

/// Command lines after the global options: valid ones, by name, alias and abbreviation, and others.
const TAILS: &[&str] = &[
    "netns",
    "netns list",
    "netns add netns1",
    "netns del netns1 --ignore-missing",
    "link",
    "l ls",
    "link list",
    "link set veth1 up",
    "link add veth1 type veth peer name ceth1",
    "link add br0 type bridge",
    "link set veth1 master br0",
    "link del veth1",
    "addr add 172.20.0.1/16 dev veth1",
    "a",
    "address list dev veth1",
    "route",
    "r add default via 172.20.0.10",
    "ro list",
    "neigh list",
    "nat add masquerade from 172.20.0.0/16 oif br0",
    "nat list",
    "forwarding set ipv4 on",
    "forwarding",
    "ping 172.20.0.1 -c 1",
    "ping 172.20.0.12 -I veth2 -c 1",
    "batch setup.batch",
    "monitor",
    "hosts",
    "lab list",
    "plan fleet.yaml",
    "graph --declared fleet.yaml",
    "commit status",
    "li list",
    "link frobnicate",
    "veth1",
    "help link",
    "-- netns",
    "- netns",
    "--help",
    "-V",
    "--no-such netns",
    "-x netns",
    "ping",
    "link set",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

    /// Global options before and after a command line, spelled any way: the narrow parse and the
    /// whole tree agree, on the same `Cli` or the same error.
    #[test]
    fn any_command_line_parses_as_with_the_whole_tree(
        leading in proptest::collection::vec(proptest::sample::select(OPTIONS), 0..4),
        tail in proptest::sample::select(TAILS),
        trailing in proptest::collection::vec(proptest::sample::select(OPTIONS), 0..3),
    ) {
        let line = [leading.join(" "), tail.to_string(), trailing.join(" ")].join(" ");
        same_as_the_whole_tree(&line);
    }
}

/// The narrow parse makes one object from `cli::single`: by its name or any of its aliases it is the
/// object `Object`'s tree holds, arguments, verbs and help texts included, once clap has built both.
#[test]
fn each_object_made_alone_is_the_object_of_the_whole_tree() {
    let mut objects = Object::augment_subcommands(Command::new("objects"));
    objects.build();
    let mut checked = 0;
    // clap's own `help` subcommand is no object; the narrow parse never takes it.
    for object in objects.get_subcommands().filter(|o| o.get_name() != "help") {
        for word in std::iter::once(object.get_name()).chain(object.get_all_aliases()) {
            let made = object_command(word).unwrap_or_else(|| panic!("`{word}` makes no object"));
            // Its place in the list of objects, which only `nsfleet --help` shows, is the one thing
            // that depends on the objects around it.
            let made = made.display_order(object.get_display_order());
            let mut alone = Command::new("objects").subcommand(made);
            alone.build();
            let made = alone.get_subcommands().next().expect("one object");
            assert_eq!(format!("{made:#?}"), format!("{object:#?}"), "`{word}`");
            checked += 1;
        }
    }
    assert!(checked >= 23 + 8, "only {checked} names and aliases");
    for word in ["", "li", "links", "help", "nsfleet", "-n"] {
        assert!(object_command(word).is_none(), "`{word}` made an object");
    }
}
