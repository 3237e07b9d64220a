//! One WebRTC link to a peer: an `RTCPeerConnection` with one ordered, reliable data
//! channel, trickle ICE, and the DTLS fingerprints that bind the node handshake to it.
//!
//! A [`Link`] reports everything as [`RtcEvent`]s to the sink it was given; the driver
//! carries the descriptions and candidates to the other side by whichever route it
//! picked. Dropping a link unhooks its handlers and closes it.

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    MessageEvent, RtcConfiguration, RtcDataChannel, RtcDataChannelEvent, RtcDataChannelInit,
    RtcDataChannelState, RtcDataChannelType, RtcIceCandidateInit, RtcIceServer, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcPeerConnectionState, RtcSdpType, RtcSessionDescriptionInit,
};

use tabchain_node::link::Candidate;
use tabchain_signal::IceServer;

use crate::js::{after, Sink};
use crate::path::PathInfo;
use crate::stats;
use tabchain_node::link::sdp;

#[derive(Debug)]
pub enum RtcEvent {
    /// Our offer or answer is in place: send this SDP to the peer (it advertises the
    /// protocol's frame cap as `a=max-message-size`).
    LocalDescription(String),
    /// The peer's description is in place: its candidates can be added now.
    RemoteSet,
    LocalCandidate(Candidate),
    /// (Answering side) the offerer's data channel arrived.
    Channel(RtcDataChannel),
    Open,
    Message(Vec<u8>),
    /// How the link is carried now (from [`Link::read_path`]).
    Path(PathInfo),
    /// The handshake's binding, from the certificates DTLS verified
    /// ([`Link::read_binding`]).
    Bound(Vec<u8>),
    /// The link is over (the channel closed, ICE failed, a step was refused).
    Closed(String),
}

type Handler = Closure<dyn FnMut(JsValue)>;

#[derive(Debug)]
pub struct Link {
    pc: RtcPeerConnection,
    channel: Option<RtcDataChannel>,
    sink: Sink<RtcEvent>,
    remote_set: bool,
    early_candidates: Vec<RtcIceCandidateInit>,
    handlers: Vec<Handler>,
    /// Closing was handed to a timer (see [`Link::close_after`]): drop only unhooks.
    closing_later: bool,
}

impl Link {
    /// Starts a link as the offering side.
    pub fn offer(ice: &[IceServer], sink: Sink<RtcEvent>) -> Result<Link, JsValue> {
        let mut link = Link::new(ice, sink)?;
        let init = RtcDataChannelInit::new();
        init.set_ordered(true);
        let channel = link
            .pc
            .create_data_channel_with_data_channel_dict("tabchain", &init);
        link.attach(channel);
        let (pc, sink) = (link.pc.clone(), link.sink.clone());
        spawn_local(async move {
            let described = async {
                let offer = JsFuture::from(pc.create_offer()).await?;
                set_local(&pc, RtcSdpType::Offer, &offer).await
            };
            sink.send(match described.await {
                Ok(sdp) => RtcEvent::LocalDescription(sdp::advertise_max_message_size(&sdp)),
                Err(err) => {
                    RtcEvent::Closed(format!("could not make an offer: {}", describe(&err)))
                }
            });
        });
        Ok(link)
    }

    /// Starts a link as the answering side of `offer_sdp`.
    pub fn answer(
        offer_sdp: &str,
        ice: &[IceServer],
        sink: Sink<RtcEvent>,
    ) -> Result<Link, JsValue> {
        let mut link = Link::new(ice, sink)?;
        let on_channel = {
            let sink = link.sink.clone();
            Handler::new(move |event: JsValue| {
                let event: RtcDataChannelEvent = event.unchecked_into();
                sink.send(RtcEvent::Channel(event.channel()));
            })
        };
        link.pc
            .set_ondatachannel(Some(on_channel.as_ref().unchecked_ref()));
        link.handlers.push(on_channel);
        let (pc, sink, offer_sdp) = (link.pc.clone(), link.sink.clone(), offer_sdp.to_owned());
        spawn_local(async move {
            if let Err(err) = sdp::check_remote(&offer_sdp) {
                sink.send(RtcEvent::Closed(format!("refused the offer: {err}")));
                return;
            }
            let remote = set_remote(&pc, RtcSdpType::Offer, &offer_sdp).await;
            if let Err(err) = remote {
                sink.send(RtcEvent::Closed(format!(
                    "refused the offer: {}",
                    describe(&err)
                )));
                return;
            }
            sink.send(RtcEvent::RemoteSet);
            let described = async {
                let answer = JsFuture::from(pc.create_answer()).await?;
                set_local(&pc, RtcSdpType::Answer, &answer).await
            };
            sink.send(match described.await {
                Ok(sdp) => RtcEvent::LocalDescription(sdp::advertise_max_message_size(&sdp)),
                Err(err) => RtcEvent::Closed(format!("could not answer: {}", describe(&err))),
            });
        });
        Ok(link)
    }

