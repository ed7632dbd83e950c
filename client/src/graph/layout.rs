//! Where the SVG puts everything: a fixed, layered layout, so the same graph always lands on the
//! same integer coordinates. Hosts stand side by side; inside a host, the host namespace is on the
//! left (VXLAN links and bridges in its left column, its other links in the right one) and the
//! named namespaces are stacked in a column on the right, so a veth from a namespace to its host
//! end runs left, and a bridge port's line runs left again to its bridge. A host-side link is moved
//! down to the height of its peer, and a bridge to the height of its first port, so most of those
//! lines are level. Tunnels run in lanes above the hosts.

use std::collections::HashMap;

use super::model::{End, Graph, LinkKind, LinkNode, LinkRef};

/// A monospace glyph of the 12px font is about 7.2px wide: 36/5 in integers.
const GLYPH_WIDTH_FIFTHS: i64 = 36;
pub const LINE_HEIGHT: i64 = 15;
const NODE_PADDING: i64 = 6;
const BOX_PADDING: i64 = 10;
const NODE_GAP: i64 = 14;
/// Room between columns for the lines that cross them.
const COLUMN_GAP: i64 = 48;
const MARGIN: i64 = 16;
pub const LANE_STEP: i64 = 18;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rect {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
}

impl Rect {
    pub fn right(&self) -> i64 {
        self.x + self.width
    }
    pub fn bottom(&self) -> i64 {
        self.y + self.height
    }
    pub fn center_x(&self) -> i64 {
        self.x + self.width / 2
    }
    pub fn center_y(&self) -> i64 {
        self.y + self.height / 2
    }
}

pub fn text_width(line: &str) -> i64 {
    let glyphs = i64::try_from(line.chars().count()).unwrap_or(i64::MAX / GLYPH_WIDTH_FIFTHS);
    (glyphs * GLYPH_WIDTH_FIFTHS + 4) / 5
}

fn block_size(lines: &[String]) -> (i64, i64) {
    let width = lines.iter().map(|line| text_width(line)).max().unwrap_or(0);
    let count = i64::try_from(lines.len()).unwrap_or(0);
    (width, count * LINE_HEIGHT)
}

fn node_size(link: &LinkNode) -> (i64, i64) {
    let (width, height) = block_size(&link.lines());
    (width + 2 * NODE_PADDING, height + 2 * NODE_PADDING)
}

/// The namespace box's heading: its name, then NAT rules tied to no link.
pub fn namespace_lines(name: &str, nat: &[String]) -> Vec<String> {
    let mut lines = vec![if name.is_empty() {
        "host namespace".to_owned()
    } else {
        name.to_owned()
    }];
    lines.extend(nat.iter().map(|rule| format!("NAT {rule}")));
    lines
}

#[derive(Debug, Default)]
pub struct Layout {
    pub width: i64,
    pub height: i64,
    pub hosts: Vec<Rect>,
    /// Per host, its namespaces' boxes in the model's order.
    pub namespaces: Vec<Vec<Rect>>,
    pub links: HashMap<LinkRef, Rect>,
    pub remotes: HashMap<String, Rect>,
    /// The y of the lane of each tunnel, by its position among the edges.
    pub lane_top: i64,
}

pub fn layout(graph: &Graph, remotes: &[String], tunnels: usize) -> Layout {
    let mut layout = Layout::default();
    let lanes = i64::try_from(tunnels).unwrap_or(0);
    layout.lane_top = MARGIN;
    let top = MARGIN + lanes * LANE_STEP + if lanes > 0 { MARGIN } else { 0 };
    let mut x = MARGIN;
    let mut bottom = top;
    for host in &graph.hosts {
        let (rect, boxes) = place_host(host, x, top, &mut layout.links);
        x = rect.right() + COLUMN_GAP;
        bottom = bottom.max(rect.bottom());
        layout.hosts.push(rect);
        layout.namespaces.push(boxes);
    }
    let mut y = top;
    for remote in remotes {
        let (width, height) = block_size(&[format!("remote {remote}")]);
        let rect = Rect {
            x,
            y,
            width: width + 2 * NODE_PADDING,
            height: height + 2 * NODE_PADDING,
        };
        y = rect.bottom() + NODE_GAP;
        bottom = bottom.max(rect.bottom());
        layout.remotes.insert(remote.clone(), rect);
    }
    let remote_width = layout
        .remotes
        .values()
        .map(|rect| rect.width + COLUMN_GAP)
        .max()
        .unwrap_or(0);
    layout.width = x - COLUMN_GAP + remote_width + MARGIN + COLUMN_GAP / 2;
    layout.height = bottom + MARGIN;
    layout
}

