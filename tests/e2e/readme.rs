//! The README's tutorial table, followed line by line as a reader would, ends in working pings: every
//! `nsfleet ...` command of its nsfleet column runs on one simulated host, in order, and succeeds; then
//! real `ping` finds the host and both namespaces reachable across the bridge. Rows whose command needs
//! the reader's own value (UPLINK, ADDRESS) are skipped: they stand for the outside world.

use std::path::Path;

use nsfleet_tests::tutorial::tutorial_lines;
use nsfleet_tests::Lab;

/// The nsfleet commands of the tutorial table, in order: each backquoted span starting `nsfleet ` in
/// the table's second column.
fn tutorial_commands() -> Vec<String> {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("README.md");
    let table = readme
        .split("| tutorial | nsfleet |")
        .nth(1)
        .expect("the README has the tutorial table");
    let mut commands = Vec::new();
    for row in table
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
    {
        let nsfleet_column = row.split(" | ").nth(1).expect("a row of two columns");
        for (index, span) in nsfleet_column.split('`').enumerate() {
            let in_backquotes = index % 2 == 1;
            if in_backquotes {
                if let Some(command) = span.strip_prefix("nsfleet ") {
                    commands.push(command.to_string());
                }
            }
        }
    }
    commands
}

/// Whether a reader can run `command` as written: UPLINK and ADDRESS stand for their own values.
fn runnable(command: &str) -> bool {
    !command.contains("UPLINK") && !command.contains("ADDRESS")
}

#[test]
fn the_readme_tutorial_table_ends_in_working_pings() {
    let commands = tutorial_commands();
    assert!(commands.len() > 30, "the table lost its rows: {commands:?}");
    let lab = Lab::start(1);
    let host = lab.host(0);
    for command in commands.iter().filter(|command| runnable(command)) {
        let run = host.cli(command);
        run.results();
    }
    for (netns, target) in [
        ("netns1", "172.20.0.10"),
        ("netns2", "172.20.0.10"),
        ("netns1", "172.20.0.12"),
        ("", "172.20.0.11"),
    ] {
        let ping = host.ping(netns, target, None);
        assert!(
            ping.success(),
            "{netns:?} -> {target} after the README's table: {ping}"
        );
    }
}

/// The README's table and the tests' shared list (tests/src/tutorial.rs) make the same changes: the
/// same commands that add, delete or set, each once. Only the order may differ (the README removes each
/// port address right after enslaving that port), and the README may spell `peer name`.
#[test]
fn the_readme_table_makes_the_changes_of_the_shared_tutorial_list() {
    let mut readme_changes: Vec<String> = tutorial_commands()
        .iter()
        .filter(|command| runnable(command))
        .filter(|command| {
            command
                .split_whitespace()
                .any(|word| matches!(word, "add" | "del" | "set"))
        })
        .map(|command| command.replace(" peer name ", " peer "))
        .collect();
    let mut shared_changes: Vec<String> = tutorial_lines().into_iter().map(String::from).collect();
    readme_changes.sort();
    shared_changes.sort();
    assert_eq!(
        readme_changes, shared_changes,
        "README.md's tutorial table and tests/src/tutorial.rs disagree"
    );
}
