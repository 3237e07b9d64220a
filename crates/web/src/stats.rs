//! What a connection's `getStats()` says about itself: the certificates DTLS verified
//! (the handshake's binding, see [`crate::sdp`]) and the candidate pair carrying it
//! (its [`crate::path::LinkPath`]). Both read the transport's own entry, which names
//! the selected pair and the two certificates.

use std::collections::HashMap;

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::RtcPeerConnection;

use crate::path::{Endpoint, PathInfo};
use crate::sdp;

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
/// once it has (`None` before).
pub async fn dtls_binding(pc: &RtcPeerConnection) -> Option<Vec<u8>> {
    let report = Report::of(pc).await?;
    let transport = report.transport()?;
    if text(transport, "dtlsState") != "connected" {
        return None;
    }
    let fingerprint = |key: &str| {
        let certificate = report.linked(transport, key)?;
        let value = text(certificate, "fingerprint");
        (!value.is_empty())
            .then(|| sdp::fingerprint(&text(certificate, "fingerprintAlgorithm"), &value))
    };
    Some(sdp::binding(
        &fingerprint("localCertificateId")?,
        &fingerprint("remoteCertificateId")?,
    ))
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
