//! Native mining: one thread searching the node's current template with the core's
//! midstate search ([`tabchain_core::pow::PowSearch`]), the code a tab's worker runs.
//! `sha2` picks the CPU's SHA extensions at run time where it has them.

use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use tabchain_core::pow::PowSearch;
use tabchain_core::Block;
use tokio::sync::mpsc::UnboundedSender;

/// Nonces tried between looks at whether the template changed: a few ms of hashing.
const CHUNK: u64 = 1 << 16;

#[derive(Debug, Default)]
struct Job {
    template: Option<Block>,
    /// Bumped with every new template, so a solution to an old one is not reported.
    generation: u64,
    quit: bool,
}

#[derive(Debug)]
pub struct Miner {
    job: Arc<(Mutex<Job>, Condvar)>,
}

impl Miner {
    /// Starts the mining thread; solved blocks go to `found`.
    pub fn start(found: UnboundedSender<Block>) -> Miner {
        let job = Arc::new((Mutex::new(Job::default()), Condvar::new()));
        let shared = Arc::clone(&job);
        thread::Builder::new()
            .name("tabchain-miner".into())
            .spawn(move || search(&shared, &found))
            .expect("a thread can be started");
        Miner { job }
    }

    /// Mine on `template` from now on.
    pub fn mine(&self, template: Block) {
        self.set(|job| job.template = Some(template));
    }

    pub fn stop(&self) {
        self.set(|job| job.template = None);
    }

    fn set(&self, change: impl FnOnce(&mut Job)) {
        let (lock, wake) = &*self.job;
        let mut job = lock
            .lock()
            .expect("the miner never panics holding the lock");
        change(&mut job);
        job.generation += 1;
        wake.notify_one();
    }
}

impl Drop for Miner {
    fn drop(&mut self) {
        self.set(|job| job.quit = true);
    }
}

/// Hashes per second of this machine's search on one core, measured over `seconds`
/// on a block no room would take: for comparing with a tab's worker side by side.
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "a wall-clock measurement, outside any node"
)]
pub fn measure_hashrate(seconds: f64) -> f64 {
    let mut header = tabchain_core::Params::new("hashrate").genesis().header;
    header.difficulty = u64::MAX;
    let pow = PowSearch::new(&header);
    let started = std::time::Instant::now();
    let mut hashed = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        // Difficulty u64::MAX: no nonce is expected to meet it, so every one is tried.
        let _ = pow.search(hashed..hashed + CHUNK);
        hashed += CHUNK;
    }
    hashed as f64 / started.elapsed().as_secs_f64()
}

fn search(job: &(Mutex<Job>, Condvar), found: &UnboundedSender<Block>) {
    let (lock, wake) = job;
    let mut seen = 0;
    loop {
        let (mut block, generation) = {
            let mut job = lock
                .lock()
                .expect("the miner never panics holding the lock");
            while !job.quit && (job.generation == seen || job.template.is_none()) {
                seen = job.generation;
                job = wake
                    .wait(job)
                    .expect("the miner never panics holding the lock");
            }
            if job.quit {
                return;
            }
            seen = job.generation;
            (job.template.clone().expect("checked above"), job.generation)
        };
        let pow = PowSearch::new(&block.header);
        let mut start = 0u64;
        let solved = loop {
            if let Some(nonce) = pow.search(start..start.saturating_add(CHUNK)) {
                break Some(nonce);
            }
            start = start.saturating_add(CHUNK);
            let job = lock
                .lock()
                .expect("the miner never panics holding the lock");
            if job.quit || job.generation != generation || start == u64::MAX {
                break None;
            }
        };
        if let Some(nonce) = solved {
            block.header.nonce = nonce;
            if found.send(block).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tabchain_core::{Ledger, Params, SecretKey, Timestamp};
    use tokio::sync::mpsc;

    use super::*;

    #[test]
    fn the_thread_solves_the_latest_template_only() {
        let mut params = Params::new("keeper-miner");
        params.initial_difficulty = 5_000;
        let ledger = Ledger::new(params);
        let pay_to = SecretKey::from_seed([4; 32]).public_key().address();
        let (found, mut solved) = mpsc::unbounded_channel();
        let miner = Miner::start(found);
        let old = ledger.template(pay_to, Timestamp(1));
        let new = ledger.template(pay_to, Timestamp(2));
        miner.mine(old);
        miner.mine(new.clone());
        let block = solved.blocking_recv().expect("a solution");
        assert!(block.header.meets_difficulty(), "a real proof of work");
        // A solution to the replaced template may have raced out before the switch;
        // after it, only the latest one's.
        let block = if block.header.time == Timestamp(1) {
            solved.blocking_recv().expect("a solution")
        } else {
            block
        };
        assert_eq!(block.header.time, new.header.time);
        assert_eq!(block.transactions, new.transactions);
        miner.stop();
    }
}
