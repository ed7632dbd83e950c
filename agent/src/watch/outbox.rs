//! A watcher's bounded queue, written to by several producers (one reader per namespace, the namespace
//! poll, NAT) that must never wait for the consumer.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use super::Message;

#[derive(Clone)]
pub struct Outbox {
    sender: mpsc::Sender<Message>,
    /// Set from the moment an event is dropped until the one `Lost` marker is queued. Everything offered
    /// meanwhile is dropped too: it comes after the gap, and the consumer must resynchronize anyway.
    losing: Arc<Mutex<bool>>,
}

impl Outbox {
    pub fn new(sender: mpsc::Sender<Message>) -> Self {
        Self {
            sender,
            losing: Arc::default(),
        }
    }

    /// Queues `message` if there is room; otherwise starts losing.
    pub fn offer(&self, message: Message) {
        let mut losing = self.losing.lock().unwrap_or_else(PoisonError::into_inner);
        if *losing {
            return;
        }
        match self.sender.try_send(message) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.start_losing(&mut losing),
            // The watcher is gone; its tasks notice through `closed`.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Reports a loss that happened elsewhere (the kernel dropped notifications, NAT lagged).
    pub fn lost(&self) {
        let mut losing = self.losing.lock().unwrap_or_else(PoisonError::into_inner);
        if !*losing {
            self.start_losing(&mut losing);
        }
    }

    /// Queues a message, waiting for room: only for the snapshot, which the watcher's own task sends
    /// before any producer starts.
    pub async fn send(&self, message: Message) -> bool {
        self.sender.send(message).await.is_ok()
    }

    pub async fn closed(&self) {
        self.sender.closed().await
    }

    fn start_losing(&self, losing: &mut bool) {
        *losing = true;
        let sender = self.sender.clone();
        let flag = self.losing.clone();
        // The marker goes in as soon as the consumer makes room, even if nothing else ever happens.
        tokio::spawn(async move {
            if let Ok(permit) = sender.reserve().await {
                let mut losing = flag.lock().unwrap_or_else(PoisonError::into_inner);
                permit.send(Message::Lost);
                *losing = false;
            }
        });
    }
}
