//! Shell completions and man pages: made from the parser's own definitions, printed without contacting
//! any agent, and usable by the shell and by man.

#![allow(clippy::unwrap_used)]

// Only the process runner of the support module is used here, not its fake agent.
#[allow(unused_imports)]
mod support;

use std::process::Command;

use support::nsfleet;

#[test]
fn bash_completion_loads_in_bash_and_completes_objects() {
    let script = nsfleet(&["--host", "unix:/nonexistent.sock", "completions", "bash"]);
    assert_eq!(script.code, 0, "{}", script.stderr);
    // Sourced from a file: the script is larger than one argument may be (MAX_ARG_STRLEN, 128 KiB).
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("nsfleet.bash");
    std::fs::write(&path, &script.stdout).expect("the completion script written");
    // Completing `nsfleet li` in a real bash, through the function the script registers.
    let probe = format!(
        "source '{}'\nCOMP_WORDS=(nsfleet li); COMP_CWORD=1; _nsfleet nsfleet li nsfleet; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let bash = Command::new("bash")
        .args(["--norc", "-c", &probe])
        .output()
        .expect("bash runs");
    let offered = String::from_utf8_lossy(&bash.stdout);
    assert!(
        offered.lines().any(|word| word == "link"),
        "bash offered {offered:?}; stderr {}",
        String::from_utf8_lossy(&bash.stderr)
    );
}

#[test]
fn zsh_and_fish_scripts_name_every_object() {
    for shell in ["zsh", "fish"] {
        let script = nsfleet(&["completions", shell]);
        assert_eq!(script.code, 0, "{shell}: {}", script.stderr);
        for object in [
            "netns",
            "link",
            "address",
            "route",
            "neighbour",
            "forwarding",
            "nat",
            "ping",
            "batch",
        ] {
            assert!(
                script.stdout.contains(object),
                "{shell} completion lacks {object}"
            );
        }
    }
}

#[test]
fn man_writes_a_page_per_command_and_they_name_their_options() {
    let dir = tempfile::tempdir().unwrap();
    let run = nsfleet(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let link_add = std::fs::read_to_string(dir.path().join("nsfleet-link-add.1")).unwrap();
    assert!(link_add.contains(".TH nsfleet-link-add 1"), "{link_add}");
    assert!(
        link_add.contains("peer"),
        "the page lacks the grammar of link add: {link_add}"
    );
    let top = nsfleet(&["man"]);
    assert!(
        top.stdout.contains(".SH NAME") && top.stdout.contains("\\-\\-host"),
        "{}",
        top.stdout
    );
    for page in [
        "nsfleet.1",
        "nsfleet-netns-add.1",
        "nsfleet-nat-add.1",
        "nsfleet-batch.1",
    ] {
        assert!(dir.path().join(page).is_file(), "no {page}");
    }
}

#[test]
fn completions_in_a_batch_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("batch.txt");
    std::fs::write(&file, "completions bash\n").unwrap();
    let run = nsfleet(&[
        "--host",
        "unix:/nonexistent.sock",
        "batch",
        file.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("not a change a batch can carry"),
        "{}",
        run.stderr
    );
}
