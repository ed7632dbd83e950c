use super::*;

fn delete_namespace(name: &str) -> UndoRecord {
    UndoRecord::DeleteNamespace {
        name: name.into(),
        cookie: None,
    }
}

fn with_cookie(name: &str, cookie: u64) -> UndoRecord {
    UndoRecord::DeleteNamespace {
        name: name.into(),
        cookie: Some(cookie),
    }
}

fn before(op: usize, undo: UndoRecord) -> Entry {
    Entry::Before { op, undo }
}

fn after(op: usize, undo: UndoRecord) -> Entry {
    Entry::After { op, undo }
}

#[test]
fn applied_operations_are_taken_back_by_their_after_entry_newest_first() {
    let entries = vec![
        Entry::Intent { operations: vec![] },
        before(0, delete_namespace("a")),
        before(1, delete_namespace("b")),
        after(1, with_cookie("b", 2)),
        after(0, with_cookie("a", 1)),
    ];
    assert_eq!(
        steps_to_take_back(&entries),
        vec![(0, with_cookie("a", 1)), (1, with_cookie("b", 2))]
    );
}

#[test]
fn an_operation_in_flight_is_taken_back_by_its_before_entry() {
    let entries = vec![
        before(0, delete_namespace("a")),
        after(0, with_cookie("a", 1)),
        before(1, delete_namespace("b")),
    ];
    assert_eq!(
        steps_to_take_back(&entries),
        vec![(1, delete_namespace("b")), (0, with_cookie("a", 1))]
    );
}

#[test]
fn what_never_started_or_was_already_undone_is_left_alone() {
    let entries = vec![
        before(0, delete_namespace("a")),
        after(0, with_cookie("a", 1)),
        Entry::Undone { op: 0 },
        after(1, UndoRecord::Nothing),
    ];
    assert!(steps_to_take_back(&entries).is_empty());
}

#[test]
fn a_retried_operations_second_before_does_not_hide_its_after() {
    let rule = |id: &str| UndoRecord::DeleteNatRule {
        namespace: String::new(),
        id: id.into(),
    };
    let entries = vec![
        before(0, rule("x")),
        after(0, rule("x")),
        before(0, rule("x")),
    ];
    assert_eq!(steps_to_take_back(&entries), vec![(0, rule("x"))]);
}

#[test]
fn impossible_steps_are_kept_so_recovery_reports_them() {
    let impossible = UndoRecord::Impossible {
        why: "a deleted link cannot be restored".into(),
    };
    let entries = vec![after(3, impossible.clone())];
    assert_eq!(steps_to_take_back(&entries), vec![(3, impossible)]);
}
