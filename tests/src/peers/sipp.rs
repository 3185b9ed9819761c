//! SIPp scenarios (placeholder until the SIPp tests land).