    fn new(ice: &[IceServer], sink: Sink<RtcEvent>) -> Result<Link, JsValue> {
        let config = RtcConfiguration::new();
        let servers = Array::new();
        for server in ice {
            let entry = RtcIceServer::new();
            let urls: Array = server
                .urls
                .iter()
                .map(|url| JsValue::from_str(url))
                .collect();
            entry.set_urls(&urls);
            if let Some(username) = &server.username {
                entry.set_username(username);
            }
            if let Some(credential) = &server.credential {
                entry.set_credential(credential);
            }
            servers.push(&entry);
        }
        config.set_ice_servers(&servers);
        let pc = RtcPeerConnection::new_with_configuration(&config)?;
        let mut link = Link {
            pc,
            channel: None,
            sink,
            remote_set: false,
            early_candidates: Vec::new(),
            handlers: Vec::new(),
            closing_later: false,
        };
        let on_candidate = {
            let sink = link.sink.clone();
            Handler::new(move |event: JsValue| {
                let event: RtcPeerConnectionIceEvent = event.unchecked_into();
                // `None` marks the end of gathering: nothing to send.
                if let Some(candidate) = event.candidate() {
                    sink.send(RtcEvent::LocalCandidate(Candidate {
                        candidate: candidate.candidate(),
                        sdp_mid: candidate.sdp_mid(),
                        sdp_m_line_index: candidate.sdp_m_line_index(),
                    }));
                }
            })
        };
        link.pc
            .set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
        let on_state = {
            let (sink, pc) = (link.sink.clone(), link.pc.clone());
            // `disconnected` can heal; `failed` cannot. The node's ping timeout is what
            // drops a silent peer quickly, this only ends links that never come up.
            Handler::new(move |_| {
                if pc.connection_state() == RtcPeerConnectionState::Failed {
                    sink.send(RtcEvent::Closed("ICE failed".into()));
                }
            })
        };
        link.pc
            .set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        link.handlers.extend([on_candidate, on_state]);
        Ok(link)
    }

    /// Takes the data channel (ours, or the one the offerer opened) and reports its
    /// events.
    pub fn attach(&mut self, channel: RtcDataChannel) {
        channel.set_binary_type(RtcDataChannelType::Arraybuffer);
        let sink = self.sink.clone();
        let on_open = Handler::new(move |_| sink.send(RtcEvent::Open));
        let sink = self.sink.clone();
        let on_message = Handler::new(move |event: JsValue| {
            let event: MessageEvent = event.unchecked_into();
            let data = event.data();
            // Measured before it is copied into wasm memory: a peer's browser sends
            // at most the `a=max-message-size` we advertised unless it was tampered with.
            let refused = match data.dyn_ref::<js_sys::ArrayBuffer>() {
                None => Some("it sent a text message; frames are binary".to_owned()),
                Some(buffer) if buffer.byte_length() as usize > sdp::max_frame() => Some(format!(
                    "it sent a message of {} bytes, the cap is {}",
                    buffer.byte_length(),
                    sdp::max_frame()
                )),
                Some(_) => None,
            };
            if let Some(why) = refused {
                sink.send(RtcEvent::Closed(why));
                return;
            }
            sink.send(RtcEvent::Message(Uint8Array::new(&data).to_vec()));
        });
        let sink = self.sink.clone();
        let on_close =
            Handler::new(move |_| sink.send(RtcEvent::Closed("the data channel closed".into())));
        channel.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        channel.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        self.handlers.extend([on_open, on_message, on_close]);
        let already_open = channel.ready_state() == RtcDataChannelState::Open;
        self.channel = Some(channel);
        if already_open {
            self.sink.send(RtcEvent::Open);
        }
    }

