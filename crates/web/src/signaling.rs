//! The WebSocket to the signaling server. This module only moves JSON: it reports what
//! the server said as [`ServerEvent`]s, and the driver decides what to do (answer the
//! challenge, learn peers, reconnect with backoff).

use tabchain_signal::{ClientMessage, ServerMessage};
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::js::Sink;

#[derive(Debug)]
pub enum ServerEvent {
    Message(ServerMessage),
    /// A frame that is not a server message: logged, otherwise ignored.
    Garbage(String),
    /// The socket closed (or never opened); `reason` is the close frame's, often empty.
    Closed {
        code: u16,
        reason: String,
    },
}

/// An open (or opening) socket. Dropping it closes the socket and unhooks its handlers.
#[derive(Debug)]
pub struct SignalSocket {
    socket: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl SignalSocket {
    pub fn open(url: &str, sink: Sink<ServerEvent>) -> Result<SignalSocket, JsValue> {
        let socket = WebSocket::new(url)?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let sink = sink.clone();
            move |event: MessageEvent| {
                let text = event.data().as_string().unwrap_or_default();
                sink.send(match ServerMessage::parse(&text) {
                    Ok(message) => ServerEvent::Message(message),
                    Err(err) => ServerEvent::Garbage(format!("{err}: {text:.80}")),
                });
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            sink.send(ServerEvent::Closed {
                code: event.code(),
                reason: event.reason(),
            });
        });
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(SignalSocket {
            socket,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    pub fn send(&self, message: &ClientMessage) {
        // A socket that is closing drops the frame; its close event follows.
        let _ = self.socket.send_with_str(&message.to_json());
    }
}

impl Drop for SignalSocket {
    fn drop(&mut self) {
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}
