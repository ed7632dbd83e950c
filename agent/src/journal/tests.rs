use serde_json::json;

use super::*;

fn journal(dir: &tempfile::TempDir, boot: &str) -> Journal {
    Journal::with_boot_id(dir.path().to_path_buf(), boot.into())
}

fn unfinished_records(journal: &Journal) -> Vec<Record> {
    journal
        .unfinished()
        .expect("readable")
        .into_iter()
        .map(|found| match found {
            Found::Unfinished(record) => record,
            other => panic!("expected an unfinished record, got {other:?}"),
        })
        .collect()
}

#[test]
fn an_unfinished_transaction_is_found_with_its_entries_in_order() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let journal = journal(&dir, "boot-a");
    let transaction = journal.begin(&json!({"intent": 1})).expect("begun");
    transaction.append(&json!({"step": 1})).expect("appended");
    transaction.append(&json!({"step": 2})).expect("appended");
    let records = unfinished_records(&journal);
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].entries,
        vec![json!({"intent": 1}), json!({"step": 1}), json!({"step": 2})]
    );
    assert_eq!(records[0].header.boot_id, "boot-a");
}

#[test]
fn a_finished_transaction_leaves_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let journal = journal(&dir, "boot-a");
    let transaction = journal.begin(&json!({})).expect("begun");
    transaction.append(&json!({"step": 1})).expect("appended");
    transaction.finish().expect("finished");
    assert!(journal.unfinished().expect("readable").is_empty());
    assert!(fs::read_dir(dir.path()).expect("readable").next().is_none());
}

#[test]
fn newest_first() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let journal = journal(&dir, "boot-a");
    let older = journal.begin(&json!({"n": "older"})).expect("begun");
    let newer = journal.begin(&json!({"n": "newer"})).expect("begun");
    let records = unfinished_records(&journal);
    assert_eq!(records[0].path, newer.path());
    assert_eq!(records[1].path, older.path());
}

#[test]
fn a_truncated_or_damaged_record_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let journal = journal(&dir, "boot-a");
    let transaction = journal.begin(&json!({"intent": 1})).expect("begun");
    transaction.append(&json!({"step": 1})).expect("appended");
    let text = fs::read_to_string(transaction.path()).expect("readable");
    fs::write(transaction.path(), &text[..text.len() - 3]).expect("writable");
    match journal.unfinished().expect("readable").as_slice() {
        [Found::Corrupt { reason, .. }] => assert!(reason.contains("cut short"), "{reason}"),
        other => panic!("{other:?}"),
    }
    fs::write(transaction.path(), text.replace("\"step\":1", "\"step\":9")).expect("writable");
    match journal.unfinished().expect("readable").as_slice() {
        [Found::Corrupt { reason, .. }] => assert!(reason.contains("checksum"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_record_of_another_boot_is_not_unfinished() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let before_reboot = journal(&dir, "boot-a");
    before_reboot.begin(&json!({})).expect("begun");
    let after_reboot = journal(&dir, "boot-b");
    assert!(matches!(
        after_reboot.unfinished().expect("readable").as_slice(),
        [Found::OtherBoot { .. }]
    ));
}

#[test]
fn set_aside_records_are_not_read_again_but_listed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let journal = journal(&dir, "boot-a");
    let transaction = journal.begin(&json!({})).expect("begun");
    let aside = journal
        .set_aside(transaction.path(), "corrupt")
        .expect("renamed");
    assert!(journal.unfinished().expect("readable").is_empty());
    assert_eq!(journal.set_aside_files(), vec![aside]);
}
