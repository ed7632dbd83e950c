//! Small accessors for the CLI's and the oracle's JSON, failing with the whole document in the message.

use serde_json::Value;

/// The `changed` flag of a mutating result; panics if it is missing (the JSON contract prints every
/// field, defaults included).
pub fn changed(result: &Value) -> bool {
    result["changed"]
        .as_bool()
        .unwrap_or_else(|| panic!("no boolean \"changed\" in {result:#}"))
}

/// The element of `array` whose `key` is `name`.
pub fn find_by<'a>(array: &'a Value, key: &str, name: &str) -> Option<&'a Value> {
    array.as_array()?.iter().find(|item| item[key] == name)
}

/// The warning with `code` in a mutating result's `warnings`.
pub fn warning<'a>(result: &'a Value, code: &str) -> Option<&'a Value> {
    find_by(&result["warnings"], "code", code)
}

/// The link called `name` in a ListLinks/GetLink result (`{"links": [...]}`).
pub fn cli_link<'a>(result: &'a Value, name: &str) -> &'a Value {
    find_by(&result["links"], "name", name)
        .unwrap_or_else(|| panic!("no link {name:?} in {result:#}"))
}

/// Names of the items of an array (`key` = "name", "ifname", ...), sorted.
pub fn sorted_names(items: &[Value], key: &str) -> Vec<String> {
    let mut names: Vec<String> = items
        .iter()
        .filter_map(|item| item[key].as_str().map(String::from))
        .collect();
    names.sort();
    names
}

/// Whether an `ip -j` link has `flag` (e.g. "UP") in its `flags`.
pub fn has_flag(ip_link: &Value, flag: &str) -> bool {
    ip_link["flags"]
        .as_array()
        .is_some_and(|flags| flags.iter().any(|f| f == flag))
}

/// An `ip -j -d link` entry's kind ("veth", "bridge"; "" without linkinfo, as for lo).
pub fn ip_kind(ip_link: &Value) -> &str {
    ip_link["linkinfo"]["info_kind"].as_str().unwrap_or("")
}
