//! The pages connected to the host, and the order of what they receive.
//!
//! Every frame for a socket goes through that socket's one queue, pushed by
//! whoever produced it, so a handler that replies and then emits is seen in
//! that order by the page. Events go to the page holding the call socket,
//! in the dialect that socket speaks.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use seatphone_protocol::Dialect;
use tokio::sync::{futures::Notified, Notify};

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

/// One socket's queue of outgoing frames.
///
/// A handler usually answers on the socket's own task, while that task runs:
/// such a push must not wake the task (a wake-up reschedules it and rouses
/// the other worker thread: a futex call, a context switch and a spurious
/// poll more per command). So the socket task listens for pushes only while
/// it waits, and reads the queue each time before it waits.
#[derive(Default)]
pub struct Outbox {
    queue: Mutex<VecDeque<Outbound>>,
    pushed: Notify,
}

impl Outbox {
    pub fn push(&self, out: Outbound) {
        lock(&self.queue).push_back(out);
        // Wakes the socket task if it waits; else leaves a permit.
        self.pushed.notify_one();
    }

    /// Moves what is queued, in order, to the end of `into`.
    pub fn take(&self, into: &mut VecDeque<Outbound>) {
        into.extend(lock(&self.queue).drain(..));
    }

    /// Ends at the next push; `enable` it before reading the queue.
    pub fn pushed(&self) -> Notified<'_> {
        self.pushed.notified()
    }
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
    conns: HashMap<ConnId, Conn>,
    call_page: Option<ConnId>,
}

struct Conn {
    kind: SocketKind,
    dialect: Dialect,
    outbox: Arc<Outbox>,
}

impl Pages {
    /// A socket speaking OpenEye.
    #[cfg(test)]
    fn connect(&self, kind: SocketKind, outbox: Arc<Outbox>) -> ConnId {
        self.connect_as(kind, Dialect::OpenEye, outbox)
    }

    /// A socket whose page speaks `dialect`: events reach it in that dialect.
    fn connect_as(&self, kind: SocketKind, dialect: Dialect, outbox: Arc<Outbox>) -> ConnId {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.conns.insert(
            id,
            Conn {
                kind,
                dialect,
                outbox,
            },
        );
        id
    }

    /// A socket admitted at its handshake, before the page hears that it
    /// succeeded: call pages claim the call socket in the order their
    /// handshakes were answered (a claim made later, on the socket's task,
    /// let a second page that connected a moment after the first take the
    /// slot when its task happened to run first).
    pub fn admit(self: &Arc<Self>, kind: SocketKind, dialect: Dialect, takeover: bool) -> Admitted {
        let outbox = Arc::new(Outbox::default());
        let id = self.connect_as(kind, dialect, outbox.clone());
        let refused = kind == SocketKind::Call && !self.claim_call_slot(id, takeover);
        Admitted {
            id,
            outbox,
            refused,
            pages: self.clone(),
        }
    }

