//! Mermaid flowchart: hosts and namespaces as nested subgraphs, links as nodes, veths as plain
//! lines, bridge ports dotted, tunnels thick with their VNI.

use std::fmt::Write;

use super::model::{
    edge_id, end_id, host_id, link_id, namespace_id, EdgeKind, End, Graph, LinkRef,
};

pub fn render(graph: &Graph) -> String {
    let edges = graph.edges();
    let mut out = String::from("flowchart LR\n");
    for host in &graph.hosts {
        let _ = writeln!(
            out,
            "  subgraph {}[\"{}\"]",
            host_id(&host.name),
            text(&host.name)
        );
        for namespace in &host.namespaces {
            let label = if namespace.name.is_empty() {
                "host namespace".to_owned()
            } else {
                namespace.name.clone()
            };
            let mut lines = vec![label];
            lines.extend(namespace.nat.iter().map(|rule| format!("NAT {rule}")));
            let _ = writeln!(
                out,
                "    subgraph {}[\"{}\"]",
                namespace_id(&host.name, &namespace.name),
                lines_text(&lines)
            );
            for link in &namespace.links {
                let at = LinkRef {
                    host: host.name.clone(),
                    namespace: namespace.name.clone(),
                    link: link.name.clone(),
                };
                let id = link_id(&at);
                let _ = writeln!(out, "      {id}[\"{}\"]", lines_text(&link.lines()));
                let _ = writeln!(out, "      class {id} {}", class_name(link.kind_name()));
            }
            out.push_str("    end\n");
        }
        out.push_str("  end\n");
    }
    for remote in Graph::remotes(&edges) {
        let _ = writeln!(
            out,
            "  {}([\"{}\"])",
            end_id(&End::Remote(remote.clone())),
            text(&format!("remote {remote}"))
        );
    }
    for edge in &edges {
        let from = link_id(&edge.from);
        let to = end_id(&edge.to);
        // The edge's id, as a comment: Mermaid has no id syntax for links in every version.
        let _ = writeln!(out, "  %% {}", edge_id(edge));
        let _ = match edge.kind {
            EdgeKind::Veth => writeln!(out, "  {from} --- {to}"),
            EdgeKind::Port => writeln!(out, "  {from} -.- {to}"),
            EdgeKind::Tunnel => writeln!(out, "  {from} ===|\"{}\"| {to}", text(&edge.label)),
        };
    }
    out.push_str(
        "  classDef bridge stroke-width:2px\n  classDef vxlan stroke-dasharray:4 2\n  classDef veth stroke-width:1px\n  classDef link stroke-width:1px\n",
    );
    out
}

/// Mermaid classes are identifiers: only the kinds it styles keep their names.
fn class_name(kind: &str) -> &'static str {
    match kind {
        "bridge" => "bridge",
        "vxlan" => "vxlan",
        "veth" => "veth",
        _ => "link",
    }
}

/// Text inside a Mermaid quoted label: Mermaid renders it as HTML and ends it at `"`, so anything
/// that is not plainly safe becomes an entity code (`#34;`), which Mermaid decodes.
fn text(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for character in line.chars() {
        if character.is_ascii_alphanumeric() || " ./:-_+[]()@,=".contains(character) {
            out.push(character);
        } else {
            let _ = write!(out, "#{};", u32::from(character));
        }
    }
    out
}

fn lines_text(lines: &[String]) -> String {
    lines
        .iter()
        .map(|line| text(line))
        .collect::<Vec<_>>()
        .join("<br/>")
}
