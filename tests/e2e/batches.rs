//! `nsfleet batch` against a real agent: a batch answers on every path, and a failure undoes what the
//! same batch applied before it.

use nsfleet_tests::{CliRun, Lab, Nsfleet, SimHost};

fn batch(host: &SimHost, lines: &str) -> CliRun {
    let file = host.dir().join("batch.txt");
    std::fs::write(&file, lines).expect("write the batch file");
    Nsfleet::on(host)
        .args(["batch", file.to_str().expect("a UTF-8 path")])
        .run()
}

/// Both ends in the host namespace name it twice; the batch's ordering once made such an operation wait
/// for itself, and the call never answered.
#[test]
fn a_veth_with_both_ends_on_the_host_is_created_in_a_batch() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    batch(
        host,
        "link add br9 type bridge\nlink add veth9 type veth peer name peer9\n",
    )
    .results();
    assert_eq!(host.ip_link_names(""), ["br9", "lo", "peer9", "veth9"]);
}

#[test]
fn a_name_conflict_in_a_batch_answers_already_exists_and_undoes_the_earlier_lines() {
    let lab = Lab::start(1);
    let host = lab.host(0);
    let run = batch(
        host,
        "link add q1 type bridge\nlink add q1 type veth peer name zz\n",
    );
    let error = run.error("ALREADY_EXISTS");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("line 2: ")),
        "{run}"
    );
    assert_eq!(
        host.ip_link_names(""),
        ["lo"],
        "the bridge of line 1 was not undone"
    );
}