    /// The offering side got the answer.
    pub fn accept_answer(&mut self, answer_sdp: &str) {
        let (pc, sink, sdp) = (self.pc.clone(), self.sink.clone(), answer_sdp.to_owned());
        spawn_local(async move {
            if let Err(err) = sdp::check_remote(&sdp) {
                sink.send(RtcEvent::Closed(format!("refused the answer: {err}")));
                return;
            }
            sink.send(match set_remote(&pc, RtcSdpType::Answer, &sdp).await {
                Ok(()) => RtcEvent::RemoteSet,
                Err(err) => RtcEvent::Closed(format!("refused the answer: {}", describe(&err))),
            });
        });
    }

    /// The remote description is set: add the candidates that came before it.
    pub fn remote_set(&mut self) {
        self.remote_set = true;
        for candidate in std::mem::take(&mut self.early_candidates) {
            self.add(candidate);
        }
    }

    pub fn add_candidate(&mut self, candidate: &Candidate) {
        let init = RtcIceCandidateInit::new(&candidate.candidate);
        init.set_sdp_mid(candidate.sdp_mid.as_deref());
        init.set_sdp_m_line_index(candidate.sdp_m_line_index);
        if self.remote_set {
            self.add(init);
        } else {
            self.early_candidates.push(init);
        }
    }

    fn add(&self, candidate: RtcIceCandidateInit) {
        let promise = self
            .pc
            .add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&candidate));
        // A candidate that does not apply (a stale one, an unreachable address) is not
        // fatal: ICE goes on with the others, and failure shows as `ICE failed`.
        spawn_local(async move {
            let _ = JsFuture::from(promise).await;
        });
    }

    /// Sends one frame; `false` if the channel is not open.
    pub fn send(&self, bytes: &[u8]) -> bool {
        self.channel
            .as_ref()
            .is_some_and(|channel| channel.send_with_u8_array(bytes).is_ok())
    }

    /// Reads the selected candidate pair from `getStats()` and reports it as
    /// [`RtcEvent::Path`]; reports nothing while no pair is selected.
    pub fn read_path(&self) {
        let (pc, sink) = (self.pc.clone(), self.sink.clone());
        spawn_local(async move {
            if let Some(path) = stats::selected_path(&pc).await {
                sink.send(RtcEvent::Path(path));
            }
        });
    }

    /// Reads the fingerprints DTLS verified and reports them as [`RtcEvent::Bound`].
    /// Call it once the data channel is open (DTLS is done by then).
    pub fn read_binding(&self) {
        let (pc, sink) = (self.pc.clone(), self.sink.clone());
        spawn_local(async move {
            sink.send(match stats::dtls_binding(&pc).await {
                Some(binding) => RtcEvent::Bound(binding),
                None => RtcEvent::Closed("DTLS reports no verified certificates".into()),
            });
        });
    }

    /// Stops reporting at once but closes after `grace_ms`, so frames already queued
    /// (the node's `Goodbye`) still leave.
    pub fn close_after(mut self, grace_ms: u32) {
        self.closing_later = true;
        let (pc, channel) = (self.pc.clone(), self.channel.clone());
        after(grace_ms, move || close(&pc, channel.as_ref()));
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.pc.set_onicecandidate(None);
        self.pc.set_onconnectionstatechange(None);
        self.pc.set_ondatachannel(None);
        if let Some(channel) = &self.channel {
            channel.set_onopen(None);
            channel.set_onmessage(None);
            channel.set_onclose(None);
        }
        if !self.closing_later {
            close(&self.pc, self.channel.as_ref());
        }
    }
}

fn close(pc: &RtcPeerConnection, channel: Option<&RtcDataChannel>) {
    if let Some(channel) = channel {
        channel.close();
    }
    pc.close();
}

async fn set_local(
    pc: &RtcPeerConnection,
    kind: RtcSdpType,
    description: &JsValue,
) -> Result<String, JsValue> {
    let sdp = Reflect::get(description, &JsValue::from_str("sdp"))?
        .as_string()
        .unwrap_or_default();
    let init = RtcSessionDescriptionInit::new(kind);
    init.set_sdp(&sdp);
    JsFuture::from(pc.set_local_description(&init)).await?;
    Ok(sdp)
}

async fn set_remote(pc: &RtcPeerConnection, kind: RtcSdpType, sdp: &str) -> Result<(), JsValue> {
    let init = RtcSessionDescriptionInit::new(kind);
    init.set_sdp(sdp);
    JsFuture::from(pc.set_remote_description(&init)).await?;
    Ok(())
}

/// A JS error's message, for the log.
pub fn describe(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}
