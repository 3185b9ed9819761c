//! baresip as a peer phone (placeholder until the baresip tests land).
