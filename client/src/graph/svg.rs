//! SVG drawn by nsfleet itself (no Graphviz on the machine needed), on the layout of `layout.rs`.
//! Every host, namespace, link, remote and edge is a `<g>` with an `id`, a `class` naming its kind
//! and a `<title>` naming the object (a tooltip in browsers, and what tests look for).

use std::fmt::Write;

use super::{
    layout::{self, end_rect, namespace_lines, route, Rect, LANE_STEP, LINE_HEIGHT},
    model::{
        edge_id, end_id, host_id, link_id, namespace_id, namespace_title, EdgeKind, End, Graph,
        LinkRef,
    },
};

const STYLE: &str = "\
.host>rect{fill:#f6f8fa;stroke:#57606a}\
.namespace>rect{fill:#fff;stroke:#8c959f}\
.link>rect{fill:#ddf4ff;stroke:#0969da}\
.bridge>rect{fill:#fff8c5;stroke:#9a6700;stroke-width:2}\
.vxlan>rect{fill:#fbefff;stroke:#8250df}\
.remote>rect{fill:#fff;stroke:#8250df;stroke-dasharray:4 2}\
.down>rect{stroke-dasharray:4 2;fill:#eee}\
.heading{font-weight:bold}\
.nat{fill:#cf222e}\
.edge polyline{fill:none;stroke:#24292f}\
.port polyline{stroke-dasharray:2 3}\
.tunnel polyline{stroke:#8250df;stroke-width:2}\
.edge text{fill:#8250df;paint-order:stroke;stroke:#fff;stroke-width:3}";

pub fn render(graph: &Graph) -> String {
    let edges = graph.edges();
    let remotes = Graph::remotes(&edges);
    let tunnels = edges
        .iter()
        .filter(|edge| edge.kind == EdgeKind::Tunnel)
        .count();
    let layout = layout::layout(graph, &remotes, tunnels);
    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"monospace\" font-size=\"12\">\n<title>nsfleet topology</title>\n<style>{STYLE}</style>\n\
         <rect class=\"background\" width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>\n",
        w = layout.width,
        h = layout.height,
    );
    for ((host, rect), boxes) in graph
        .hosts
        .iter()
        .zip(&layout.hosts)
        .zip(&layout.namespaces)
    {
        let _ = writeln!(
            out,
            "<g class=\"host\" id=\"{}\"><title>host {}</title>",
            host_id(&host.name),
            escaped(&host.name)
        );
        frame(&mut out, *rect, std::slice::from_ref(&host.name), "heading");
        for (namespace, rect) in host.namespaces.iter().zip(boxes) {
            let _ = writeln!(
                out,
                "<g class=\"namespace\" id=\"{}\"><title>{}</title>",
                namespace_id(&host.name, &namespace.name),
                escaped(&namespace_title(&host.name, &namespace.name))
            );
            frame(
                &mut out,
                *rect,
                &namespace_lines(&namespace.name, &namespace.nat),
                "heading",
            );
            for link in &namespace.links {
                let at = LinkRef {
                    host: host.name.clone(),
                    namespace: namespace.name.clone(),
                    link: link.name.clone(),
                };
                let Some(rect) = layout.links.get(&at) else {
                    continue;
                };
                let state = if link.up { "" } else { " down" };
                let _ = writeln!(
                    out,
                    "<g class=\"link {}{state}\" id=\"{}\"><title>{} {}</title>",
                    escaped(link.kind_name()),
                    link_id(&at),
                    escaped(link.kind_name()),
                    escaped(&at.path())
                );
                frame(&mut out, *rect, &link.lines(), "name");
                out.push_str("</g>\n");
            }
            out.push_str("</g>\n");
        }
        out.push_str("</g>\n");
    }
    for remote in &remotes {
        let end = End::Remote(remote.clone());
        let Some(rect) = end_rect(&layout, &end) else {
            continue;
        };
        let _ = writeln!(
            out,
            "<g class=\"remote\" id=\"{}\"><title>{}</title>",
            end_id(&end),
            escaped(&end.path())
        );
        frame(&mut out, rect, &[end.path()], "name");
        out.push_str("</g>\n");
    }
    let mut lane = layout.lane_top;
    for edge in &edges {
        let (Some(from), Some(to)) = (
            layout.links.get(&edge.from).copied(),
            end_rect(&layout, &edge.to),
        ) else {
            continue;
        };
        let tunnel_lane = (edge.kind == EdgeKind::Tunnel).then(|| {
            lane += LANE_STEP;
            lane - LANE_STEP / 2
        });
        let points = route(from, to, tunnel_lane);
        let _ = write!(
            out,
            "<g class=\"edge {}\" id=\"{}\"><title>{}</title><polyline points=\"{}\"/>",
            edge.kind.class(),
            edge_id(edge),
            escaped(&edge.title()),
            points
                .iter()
                .map(|(x, y)| format!("{x},{y}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        if !edge.label.is_empty() {
            // On the middle segment: for a tunnel, the lane between the hosts.
            let middle = points.len() / 2;
            let (x1, y1) = points[middle - 1];
            let (x2, y2) = points[middle];
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                (x1 + x2) / 2,
                (y1 + y2) / 2 - 3,
                escaped(&edge.label)
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
    out
}

/// A box with lines of text at its top-left: the first line in `first_class`, lines that are NAT
/// rules in `nat`.
fn frame(out: &mut String, rect: Rect, lines: &[String], first_class: &str) {
    let _ = write!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"4\"/>",
        rect.x, rect.y, rect.width, rect.height
    );
    for (index, line) in lines.iter().enumerate() {
        let class = if index == 0 {
            first_class
        } else if line.starts_with("NAT ") {
            "nat"
        } else {
            "address"
        };
        let offset = i64::try_from(index).unwrap_or(0) * LINE_HEIGHT;
        let _ = write!(
            out,
            "<text class=\"{class}\" x=\"{}\" y=\"{}\">{}</text>",
            rect.x + 6,
            rect.y + 6 + 11 + offset,
            escaped(line)
        );
    }
    out.push('\n');
}

/// Text for XML content and attribute values: the five markup characters as entities, and the
/// characters XML 1.0 cannot hold at all (most controls) as a visible `\u{..}`.
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(character),
            control if control.is_control() || matches!(control, '\u{fffe}' | '\u{ffff}') => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out
}
