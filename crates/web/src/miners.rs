//! The mining workers: each runs `tabchain-miner` and searches its own slice of the
//! nonce space of the node's current template. A new template goes to every worker at
//! once; a worker's `Found` for an older template is ignored.
//!
//! The worker's script picks its search (SIMD lanes where the browser validates SIMD
//! code, else scalar); `?simd=off` on the page reaches it as the script's own query.

use js_sys::Uint8Array;
use tabchain_core::{Block, Timestamp};
use tabchain_miner::{slice, FromMiner, SearchPath, ToMiner};
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker};

use crate::hashrate::HashMeter;
use crate::js::Sink;

/// The worker's entry script (www/miner_worker.js), next to the page.
const WORKER_SCRIPT: &str = "miner_worker.js";
/// The same script told to load the scalar build even where SIMD works.
const SCALAR_WORKER_SCRIPT: &str = "miner_worker.js?simd=off";

/// A worker's report, with which worker sent it.
#[derive(Debug)]
pub struct Report {
    pub worker: u32,
    /// `None`: the worker failed (its script did not load, or it sent garbage).
    pub report: Option<FromMiner>,
}

#[derive(Debug)]
struct Miner {
    id: u32,
    worker: Worker,
    /// It sent `Ready`: messages now reach it.
    ready: bool,
    on_message: Closure<dyn FnMut(MessageEvent)>,
    on_error: Closure<dyn FnMut(JsValue)>,
}

#[derive(Debug)]
pub struct Miners {
    workers: Vec<Miner>,
    wanted: usize,
    /// Workers may load their SIMD build.
    simd: bool,
    /// The search the latest ready worker runs.
    path: Option<SearchPath>,
    next_id: u32,
    job: u32,
    template: Option<Block>,
    meter: HashMeter,
    found: u64,
    sink: Sink<Report>,
}

impl Miners {
    pub fn new(wanted: usize, simd: bool, sink: Sink<Report>) -> Miners {
        Miners {
            workers: Vec::new(),
            wanted: wanted.max(1),
            simd,
            path: None,
            next_id: 0,
            job: 0,
            template: None,
            meter: HashMeter::default(),
            found: 0,
            sink,
        }
    }

    /// Starts the workers, idle. Done when the page opens: a page whose server has gone
    /// away can still start mining later, but could no longer fetch the workers' scripts.
    pub fn start(&mut self) -> Result<(), JsValue> {
        self.spawn_missing()
    }

    pub fn wanted(&self) -> usize {
        self.wanted
    }

    pub fn path(&self) -> Option<SearchPath> {
        self.path
    }

    pub fn found(&self) -> u64 {
        self.found
    }

    pub fn hashrate(&mut self, now: Timestamp) -> u64 {
        self.meter.rate(now)
    }

    /// Starts or ends workers to have `count`, and splits the template anew.
    pub fn set_count(&mut self, count: usize) -> Result<(), JsValue> {
        self.wanted = count.max(1);
        self.spawn_missing()?;
        while self.workers.len() > self.wanted {
            if let Some(miner) = self.workers.pop() {
                miner.worker.set_onmessage(None);
                miner.worker.set_onerror(None);
                miner.worker.terminate();
                drop((miner.on_message, miner.on_error));
            }
        }
        self.hand_out();
        Ok(())
    }

    /// Mine on `template` from now on.
    pub fn mine(&mut self, template: Block) {
        self.template = Some(template);
        self.job = self.job.wrapping_add(1);
        self.hand_out();
    }

    pub fn stop(&mut self) {
        self.template = None;
        self.job = self.job.wrapping_add(1);
        for miner in self.workers.iter().filter(|miner| miner.ready) {
            post(&miner.worker, &ToMiner::Stop);
        }
    }

    /// Takes a worker's report; returns the solved block if it solved the current
    /// template.
    pub fn on_report(&mut self, report: Report, now: Timestamp) -> Option<Block> {
        let (solved, hashes) = match report.report? {
            FromMiner::Ready { path } => {
                let miner = self
                    .workers
                    .iter_mut()
                    .find(|miner| miner.id == report.worker)?;
                miner.ready = true;
                self.path = Some(path);
                self.hand_out();
                return None;
            }
            FromMiner::Progress { hashes, .. } | FromMiner::Exhausted { hashes, .. } => {
                (None, hashes)
            }
            FromMiner::Found { job, nonce, hashes } => ((job == self.job).then_some(nonce), hashes),
        };
        self.meter.add(now, hashes);
        let mut block = self.template.clone()?;
        block.header.nonce = solved?;
        self.found += 1;
        // Nothing more to do on this template; the node's next one follows at once.
        self.template = None;
        Some(block)
    }

    fn spawn_missing(&mut self) -> Result<(), JsValue> {
        while self.workers.len() < self.wanted {
            let id = self.next_id;
            self.next_id += 1;
            let worker = Worker::new(if self.simd {
                WORKER_SCRIPT
            } else {
                SCALAR_WORKER_SCRIPT
            })?;
            let on_error = Closure::<dyn FnMut(JsValue)>::new({
                let sink = self.sink.clone();
                move |_| {
                    sink.send(Report {
                        worker: id,
                        report: None,
                    })
                }
            });
            worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            let sink = self.sink.clone();
            let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let bytes = Uint8Array::new(&event.data()).to_vec();
                sink.send(Report {
                    worker: id,
                    report: FromMiner::decode(&bytes).ok(),
                });
            });
            worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            self.workers.push(Miner {
                id,
                worker,
                ready: false,
                on_message,
                on_error,
            });
        }
        Ok(())
    }

    /// Sends every ready worker its slice of the current template.
    fn hand_out(&self) {
        let Some(template) = &self.template else {
            return;
        };
        let count = self.workers.len();
        for (index, miner) in self
            .workers
            .iter()
            .enumerate()
            .filter(|(_, miner)| miner.ready)
        {
            post(
                &miner.worker,
                &ToMiner::Mine {
                    job: self.job,
                    header: template.header,
                    nonces: slice(index, count),
                },
            );
        }
    }
}

fn post(worker: &Worker, message: &ToMiner) {
    let _ = worker.post_message(&Uint8Array::from(message.encode().as_slice()));
}
