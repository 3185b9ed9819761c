//! The pages connected to the host, and the order of what they receive.
//!
//! Every frame for a socket goes through that socket's one queue, pushed by
//! whoever produced it, so a handler that replies and then emits is seen in
//! that order by the page. Events go to the page holding the call socket.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::mpsc::UnboundedSender;

pub type ConnId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    Daemon,
    Login,
    Call,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    Text(String),
    Close(u16, &'static str),
}

pub const CLOSE_ANOTHER_PAGE: (u16, &str) = (4001, "another page holds the softphone");
pub const CLOSE_TAKEN_OVER: (u16, &str) = (4002, "taken over by another page");

#[derive(Default)]
pub struct Pages {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: ConnId,
    conns: HashMap<ConnId, (SocketKind, UnboundedSender<Outbound>)>,
    call_page: Option<ConnId>,
}

impl Pages {
    pub fn connect(&self, kind: SocketKind, tx: UnboundedSender<Outbound>) -> ConnId {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.conns.insert(id, (kind, tx));
        id
    }

    /// One page holds the call socket. Without `takeover` a second one is
    /// refused; with it the holder is closed with 4002 and `id` takes over.
    pub fn claim_call_slot(&self, id: ConnId, takeover: bool) -> bool {
        let mut inner = self.lock();
        match inner.call_page {
            Some(holder) if holder != id && !takeover => false,
            Some(holder) if holder != id => {
                if let Some((_, tx)) = inner.conns.get(&holder) {
                    let (code, reason) = CLOSE_TAKEN_OVER;
                    let _ = tx.send(Outbound::Close(code, reason));
                }
                inner.call_page = Some(id);
                true
            }
            _ => {
                inner.call_page = Some(id);
                true
            }
        }
    }

    pub fn disconnect(&self, id: ConnId) {
        let mut inner = self.lock();
        inner.conns.remove(&id);
        if inner.call_page == Some(id) {
            inner.call_page = None;
        }
    }

    pub fn send_to(&self, id: ConnId, frame: String) {
        if let Some((_, tx)) = self.lock().conns.get(&id) {
            let _ = tx.send(Outbound::Text(frame));
        }
    }

    /// To the page holding the call socket; dropped when there is none (the
    /// next page gets the state re-sent on connect).
    pub fn send_event(&self, frame: String) {
        let inner = self.lock();
        if let Some((_, tx)) = inner.call_page.and_then(|id| inner.conns.get(&id)) {
            let _ = tx.send(Outbound::Text(frame));
        }
    }

    /// To every socket of `kind` (daemon notifies).
    pub fn broadcast(&self, kind: SocketKind, frame: &str) {
        for (k, tx) in self.lock().conns.values() {
            if *k == kind {
                let _ = tx.send(Outbound::Text(frame.to_owned()));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::unbounded_channel;

    #[test]
    fn second_page_is_refused_and_takeover_closes_the_first() {
        let pages = Pages::default();
        let (tx1, mut rx1) = unbounded_channel();
        let (tx2, _rx2) = unbounded_channel();
        let a = pages.connect(SocketKind::Call, tx1);
        let b = pages.connect(SocketKind::Call, tx2);
        assert!(pages.claim_call_slot(a, false));
        assert!(!pages.claim_call_slot(b, false));
        assert!(pages.claim_call_slot(b, true));
        assert_eq!(
            rx1.try_recv().unwrap(),
            Outbound::Close(4002, "taken over by another page")
        );
    }

    #[test]
    fn events_reach_only_the_call_page_and_the_slot_frees_on_disconnect() {
        let pages = Pages::default();
        let (tx1, mut rx1) = unbounded_channel();
        let (tx2, mut rx2) = unbounded_channel();
        let login = pages.connect(SocketKind::Login, tx1);
        let call = pages.connect(SocketKind::Call, tx2);
        assert!(pages.claim_call_slot(call, false));
        pages.send_event("e".into());
        assert!(rx1.try_recv().is_err());
        assert_eq!(rx2.try_recv().unwrap(), Outbound::Text("e".into()));
        pages.disconnect(call);
        let (tx3, _rx3) = unbounded_channel();
        let next = pages.connect(SocketKind::Call, tx3);
        assert!(pages.claim_call_slot(next, false));
        let _ = login;
    }
}
