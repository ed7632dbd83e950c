//! The JSON Schema of the topology file, for editors, generated from the very types the parser decodes
//! into. Shipped as docs/topology.schema.json; a test keeps the shipped copy equal to this.

use super::file::TopologyFile;

pub fn json() -> String {
    let schema = schemars::schema_for!(TopologyFile);
    // A schema is plain JSON; serializing it cannot fail short of a bug in serde_json.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
