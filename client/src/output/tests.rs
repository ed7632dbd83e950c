use std::sync::Arc;

use nsfleet_proto::v1::{
    ApplyBatchResponse, BatchOutcome, BatchResult, CreateLinkResponse, ListNamespacesResponse,
    Namespace, PingReply, PingSummary, SetForwardingResponse, Warning,
};
use serde_json::{json, Value};
use tonic::Code;

use super::*;
use crate::commands::{batch::BatchRun, ping::PingRun, LinkListing, Mutation};
use crate::output::json::EncodedMessage;

fn namespaces() -> Outcome {
    Outcome::Namespaces(ListNamespacesResponse {
        namespaces: vec![Namespace {
            name: "netns1".into(),
            inode: 4026532281,
        }],
    })
}

fn warned_mutation() -> Outcome {
    let response = SetForwardingResponse {
        previous: false,
        changed: true,
        warnings: vec![Warning {
            code: "NO_NAT".into(),
            message: "nothing masquerades".into(),
            fix: "nsfleet nat add ...".into(),
        }],
    };
    Outcome::Mutation(Mutation {
        response: EncodedMessage::of(&response),
        warnings: response.warnings.clone(),
    })
}

fn ping(received: u32) -> Outcome {
    let replies = (1..=received)
        .map(|seq| PingReply {
            seq,
            from: "10.0.0.1".into(),
            bytes: 64,
            ttl: 64,
            rtt_ms: 0.1,
        })
        .collect();
    Outcome::Ping(PingRun {
        target: "10.0.0.1".into(),
        payload_size: 56,
        replies,
        summary: Some(PingSummary {
            target: "10.0.0.1".into(),
            transmitted: 1,
            received,
            ..PingSummary::default()
        }),
        streamed: false,
    })
}

#[test]
fn json_lines_put_host_and_ok_first() {
    let mut printer = Printer::new(OutputFormat::Json, true);
    let ok = printer.host("unix:/tmp/a.sock", Ok(namespaces()));
    assert_eq!(
        ok.stdout,
        "{\"host\":\"unix:/tmp/a.sock\",\"ok\":true,\"result\":{\"namespaces\":[{\"name\":\"netns1\",\"inode\":4026532281}]}}\n"
    );
    assert_eq!(ok.stderr, "");
    assert!(!printer.any_failed());
    let failed = printer.host(
        "127.0.0.1:50051",
        Err(HostFailure::new(Code::NotFound, "no such namespace")),
    );
    assert_eq!(
        failed.stdout,
        "{\"host\":\"127.0.0.1:50051\",\"ok\":false,\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"no such namespace\"}}\n"
    );
    assert!(printer.any_failed());
}

/// The one line that has both: a batch the host answered but did not apply.
#[test]
fn a_failed_batch_line_has_its_error_before_its_result() {
    let run = BatchRun {
        response: ApplyBatchResponse {
            results: vec![BatchResult {
                index: 0,
                outcome: BatchOutcome::Failed.into(),
                code: Code::AlreadyExists as i32,
                message: "exists".into(),
                ..BatchResult::default()
            }],
            ok: false,
        },
        lines: Arc::from([3_usize].as_slice()),
    };
    let mut printer = Printer::new(OutputFormat::Json, false);
    let emitted = printer.host("h", Ok(Outcome::Batch(run)));
    assert_eq!(
        emitted.stdout,
        concat!(
            r#"{"host":"h","ok":false,"error":{"code":"ALREADY_EXISTS","message":"line 3: exists"},"#,
            r#""result":{"results":[{"index":0,"outcome":"failed","changed":false,"warnings":[],"#,
            r#""code":6,"message":"exists"}],"ok":false}}"#,
            "\n"
        )
    );
    assert!(printer.any_failed());
}

#[test]
fn json_mode_keeps_warnings_in_the_result() {
    let mut printer = Printer::new(OutputFormat::Json, false);
    let emitted = printer.host("h", Ok(warned_mutation()));
    assert_eq!(emitted.stderr, "");
    let line: Value = serde_json::from_str(&emitted.stdout).unwrap();
    assert_eq!(line["result"]["warnings"][0]["code"], "NO_NAT");
    assert_eq!(line["result"]["changed"], true);
}

#[test]
fn single_host_text_has_no_header() {
    let mut printer = Printer::new(OutputFormat::Text, false);
    assert_eq!(
        printer.host("h", Ok(namespaces())),
        Emitted {
            stdout: "netns1\n".into(),
            stderr: String::new()
        }
    );
}

#[test]
fn several_hosts_get_headed_blocks_and_silent_mutations_get_none() {
    let mut printer = Printer::new(OutputFormat::Text, true);
    assert_eq!(
        printer.host("a:1", Ok(namespaces())).stdout,
        "a:1:\nnetns1\n"
    );
    let mutation = Outcome::Mutation(Mutation {
        response: EncodedMessage::of(&CreateLinkResponse::default()),
        warnings: vec![],
    });
    assert_eq!(printer.host("b:1", Ok(mutation)), Emitted::default());
    let failed = printer.host(
        "c:1",
        Err(HostFailure::new(
            Code::Unavailable,
            "cannot connect to c:1: refused",
        )),
    );
    assert_eq!(failed.stdout, "");
    assert_eq!(
        failed.stderr,
        "nsfleet: c:1: UNAVAILABLE: cannot connect to c:1: refused\n"
    );
    assert_eq!(
        printer.host("d:1", Ok(namespaces())).stdout,
        "\nd:1:\nnetns1\n"
    );
}

#[test]
fn text_warnings_go_to_stderr() {
    let mut printer = Printer::new(OutputFormat::Text, false);
    let emitted = printer.host("h", Ok(warned_mutation()));
    assert_eq!(emitted.stdout, "");
    assert_eq!(
        emitted.stderr,
        "warning: h: nothing masquerades (fix: nsfleet nat add ...)\n"
    );
    assert!(!printer.any_failed());
}

#[test]
fn ping_without_reply_fails_the_run_but_is_ok_in_json() {
    let mut printer = Printer::new(OutputFormat::Json, false);
    let emitted = printer.host("h", Ok(ping(0)));
    let line: Value = serde_json::from_str(&emitted.stdout).unwrap();
    assert_eq!(line["ok"], true);
    assert_eq!(line["result"]["replies"], json!([]));
    assert_eq!(line["result"]["summary"]["received"], 0);
    assert!(printer.any_failed());
    let mut printer = Printer::new(OutputFormat::Text, false);
    printer.host("h", Ok(ping(1)));
    assert!(!printer.any_failed());
}

#[test]
fn link_show_has_the_list_shape() {
    let outcome = Outcome::Links(LinkListing {
        links: vec![],
        all_namespaces: false,
    });
    assert_eq!(
        serde_json::to_value(outcome_json(&outcome).unwrap()).unwrap(),
        json!({"links": []})
    );
}

#[test]
fn ping_without_summary_is_null() {
    let Outcome::Ping(mut run) = ping(1) else {
        unreachable!()
    };
    run.summary = None;
    let value = serde_json::to_value(outcome_json(&Outcome::Ping(run)).unwrap()).unwrap();
    assert_eq!(value["summary"], Value::Null);
    assert_eq!(
        value["replies"][0],
        json!({"seq": 1, "from": "10.0.0.1", "bytes": 64, "ttl": 64, "rtt_ms": 0.1})
    );
}
