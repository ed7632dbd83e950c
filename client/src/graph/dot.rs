//! Graphviz DOT: each host a cluster, each namespace a cluster inside it, links as boxes, and the
//! edges after all clusters. Every element has `id` and `class` attributes, which Graphviz copies
//! into its SVG.

use std::fmt::Write;

use super::model::{
    edge_id, end_id, host_id, link_id, namespace_id, namespace_title, End, Graph, LinkRef,
};

pub fn render(graph: &Graph) -> String {
    let edges = graph.edges();
    let mut out = String::from(
        "graph \"nsfleet\" {\n  compound=true;\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"monospace\", fontsize=9];\n",
    );
    for host in &graph.hosts {
        let _ = writeln!(
            out,
            "  subgraph \"cluster_{}\" {{\n    id=\"{}\";\n    class=\"host\";\n    label=\"{}\";",
            host_id(&host.name),
            host_id(&host.name),
            quoted(&host.name)
        );
        for namespace in &host.namespaces {
            let id = namespace_id(&host.name, &namespace.name);
            let label = if namespace.name.is_empty() {
                "host namespace".to_owned()
            } else {
                namespace.name.clone()
            };
            let mut lines = vec![label];
            lines.extend(namespace.nat.iter().map(|rule| format!("NAT {rule}")));
            let _ = writeln!(
                out,
                "    subgraph \"cluster_{id}\" {{\n      id=\"{id}\";\n      class=\"namespace\";\n      tooltip=\"{}\";\n      label=\"{}\";",
                quoted(&namespace_title(&host.name, &namespace.name)),
                label_text(&lines)
            );
            if namespace.links.is_empty() {
                // Graphviz drops an empty cluster; an invisible point keeps the namespace drawn.
                let _ = writeln!(
                    out,
                    "      \"{id}__empty\" [shape=point, style=invis, label=\"\"];"
                );
            }
            for link in &namespace.links {
                let at = LinkRef {
                    host: host.name.clone(),
                    namespace: namespace.name.clone(),
                    link: link.name.clone(),
                };
                let style = if link.up { "solid" } else { "dashed" };
                let _ = writeln!(
                    out,
                    "      \"{}\" [class=\"link {}\", label=\"{}\", tooltip=\"{} {}\", style={style}];",
                    link_id(&at),
                    quoted(link.kind_name()),
                    label_text(&link.lines()),
                    quoted(link.kind_name()),
                    quoted(&at.path()),
                );
            }
            out.push_str("    }\n");
        }
        out.push_str("  }\n");
    }
    for remote in Graph::remotes(&edges) {
        let _ = writeln!(
            out,
            "  \"{}\" [class=\"remote\", shape=ellipse, label=\"{}\"];",
            end_id(&End::Remote(remote.clone())),
            quoted(&format!("remote {remote}"))
        );
    }
    for edge in &edges {
        let attributes = match edge.kind {
            super::model::EdgeKind::Veth => String::new(),
            super::model::EdgeKind::Port => ", style=dotted".to_owned(),
            super::model::EdgeKind::Tunnel => {
                format!(", style=bold, label=\"{}\"", quoted(&edge.label))
            }
        };
        let _ = writeln!(
            out,
            "  \"{}\" -- \"{}\" [id=\"{}\", class=\"{}\", tooltip=\"{}\"{attributes}];",
            link_id(&edge.from),
            end_id(&edge.to),
            edge_id(edge),
            edge.kind.class(),
            quoted(&edge.title()),
        );
    }
    out.push_str("}\n");
    out
}

/// Text inside a DOT double-quoted string: quotes and backslashes escaped (a backslash would start
/// one of Graphviz's own escapes such as `\N`), line breaks as `\n`.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            other => out.push(other),
        }
    }
    out
}

fn label_text(lines: &[String]) -> String {
    lines
        .iter()
        .map(|line| quoted(line))
        .collect::<Vec<_>>()
        .join("\\n")
}
