//! What a connection's `getStats()` says about itself: the certificates DTLS verified
//! (the handshake's binding, see [`tabchain_node::link::sdp`]) and the candidate pair carrying it
//! (its [`crate::path::LinkPath`]). Both read the transport's own entry, which names
//! the selected pair and the two certificates.

use std::collections::HashMap;

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::RtcPeerConnection;

use crate::path::{Endpoint, PathInfo};
use tabchain_node::link::sdp;

/// A stats report by id.
struct Report(HashMap<String, JsValue>);

impl Report {
    async fn of(pc: &RtcPeerConnection) -> Option<Report> {
        let report = JsFuture::from(pc.get_stats()).await.ok()?;
        let mut stats = HashMap::new();
        for entry in js_sys::try_iter(&report).ok()??.flatten() {
            let entry: Array = entry.unchecked_into();
            stats.insert(entry.get(0).as_string()?, entry.get(1));
        }
        Some(Report(stats))
    }

    fn get(&self, id: &str) -> Option<&JsValue> {
        self.0.get(id)
    }

    /// The transport's entry: the one DTLS connection the data channel runs over.
    fn transport(&self) -> Option<&JsValue> {
        self.0
            .values()
            .find(|stat| text(stat, "type") == "transport")
    }

    /// The entry `stat`'s field `key` names.
    fn linked(&self, stat: &JsValue, key: &str) -> Option<&JsValue> {
        self.get(&text(stat, key))
            .filter(|_| !text(stat, key).is_empty())
    }
}

fn text(stat: &JsValue, key: &str) -> String {
    Reflect::get(stat, &JsValue::from_str(key))
        .ok()
        .and_then(|value| value.as_string())
        .unwrap_or_default()
}

/// The handshake's binding: the fingerprints of the two certificates DTLS verified,
/// once it has (`None` before). The peer's is hashed from the certificate the DTLS
/// transport holds (`getRemoteCertificates()`): Chromium's stats name it only some of
/// the time.
pub async fn dtls_binding(pc: &RtcPeerConnection) -> Option<Vec<u8>> {
    let report = Report::of(pc).await?;
    let transport = report.transport()?;
    if text(transport, "dtlsState") != "connected" {
        return None;
    }
    let local = report.linked(transport, "localCertificateId")?;
    let local = sdp::fingerprint(
        &text(local, "fingerprintAlgorithm"),
        &text(local, "fingerprint"),
    );
    Some(sdp::binding(&local, &remote_fingerprint(pc)?))
}

/// SHA-256 of the peer's certificate as the DTLS transport under the data channel holds
/// it, in the form [`sdp::fingerprint`] gives.
fn remote_fingerprint(pc: &RtcPeerConnection) -> Option<String> {
    let get = |object: &JsValue, key: &str| Reflect::get(object, &JsValue::from_str(key)).ok();
    let dtls = get(&get(pc, "sctp")?, "transport")?;
    let method: js_sys::Function = get(&dtls, "getRemoteCertificates")?.dyn_into().ok()?;
    let certificates: Array = method.call0(&dtls).ok()?.dyn_into().ok()?;
    let der = js_sys::Uint8Array::new(&certificates.get(0)).to_vec();
    if der.is_empty() {
        return None;
    }
    let hex: Vec<String> = tabchain_core::Hash::digest(&der)
        .0
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect();
    Some(sdp::fingerprint("sha-256", &hex.join(":")))
}

/// The path of the candidate pair the transport selected (`None` while none is).
pub async fn selected_path(pc: &RtcPeerConnection) -> Option<PathInfo> {
    let report = Report::of(pc).await?;
    let pair = report.linked(report.transport()?, "selectedCandidatePairId")?;
    let endpoint = |key: &str| {
        let stat = report.linked(pair, key)?;
        Some(Endpoint {
            kind: text(stat, "candidateType"),
            address: text(stat, "address"),
            relay_protocol: text(stat, "relayProtocol"),
        })
    };
    Some(PathInfo::of(
        &endpoint("localCandidateId")?,
        &endpoint("remoteCandidateId")?,
    ))
}