/// Places one host with its top-left corner at (x, y); returns its box and its namespaces' boxes.
fn place_host(
    host: &super::model::HostNode,
    x: i64,
    y: i64,
    links: &mut HashMap<LinkRef, Rect>,
) -> (Rect, Vec<Rect>) {
    let reference = |namespace: &str, link: &str| LinkRef {
        host: host.name.clone(),
        namespace: namespace.to_owned(),
        link: link.to_owned(),
    };
    let content_top = y + LINE_HEIGHT + 2 * BOX_PADDING;
    let (Some(host_namespace), named) = (host.namespaces.first(), host.namespaces.get(1..)) else {
        let rect = Rect {
            x,
            y,
            width: text_width(&host.name) + 2 * BOX_PADDING,
            height: LINE_HEIGHT + 2 * BOX_PADDING,
        };
        return (rect, Vec::new());
    };
    let named = named.unwrap_or_default();

    // The host namespace's two columns, sized first so the named column knows where it starts.
    let (left, right): (Vec<&LinkNode>, Vec<&LinkNode>) = host_namespace
        .links
        .iter()
        .partition(|link| matches!(link.kind, LinkKind::Bridge | LinkKind::Vxlan(_)));
    let column_width = |column: &[&LinkNode]| {
        column
            .iter()
            .map(|link| node_size(link).0)
            .max()
            .unwrap_or(0)
    };
    let (left_width, right_width) = (column_width(&left), column_width(&right));
    let heading = namespace_lines("", &host_namespace.nat);
    let (heading_width, heading_height) = block_size(&heading);
    let columns_width = match (left_width, right_width) {
        (0, width) | (width, 0) => width,
        (left, right) => left + COLUMN_GAP + right,
    };
    let host_box_width = columns_width.max(heading_width) + 2 * BOX_PADDING;
    let host_box_x = x + BOX_PADDING;

    // The named namespaces, one box each, all as wide as the widest.
    let named_x = host_box_x + host_box_width + COLUMN_GAP;
    let named_width = named
        .iter()
        .map(|namespace| {
            let heading = block_size(&namespace_lines(&namespace.name, &namespace.nat)).0;
            let widest = namespace
                .links
                .iter()
                .map(|link| node_size(link).0)
                .max()
                .unwrap_or(0);
            heading.max(widest) + 2 * BOX_PADDING
        })
        .max()
        .unwrap_or(0);
    let mut boxes = vec![Rect::default()];
    let mut cursor = content_top;
    for namespace in named {
        let heading_height = block_size(&namespace_lines(&namespace.name, &namespace.nat)).1;
        let mut node_y = cursor + BOX_PADDING + heading_height + NODE_GAP / 2;
        for link in &namespace.links {
            let (width, height) = node_size(link);
            let rect = Rect {
                x: named_x + BOX_PADDING,
                y: node_y,
                width,
                height,
            };
            node_y = rect.bottom() + NODE_GAP;
            links.insert(reference(&namespace.name, &link.name), rect);
        }
        let height = node_y - NODE_GAP / 2 + BOX_PADDING - cursor;
        boxes.push(Rect {
            x: named_x,
            y: cursor,
            width: named_width,
            height,
        });
        cursor += height + NODE_GAP;
    }
    let named_bottom = cursor - NODE_GAP;

    // The host namespace's right column: each link level with its veth peer where it can be.
    let first_y = content_top + BOX_PADDING + heading_height + NODE_GAP / 2;
    let right_x = host_box_x
        + BOX_PADDING
        + if left_width > 0 {
            left_width + COLUMN_GAP
        } else {
            0
        };
    let peer_y = |link: &LinkNode| match &link.kind {
        LinkKind::Veth(Some((namespace, name))) if !namespace.is_empty() => links
            .get(&reference(namespace, name))
            .map(|rect| rect.center_y()),
        _ => None,
    };
    let mut right_order: Vec<(Option<i64>, &LinkNode)> =
        right.iter().map(|link| (peer_y(link), *link)).collect();
    right_order.sort_by_key(|(target, link)| (target.is_none(), *target, link.name.clone()));
    let mut right_cursor = first_y;
    for (target, link) in right_order {
        let (width, height) = node_size(link);
        let rect = Rect {
            x: right_x,
            y: right_cursor.max(target.map_or(right_cursor, |center| center - height / 2)),
            width,
            height,
        };
        right_cursor = rect.bottom() + NODE_GAP;
        links.insert(reference("", &link.name), rect);
    }
    // The left column: VXLAN links on top, then each bridge level with its highest port.
    let first_port_y = |bridge: &str| {
        host_namespace
            .links
            .iter()
            .filter(|link| link.master == bridge)
            .filter_map(|link| {
                links
                    .get(&reference("", &link.name))
                    .map(|rect| rect.center_y())
            })
            .min()
    };
    let mut left_order: Vec<(Option<i64>, &LinkNode)> = left
        .iter()
        .map(|link| match link.kind {
            LinkKind::Bridge => (first_port_y(&link.name), *link),
            // VXLAN links first: their tunnels leave upwards.
            _ => (Some(i64::MIN / 2), *link),
        })
        .collect();
    left_order.sort_by_key(|(target, link)| (target.is_none(), *target, link.name.clone()));
    let mut left_cursor = first_y;
    for (target, link) in left_order {
        let (width, height) = node_size(link);
        let rect = Rect {
            x: host_box_x + BOX_PADDING,
            y: left_cursor.max(target.map_or(left_cursor, |center| center - height / 2)),
            width,
            height,
        };
        left_cursor = rect.bottom() + NODE_GAP;
        links.insert(reference("", &link.name), rect);
    }
    let host_box_bottom = left_cursor.max(right_cursor) - NODE_GAP / 2 + BOX_PADDING;
    let bottom = host_box_bottom
        .max(named_bottom)
        .max(content_top + heading_height + 2 * BOX_PADDING);
    boxes[0] = Rect {
        x: host_box_x,
        y: content_top,
        width: host_box_width,
        height: bottom - content_top,
    };
    let right_edge = if named.is_empty() {
        host_box_x + host_box_width
    } else {
        named_x + named_width
    };
    let rect = Rect {
        x,
        y,
        width: (right_edge + BOX_PADDING - x).max(text_width(&host.name) + 2 * BOX_PADDING),
        height: bottom + BOX_PADDING - y,
    };
    (rect, boxes)
}

/// The points of an edge's line: straight between facing sides when the ends are in different
/// columns; out to the right and back when they share one; up to its lane and across for a tunnel.
pub fn route(from: Rect, to: Rect, lane: Option<i64>) -> Vec<(i64, i64)> {
    if let Some(lane) = lane {
        return vec![
            (from.center_x(), from.y),
            (from.center_x(), lane),
            (to.center_x(), lane),
            (to.center_x(), to.y),
        ];
    }
    if from.right() <= to.x {
        return vec![(from.right(), from.center_y()), (to.x, to.center_y())];
    }
    if to.right() <= from.x {
        return vec![(from.x, from.center_y()), (to.right(), to.center_y())];
    }
    let out = from.right().max(to.right()) + NODE_GAP;
    vec![
        (from.right(), from.center_y()),
        (out, from.center_y()),
        (out, to.center_y()),
        (to.right(), to.center_y()),
    ]
}

/// Where a link or remote end sits.
pub fn end_rect(layout: &Layout, end: &End) -> Option<Rect> {
    match end {
        End::Link(link) => layout.links.get(link).copied(),
        End::Remote(address) => layout.remotes.get(address).copied(),
    }
}
