//! A WebSocket of text frames: to the signaling server, or to a Nostr relay. This module
//! only moves text; the driver decides what it means (answer the challenge, learn peers,
//! hand relay frames to the pool, reconnect with backoff).

use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

use crate::js::Sink;

#[derive(Debug)]
pub enum SocketEvent {
    Open,
    Text(String),
    /// The socket closed (or never opened); `reason` is the close frame's, often empty.
    Closed {
        code: u16,
        reason: String,
    },
}

/// An open (or opening) socket. Dropping it closes the socket and unhooks its handlers.
#[derive(Debug)]
pub struct TextSocket {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl TextSocket {
    pub fn open(url: &str, sink: Sink<SocketEvent>) -> Result<TextSocket, JsValue> {
        let socket = WebSocket::new(url)?;
        let on_open = Closure::<dyn FnMut(Event)>::new({
            let sink = sink.clone();
            move |_: Event| sink.send(SocketEvent::Open)
        });
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let sink = sink.clone();
            // Binary frames are no one's protocol here: they arrive as an empty text.
            move |event: MessageEvent| {
                sink.send(SocketEvent::Text(
                    event.data().as_string().unwrap_or_default(),
                ))
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            sink.send(SocketEvent::Closed {
                code: event.code(),
                reason: event.reason(),
            });
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(TextSocket {
            socket,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    pub fn send(&self, text: &str) {
        // A socket that is closing drops the frame; its close event follows.
        let _ = self.socket.send_with_str(text);
    }
}

impl Drop for TextSocket {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}
