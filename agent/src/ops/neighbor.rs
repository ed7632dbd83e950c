//! The neighbour table of a namespace.

use crate::domain::{Family, LinkName, NamespaceRef};
use crate::kernel::link;
use crate::kernel::neighbor::{self, Neighbor};
use crate::netns::NamespaceRegistry;

use super::address::referenced_link;
use super::link::namespace_handle;
use super::OpError;

#[derive(Debug, Clone)]
pub struct NeighborView {
    pub namespace: NamespaceRef,
    pub link: String,
    pub neighbor: Neighbor,
}

pub async fn list(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
    link_name: Option<&LinkName>,
    family: Option<Family>,
) -> Result<Vec<NeighborView>, OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let only = match link_name {
        Some(name) => Some(referenced_link(&handle, "link", name).await?.index),
        None => None,
    };
    let links = link::list(handle.route())?;
    Ok(neighbor::list(handle.route(), family)?
        .into_iter()
        .filter(|n| only.is_none_or(|index| n.link_index == index))
        .map(|neighbor| NeighborView {
            namespace: namespace.clone(),
            link: links
                .iter()
                .find(|l| l.index == neighbor.link_index)
                .map(|l| l.name.clone())
                .unwrap_or_default(),
            neighbor,
        })
        .collect())
}