    /// One page holds the call socket. Without `takeover` a second one is
    /// refused; with it the holder is closed with 4002 and `id` takes over.
    fn claim_call_slot(&self, id: ConnId, takeover: bool) -> bool {
        let mut inner = self.lock();
        match inner.call_page {
            Some(holder) if holder != id && !takeover => false,
            Some(holder) if holder != id => {
                if let Some(holder) = inner.conns.get(&holder) {
                    let (code, reason) = CLOSE_TAKEN_OVER;
                    holder.outbox.push(Outbound::Close(code, reason));
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

    /// A frame already in the socket's own dialect (a response).
    pub fn send_to(&self, id: ConnId, frame: String) {
        if let Some(conn) = self.lock().conns.get(&id) {
            conn.outbox.push(Outbound::Text(frame));
        }
    }

    /// A standard event to one socket, in its dialect.
    pub fn send_event_to(&self, id: ConnId, frame: String) {
        let target = self.lock().conns.get(&id).map(Conn::target);
        deliver(target, frame);
    }

    /// A standard event to the page holding the call socket, in its
    /// dialect; dropped when there is none (the next page gets the state
    /// re-sent on connect).
    pub fn send_event(&self, frame: String) {
        let target = {
            let inner = self.lock();
            inner
                .call_page
                .and_then(|id| inner.conns.get(&id))
                .map(Conn::target)
        };
        deliver(target, frame);
    }

    /// To every socket of `kind` (daemon notifies, the same in every dialect).
    pub fn broadcast(&self, kind: SocketKind, frame: &str) {
        for conn in self.lock().conns.values() {
            if conn.kind == kind {
                conn.outbox.push(Outbound::Text(frame.to_owned()));
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }
}

/// A socket [`Pages::admit`] let in; dropping it (the socket ended, or its
/// upgrade failed) disconnects it and frees the call socket it held.
pub struct Admitted {
    pub id: ConnId,
    pub outbox: Arc<Outbox>,
    /// A second call page, which is closed with [`CLOSE_ANOTHER_PAGE`].
    pub refused: bool,
    pages: Arc<Pages>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.pages.disconnect(self.id);
    }
}

impl Conn {
    fn target(&self) -> (Dialect, Arc<Outbox>) {
        (self.dialect, self.outbox.clone())
    }
}

/// Translated outside the lock: an OpenEye page gets the frame as it is; a
/// page of another dialect gets it in that dialect's terms, or not at all
/// when its SDK has no such event.
fn deliver(target: Option<(Dialect, Arc<Outbox>)>, frame: String) {
    let Some((dialect, outbox)) = target else {
        return;
    };
    if dialect == Dialect::OpenEye {
        return outbox.push(Outbound::Text(frame));
    }
    if let Some(frame) = dialect.event(&frame) {
        outbox.push(Outbound::Text(frame.into_owned()));
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn taken(outbox: &Outbox) -> Vec<Outbound> {
        let mut q = VecDeque::new();
        outbox.take(&mut q);
        q.into()
    }

    #[test]
    fn second_page_is_refused_and_takeover_closes_the_first() {
        let pages = Pages::default();
        let (o1, o2) = (Arc::new(Outbox::default()), Arc::new(Outbox::default()));
        let a = pages.connect(SocketKind::Call, o1.clone());
        let b = pages.connect(SocketKind::Call, o2);
        assert!(pages.claim_call_slot(a, false));
        assert!(!pages.claim_call_slot(b, false));
        assert!(pages.claim_call_slot(b, true));
        assert_eq!(
            taken(&o1),
            [Outbound::Close(4002, "taken over by another page")]
        );
    }

    #[test]
    fn call_pages_hold_the_slot_in_the_order_they_were_admitted() {
        let pages = Arc::new(Pages::default());
        let first = pages.admit(SocketKind::Call, Dialect::OpenEye, false);
        let second = pages.admit(SocketKind::Call, Dialect::OpenEye, false);
        assert!(!first.refused);
        assert!(second.refused);
        drop(second);
        pages.send_event("e".into());
        assert_eq!(taken(&first.outbox), [Outbound::Text("e".into())]);
        // An admitted socket whose upgrade failed frees the slot it held.
        drop(first);
        let next = pages.admit(SocketKind::Call, Dialect::OpenEye, false);
        assert!(!next.refused);
        assert!(
            !pages
                .admit(SocketKind::Login, Dialect::OpenEye, false)
                .refused
        );
    }

    #[test]
    fn events_reach_only_the_call_page_and_the_slot_frees_on_disconnect() {
        let pages = Pages::default();
        let (o1, o2) = (Arc::new(Outbox::default()), Arc::new(Outbox::default()));
        let login = pages.connect(SocketKind::Login, o1.clone());
        let call = pages.connect(SocketKind::Call, o2.clone());
        assert!(pages.claim_call_slot(call, false));
        pages.send_event("e".into());
        assert!(taken(&o1).is_empty());
        assert_eq!(taken(&o2), [Outbound::Text("e".into())]);
        pages.disconnect(call);
        let next = pages.connect(SocketKind::Call, Arc::default());
        assert!(pages.claim_call_slot(next, false));
        let _ = login;
    }

    #[test]
    fn a_socket_receives_replies_and_events_in_the_order_they_were_pushed() {
        let pages = Pages::default();
        let outbox = Arc::new(Outbox::default());
        let call = pages.connect(SocketKind::Call, outbox.clone());
        assert!(pages.claim_call_slot(call, false));
        pages.send_to(call, "reply".into());
        pages.send_event("event".into());
        pages.send_to(call, "reply 2".into());
        let texts = ["reply", "event", "reply 2"].map(|t| Outbound::Text(t.into()));
        assert_eq!(taken(&outbox), texts);
        assert!(taken(&outbox).is_empty());
    }

    #[tokio::test]
    async fn a_push_while_the_socket_task_runs_is_not_lost() {
        let outbox = Outbox::default();
        outbox.push(Outbound::Text("a".into()));
        tokio::time::timeout(Duration::from_secs(5), outbox.pushed())
            .await
            .expect("the permit left by the push");
    }

    #[tokio::test]
    async fn a_push_from_another_thread_wakes_a_waiting_socket_task() {
        let outbox = Arc::new(Outbox::default());
        let waiting = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.pushed().await }
        });
        tokio::task::yield_now().await;
        let pusher = outbox.clone();
        std::thread::spawn(move || pusher.push(Outbound::Text("e".into())))
            .join()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .unwrap();
        assert_eq!(taken(&outbox), [Outbound::Text("e".into())]);
    }
}
