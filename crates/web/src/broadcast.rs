//! The room's BroadcastChannel: tabs of one browser meet and trade WebRTC signals here,
//! with no server at all (a static host) or next to one.

use wasm_bindgen::prelude::*;
use web_sys::{BroadcastChannel, MessageEvent};

use crate::js::Sink;
use crate::wire::Broadcast;

/// Dropping it leaves the channel.
#[derive(Debug)]
pub struct LocalRoom {
    channel: BroadcastChannel,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl LocalRoom {
    /// Joins the channel `name`; messages that do not parse are dropped silently, since
    /// any page of this origin may post on it.
    pub fn join(name: &str, sink: Sink<Broadcast>) -> Result<LocalRoom, JsValue> {
        let channel = BroadcastChannel::new(name)?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(message) = event
                .data()
                .as_string()
                .and_then(|text| serde_json::from_str(&text).ok())
            {
                sink.send(message);
            }
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Ok(LocalRoom {
            channel,
            _on_message: on_message,
        })
    }

    pub fn post(&self, message: &Broadcast) {
        let text = serde_json::to_string(message).expect("broadcast messages always encode");
        let _ = self.channel.post_message(&JsValue::from_str(&text));
    }
}

impl Drop for LocalRoom {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}
