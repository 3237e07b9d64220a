//! The worker's event loop: take messages from the page, search one chunk at a time.
//!
//! A busy loop would never see the page's next message, so after each chunk the worker
//! posts itself a message on a `MessageChannel` and runs the next chunk when it comes
//! back. Messages from the page queue behind it in the same task queue, so a new
//! template replaces the job before the next chunk runs. (`setTimeout(0)` would do the
//! same but is clamped to 4 ms after a few rounds, a quarter of the hashrate.)

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Uint8Array;
use tabchain_miner::{FromMiner, Job, SearchPath, ToMiner, CHUNK};
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageChannel, MessageEvent};

struct Worker {
    scope: DedicatedWorkerGlobalScope,
    channel: MessageChannel,
    job: Option<Job>,
    /// A wake-up is in flight on the channel: don't post a second one.
    scheduled: bool,
}

impl Worker {
    fn post(&self, message: FromMiner) {
        let bytes = Uint8Array::from(message.encode().as_slice());
        // Posting to our own page cannot fail for a Uint8Array.
        let _ = self.scope.post_message(&bytes);
    }

    fn schedule(&mut self) {
        if self.job.is_some() && !self.scheduled {
            self.scheduled = true;
            let _ = self.channel.port2().post_message(&JsValue::NULL);
        }
    }

    fn take(&mut self, message: ToMiner) {
        self.job = match message {
            ToMiner::Mine {
                job,
                header,
                nonces,
            } => Some(Job::new(job, &header, nonces, SearchPath::BUILT)),
            ToMiner::Stop => None,
        };
        self.schedule();
    }

    fn run_chunk(&mut self) {
        self.scheduled = false;
        let Some(job) = self.job.as_mut() else { return };
        match job.step(CHUNK) {
            Some(report @ FromMiner::Progress { .. }) => self.post(report),
            Some(report) => {
                self.job = None;
                self.post(report);
            }
            None => self.job = None,
        }
        self.schedule();
    }
}

pub fn start() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let channel = MessageChannel::new().expect("workers have MessageChannel");
    let worker = Rc::new(RefCell::new(Worker {
        scope: scope.clone(),
        channel: channel.clone(),
        job: None,
        scheduled: false,
    }));

    // Both closures live as long as the worker: `forget` hands them to JS for good.
    let on_page = {
        let worker = worker.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let bytes = Uint8Array::new(&event.data()).to_vec();
            match ToMiner::decode(&bytes) {
                Ok(message) => worker.borrow_mut().take(message),
                Err(err) => web_sys::console::error_1(&format!("miner: bad message: {err}").into()),
            }
        })
    };
    scope.set_onmessage(Some(on_page.as_ref().unchecked_ref()));
    on_page.forget();

    let on_wake = {
        let worker = worker.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |_: MessageEvent| {
            worker.borrow_mut().run_chunk()
        })
    };
    channel
        .port1()
        .set_onmessage(Some(on_wake.as_ref().unchecked_ref()));
    on_wake.forget();

    worker.borrow().post(FromMiner::Ready {
        path: SearchPath::BUILT,
    });
}
