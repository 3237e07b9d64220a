//! Small bridges to the browser used by every other module: the clock, randomness,
//! timers, and the one place where closures are handed to JS for good.

use std::rc::Rc;

use js_sys::Function;
use tabchain_core::Timestamp;
use wasm_bindgen::prelude::*;
use web_sys::Window;

pub fn window() -> Window {
    web_sys::window().expect("the node runs on a page, which has a window")
}

/// Wall-clock milliseconds: the node's time, as its crate docs ask.
pub fn now() -> Timestamp {
    Timestamp(js_sys::Date::now() as u64)
}

/// Bytes from the browser's CSPRNG (`crypto.getRandomValues`).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    window()
        .crypto()
        .and_then(|crypto| crypto.get_random_values_with_u8_array(&mut bytes))
        .expect("pages served over http(s) have crypto.getRandomValues");
    bytes
}

pub fn random_u64() -> u64 {
    u64::from_le_bytes(random_bytes())
}

/// Hands `closure` to JS for the rest of the page's life and returns it as a function.
/// Only for listeners that live as long as the page (pagehide, the mining workers'
/// replies, the node's timer): everything with a shorter life keeps its `Closure` and
/// drops it after unhooking it.
pub fn forever<T: ?Sized + wasm_bindgen::closure::WasmClosure + 'static>(
    closure: Closure<T>,
) -> Function {
    let function: Function = closure.as_ref().unchecked_ref::<Function>().clone();
    closure.forget();
    function
}

/// Runs `callback` once after `delay_ms`. The closure frees itself when it has run.
pub fn after(delay_ms: u32, callback: impl FnOnce() + 'static) {
    let callback = Closure::once_into_js(callback);
    let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
        callback.unchecked_ref(),
        delay_ms.try_into().unwrap_or(i32::MAX),
    );
}

pub fn warn(text: &str) {
    web_sys::console::warn_1(&text.into());
}

/// A single re-armable `setTimeout` for the driver: it always waits for the earliest
/// deadline the driver has, and arming it for the time it already waits for is free.
#[derive(Debug)]
pub struct Timer {
    callback: Function,
    armed: Option<(Timestamp, i32)>,
}

impl Timer {
    pub fn new(on_fire: impl FnMut() + 'static) -> Timer {
        Timer {
            callback: forever(Closure::<dyn FnMut()>::new(on_fire)),
            armed: None,
        }
    }

    pub fn arm(&mut self, at: Option<Timestamp>, now: Timestamp) {
        if self.armed.map(|(due, _)| due) == at {
            return;
        }
        if let Some((_, handle)) = self.armed.take() {
            window().clear_timeout_with_handle(handle);
        }
        if let Some(due) = at {
            let delay = due.since(now).min(i32::MAX as u64) as i32;
            if let Ok(handle) = window()
                .set_timeout_with_callback_and_timeout_and_arguments_0(&self.callback, delay)
            {
                self.armed = Some((due, handle));
            }
        }
    }

    /// The timeout fired: nothing is armed any more.
    pub fn fired(&mut self) {
        self.armed = None;
    }
}

/// Where a browser callback delivers what happened: in the end always the driver.
pub struct Sink<T>(Rc<dyn Fn(T)>);

impl<T> Sink<T> {
    pub fn new(deliver: impl Fn(T) + 'static) -> Sink<T> {
        Sink(Rc::new(deliver))
    }

    pub fn send(&self, value: T) {
        (self.0)(value)
    }

    /// A sink that wraps each value before delivering it here.
    pub fn map<U>(&self, wrap: impl Fn(U) -> T + 'static) -> Sink<U>
    where
        T: 'static,
    {
        let inner = self.clone();
        Sink::new(move |value| inner.send(wrap(value)))
    }
}

impl<T> Clone for Sink<T> {
    fn clone(&self) -> Sink<T> {
        Sink(self.0.clone())
    }
}

impl<T> std::fmt::Debug for Sink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

/// Offers `bytes` to the person as a download named `name`.
pub fn download(name: &str, bytes: &[u8]) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = window()
        .document()
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let link: web_sys::HtmlAnchorElement = document.create_element("a")?.unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // The download has its own reference to the blob by now.
    after(1_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    Ok(())
}

/// The bytes of a file the person picked or dropped.
pub async fn read_file(file: &web_sys::File) -> Result<Vec<u8>, JsValue> {
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}
