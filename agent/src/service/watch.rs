//! WatchService: the request parsed into a `watch::WatchSpec`, the watcher's messages into WatchEvents.

use std::pin::Pin;
use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use pb::watch_service_server::WatchService;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::status::StatusError;
use crate::domain::{FieldError, NamespaceRef};
use crate::netns::{NamespaceRegistry, NetnsError};
use crate::watch::{self, Action, Kind, Message, Origin, Scope, WatchError, WatchSpec};

pub struct WatchApi {
    registry: Arc<NamespaceRegistry>,
}

impl WatchApi {
    pub fn new(registry: Arc<NamespaceRegistry>) -> Self {
        Self { registry }
    }
}

pub(super) fn parse(request: &pb::WatchRequest) -> Result<WatchSpec, FieldError> {
    let namespace = NamespaceRef::parse("namespace", &request.namespace)?;
    if request.all_namespaces && namespace != NamespaceRef::Host {
        return Err(FieldError::new(
            "all_namespaces",
            format!("cannot be combined with namespace {:?}", request.namespace),
        ));
    }
    let kinds = request
        .kinds
        .iter()
        .enumerate()
        .map(|(position, kind)| {
            kind_from_proto(*kind).ok_or_else(|| {
                FieldError::new(
                    format!("kinds[{position}]"),
                    format!("{kind} is not a kind of change"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WatchSpec {
        scope: if request.all_namespaces {
            Scope::All
        } else {
            Scope::One(namespace)
        },
        kinds,
        snapshot: request.snapshot,
    })
}

fn kind_from_proto(kind: i32) -> Option<Kind> {
    Some(match pb::WatchKind::try_from(kind).ok()? {
        pb::WatchKind::Unspecified => return None,
        pb::WatchKind::Link => Kind::Link,
        pb::WatchKind::Address => Kind::Address,
        pb::WatchKind::Route => Kind::Route,
        pb::WatchKind::Neighbor => Kind::Neighbor,
        pb::WatchKind::Namespace => Kind::Namespace,
        pb::WatchKind::Nat => Kind::Nat,
    })
}

fn kind_to_proto(kind: Kind) -> pb::WatchKind {
    match kind {
        Kind::Link => pb::WatchKind::Link,
        Kind::Address => pb::WatchKind::Address,
        Kind::Route => pb::WatchKind::Route,
        Kind::Neighbor => pb::WatchKind::Neighbor,
        Kind::Namespace => pb::WatchKind::Namespace,
        Kind::Nat => pb::WatchKind::Nat,
    }
}

fn to_proto(message: Message) -> pb::WatchEvent {
    match message {
        Message::Change(change) => pb::WatchEvent {
            kind: kind_to_proto(change.kind) as i32,
            action: match change.action {
                Action::New => pb::WatchAction::New,
                Action::Changed => pb::WatchAction::Changed,
                Action::Deleted => pb::WatchAction::Deleted,
            } as i32,
            namespace: change.namespace,
            summary: change.summary,
            origin: match change.origin {
                Origin::Nsfleet => pb::WatchOrigin::Nsfleet,
                Origin::External => pb::WatchOrigin::External,
            } as i32,
            object: change.object,
            ..Default::default()
        },
        Message::SnapshotDone => pb::WatchEvent {
            snapshot_done: true,
            ..Default::default()
        },
        Message::Lost => pb::WatchEvent {
            lost: true,
            ..Default::default()
        },
    }
}

fn watch_status(error: WatchError) -> Status {
    match error {
        WatchError::Netns(error) => StatusError::from(error).into(),
        WatchError::Socket { source, .. } if source.raw_os_error() == Some(libc::EMFILE) => {
            Status::resource_exhausted(format!("watch: {source}"))
        }
        other => Status::internal(other.to_string()),
    }
}

#[tonic::async_trait]
impl WatchService for WatchApi {
    type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchEvent, Status>> + Send>>;

    async fn watch(
        &self,
        request: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let spec = parse(request.get_ref()).map_err(StatusError::from)?;
        if let Scope::One(NamespaceRef::Named(name)) = &spec.scope {
            // Checked before anything is opened, so the answer names the field.
            self.registry
                .get(name)
                .map_err(|e: NetnsError| StatusError::from(e))?;
        }
        let watcher = watch::start(self.registry.clone(), spec)
            .await
            .map_err(watch_status)?;
        let stream = ReceiverStream::new(watcher.messages).map(|message| Ok(to_proto(message)));
        Ok(Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_kinds_and_conflicting_scopes_name_their_field() {
        let request = pb::WatchRequest {
            kinds: vec![pb::WatchKind::Link as i32, 99],
            ..Default::default()
        };
        let error = parse(&request)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.starts_with("kinds[1]"), "{error}");
        let request = pb::WatchRequest {
            namespace: "ns1".into(),
            all_namespaces: true,
            ..Default::default()
        };
        let error = parse(&request)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.starts_with("all_namespaces"), "{error}");
    }
}
