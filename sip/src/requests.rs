//! How a peer's request is answered where no call decides: by its method,
//! outside a dialog and inside one, and a new INVITE that cannot become a
//! call. The driver sends the status this names. And the other way: the
//! status our own request, or a dialog, ended with, as the call table and
//! the page see it.

use rsipstack::dialog::dialog::TerminatedReason;
use rsipstack::sip::{self as rsip, Method, StatusCode};

/// The methods we take, for the Allow of our INVITE and of our 200 to
/// the peer's (RFC 3261 §20.5); the answers below agree with it.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK";

/// The extensions our INVITE supports: reliable provisional responses
/// (RFC 3262) and session timers (RFC 4028). One header, since some peers
/// read only the first.
pub const SUPPORTED: &str = "100rel, timer";

/// What becomes of a request that is in no dialog (no To tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutOfDialog {
    /// An INVITE: a new call, for [`new_invite`] and the call table.
    NewCall,
    /// Answered at once with this status.
    Answer(StatusCode),
    /// Not answered: an ACK has no response (RFC 3261 §17.2.3), and a
    /// stray one belongs to no transaction of ours.
    Ignore,
}

/// A request that fails the checks of RFC 3261 §8.2 (`sanity`): 400 Bad
/// Request, but for an ACK, which gets no response (§17.1.1.3).
pub fn malformed(method: Method) -> Option<StatusCode> {
    (method != Method::Ack).then_some(StatusCode::BadRequest)
}

/// A request with a To tag that names no dialog of ours: 481 Call/
/// Transaction Does Not Exist (RFC 3261 §12.2.2). A stray ACK never gets
/// here: the stack drops it before it makes a transaction.
pub fn unknown_dialog() -> StatusCode {
    StatusCode::CallTransactionDoesNotExist
}

/// The answer to a request outside any dialog.
pub fn out_of_dialog(method: Method) -> OutOfDialog {
    match method {
        Method::Invite => OutOfDialog::NewCall,
        // RFC 3261 §11.2: we would take a call, so 200.
        Method::Options => OutOfDialog::Answer(StatusCode::OK),
        Method::Ack => OutOfDialog::Ignore,
        // Requests that only make sense inside a dialog (RFC 3261 §15.1.2,
        // RFC 6086 §4.2.2, RFC 3311 §5.2, RFC 3262 §3): 481. So is a
        // CANCEL of no transaction (§9.2), though the stack answers
        // every CANCEL before it could get here.
        Method::Bye | Method::Info | Method::Update | Method::PRack | Method::Cancel => {
            OutOfDialog::Answer(StatusCode::CallTransactionDoesNotExist)
        }
        // RFC 3261 §8.2.1: a method we know and do not take here.
        _ => OutOfDialog::Answer(StatusCode::MethodNotAllowed),
    }
}

/// The answer to a request inside a call's dialog that carries no offer
/// (INVITE and UPDATE are the call's; BYE, ACK, CANCEL and PRACK the
/// stack's): INFO (whatever DTMF it carries) and OPTIONS get 200, the
/// rest 501 (RFC 3261 §21.5.2: we do not implement subscriptions,
/// transfer, instant messages or publication).
pub fn in_dialog(method: Method) -> StatusCode {
    match method {
        Method::Info | Method::Options => StatusCode::OK,
        _ => StatusCode::NotImplemented,
    }
}

/// A new INVITE whose Call-ID is one of a call we have (our own looped
/// back through a proxy, or someone guessing it) changes nothing: 482
/// Loop Detected (RFC 3261 §8.2.2.2).
pub fn new_invite(call_id_in_use: bool) -> Result<(), StatusCode> {
    if call_id_in_use {
        return Err(StatusCode::LoopDetected);
    }
    Ok(())
}

/// A new INVITE the stack cannot make a dialog of (no usable From, To or
/// Contact to build it on): 400 Bad Request (RFC 3261 §21.4.1), the
/// request is at fault.
pub fn no_dialog() -> StatusCode {
    StatusCode::BadRequest
}

/// How a call ends when our own message for it could not be sent (our
/// 200 OK to the peer's INVITE, or our INVITE sent again after a
/// challenge or a 422): 500 Server Internal Error (RFC 3261 §21.5.1), the
/// failure is ours, not the peer's or the network's ([`NO_ANSWER`]).
pub const NOT_SENT: u16 = 500;

/// How our request that got no final response ends: as a 408 Request
/// Timeout (RFC 3261 §8.1.3.1), which is also what a proxy answers for a
/// silent peer. The page reads it as "no answer".
pub const NO_ANSWER: u16 = 408;

/// The final status of our INVITE, re-INVITE or UPDATE as the call table
/// sees it: the response's, or [`NO_ANSWER`] when none came.
pub fn final_status(response: Option<&rsip::Response>) -> u16 {
    response.map_or(NO_ANSWER, |r| r.status_code.code())
}

