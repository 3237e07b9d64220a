//! The signaling server end to end: a real server on 127.0.0.1:0 and real WebSocket
//! clients (one test binary; the modules group the cases).

mod abuse;
mod common;
mod exhaustion;
mod keep;
mod rooms;
mod site;
mod stun;
mod turn;