/// `reasonCode` for a dialog that ended this way: 0 for a BYE, otherwise
/// the status that ended it (a timeout is [`NO_ANSWER`]).
pub fn dialog_ended(reason: &TerminatedReason) -> u16 {
    match reason {
        TerminatedReason::UacBye | TerminatedReason::UasBye => 0,
        TerminatedReason::UacCancel => 487,
        TerminatedReason::UacBusy | TerminatedReason::UasBusy => 486,
        TerminatedReason::UasDecline => 603,
        TerminatedReason::Timeout => NO_ANSWER,
        TerminatedReason::ProxyAuthRequired => 407,
        TerminatedReason::ProxyError(c)
        | TerminatedReason::UacOther(c)
        | TerminatedReason::UasOther(c) => c.code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16) -> rsip::Response {
        rsip::Response {
            status_code: StatusCode::from(status),
            wire_reason: None,
            version: Default::default(),
            headers: Default::default(),
            body: Vec::new(),
        }
    }

    #[test]
    fn our_request_ends_with_the_final_status_or_408_when_nothing_came() {
        assert_eq!(final_status(Some(&response(200))), 200);
        assert_eq!(final_status(Some(&response(486))), 486);
        assert_eq!(final_status(Some(&response(408))), 408);
        assert_eq!(final_status(None), 408);
    }

    #[test]
    fn a_dialog_ended_by_bye_is_reason_0_and_by_a_timeout_408() {
        assert_eq!(dialog_ended(&TerminatedReason::UacBye), 0);
        assert_eq!(dialog_ended(&TerminatedReason::UasBye), 0);
        assert_eq!(dialog_ended(&TerminatedReason::Timeout), NO_ANSWER);
        assert_eq!(dialog_ended(&TerminatedReason::UacCancel), 487);
        assert_eq!(dialog_ended(&TerminatedReason::UasBusy), 486);
        assert_eq!(dialog_ended(&TerminatedReason::UasDecline), 603);
        assert_eq!(dialog_ended(&TerminatedReason::ProxyAuthRequired), 407);
        let other = TerminatedReason::UasOther(StatusCode::from(480));
        assert_eq!(dialog_ended(&other), 480);
    }

    #[test]
    fn outside_a_dialog_invite_calls_options_is_200_and_dialog_methods_481() {
        assert_eq!(out_of_dialog(Method::Invite), OutOfDialog::NewCall);
        assert_eq!(
            out_of_dialog(Method::Options),
            OutOfDialog::Answer(StatusCode::OK)
        );
        assert_eq!(out_of_dialog(Method::Ack), OutOfDialog::Ignore);
        for m in [
            Method::Bye,
            Method::Info,
            Method::Update,
            Method::PRack,
            Method::Cancel,
        ] {
            assert_eq!(
                out_of_dialog(m),
                OutOfDialog::Answer(StatusCode::CallTransactionDoesNotExist),
                "{m}"
            );
        }
        for m in [Method::Message, Method::Subscribe, Method::Refer] {
            assert_eq!(
                out_of_dialog(m),
                OutOfDialog::Answer(StatusCode::MethodNotAllowed),
                "{m}"
            );
        }
    }

    #[test]
    fn a_malformed_request_is_400_and_a_stray_in_dialog_one_481() {
        assert_eq!(malformed(Method::Invite), Some(StatusCode::BadRequest));
        assert_eq!(malformed(Method::Ack), None, "an ACK is never answered");
        assert_eq!(unknown_dialog(), StatusCode::CallTransactionDoesNotExist);
    }

    #[test]
    fn inside_a_call_info_and_options_are_200_the_rest_501() {
        assert_eq!(in_dialog(Method::Info), StatusCode::OK);
        assert_eq!(in_dialog(Method::Options), StatusCode::OK);
        for m in [
            Method::Notify,
            Method::Refer,
            Method::Message,
            Method::Publish,
        ] {
            assert_eq!(in_dialog(m), StatusCode::NotImplemented, "{m}");
        }
    }

    /// What Allow lists is never refused as a method we do not take, and
    /// what we answer 501 in a call is not listed.
    #[test]
    fn allow_lists_exactly_what_is_not_refused() {
        let allowed: Vec<Method> = ALLOW
            .split(", ")
            .map(|m| m.parse::<Method>().expect(m))
            .collect();
        for m in &allowed {
            assert_ne!(
                out_of_dialog(*m),
                OutOfDialog::Answer(StatusCode::MethodNotAllowed),
                "{m}"
            );
        }
        for m in [
            Method::Notify,
            Method::Refer,
            Method::Message,
            Method::Publish,
        ] {
            assert_eq!(in_dialog(m), StatusCode::NotImplemented);
            assert!(!allowed.contains(&m), "{m} is listed in Allow");
        }
    }

    #[test]
    fn an_invite_without_a_dialog_is_400_and_a_call_we_could_not_signal_ends_500() {
        assert_eq!(no_dialog(), StatusCode::BadRequest);
        assert_eq!(StatusCode::from(NOT_SENT), StatusCode::ServerInternalError);
        assert_ne!(NOT_SENT, NO_ANSWER, "not sending is not the peer's silence");
    }

    #[test]
    fn an_invite_reusing_a_calls_call_id_is_482() {
        assert_eq!(new_invite(false), Ok(()));
        assert_eq!(new_invite(true), Err(StatusCode::LoopDetected));
    }
}
