//! What the page and a mining worker say to each other, and the search a worker runs.
//!
//! The page owns the template; a worker only searches the nonce range it was given and
//! reports, after every [`CHUNK`] nonces, how many it tried. Searching in chunks is what
//! lets a worker take a new template "at once": between two chunks it reads its
//! messages, so stale work stops within one chunk (about 15 ms at 4 MH/s).
//!
//! Messages are postcard bytes, so both sides share these types instead of a JS shape.
//!
//! The worker is built twice: with wasm `simd128` it searches four nonces at once
//! ([`LaneSearch`]), without it one at a time ([`PowSearch`]); its JS entry loads the
//! SIMD build where the browser validates SIMD code. Both find the same first nonce.

#![forbid(unsafe_code)]

use std::ops::Range;

use serde::{Deserialize, Serialize};
use tabchain_core::{Header, LaneSearch, PowSearch};

/// Nonces a worker tries between two looks at its messages.
pub const CHUNK: u64 = 1 << 16;

/// From the page to a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToMiner {
    /// Search `nonces` of `header`, dropping whatever job came before.
    Mine {
        job: u32,
        header: Header,
        nonces: Range<u64>,
    },
    /// Stop searching.
    Stop,
}

/// From a worker to the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromMiner {
    /// The worker's wasm is loaded and it listens: messages sent earlier were lost.
    /// `path` is the search its build runs.
    Ready { path: SearchPath },
    /// `hashes` more nonces of `job` tried, none solved it.
    Progress { job: u32, hashes: u64 },
    /// `nonce` solves `job`; `hashes` nonces were tried since the last report.
    Found { job: u32, nonce: u64, hashes: u64 },
    /// The whole range of `job` was tried without a solution.
    Exhausted { job: u32, hashes: u64 },
}

/// How a worker searches nonces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SearchPath {
    /// One nonce at a time: [`PowSearch`].
    Scalar,
    /// Four nonces at a time in wasm SIMD lanes: [`LaneSearch`].
    Lanes,
}

impl SearchPath {
    /// The search this build runs: lanes only where they are SIMD instructions (natively
    /// the lanes are a plain array, slower than the scalar search's SHA extensions).
    pub const BUILT: SearchPath = if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
        SearchPath::Lanes
    } else {
        SearchPath::Scalar
    };
}

impl ToMiner {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("a ToMiner always encodes")
    }

    pub fn decode(bytes: &[u8]) -> Result<ToMiner, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

impl FromMiner {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("a FromMiner always encodes")
    }

    pub fn decode(bytes: &[u8]) -> Result<FromMiner, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

#[derive(Debug)]
enum Search {
    Scalar(PowSearch),
    /// Boxed: its precomputed lanes are several times the scalar search's size.
    Lanes(Box<LaneSearch>),
}

impl Search {
    fn first(&self, nonces: Range<u64>) -> Option<u64> {
        match self {
            Search::Scalar(search) => search.search(nonces),
            Search::Lanes(search) => search.search(nonces),
        }
    }
}

/// One template being searched, a chunk at a time.
#[derive(Debug)]
pub struct Job {
    id: u32,
    search: Search,
    nonces: Range<u64>,
}

impl Job {
    pub fn new(id: u32, header: &Header, nonces: Range<u64>, path: SearchPath) -> Job {
        let search = match path {
            SearchPath::Scalar => Search::Scalar(PowSearch::new(header)),
            SearchPath::Lanes => Search::Lanes(Box::new(LaneSearch::new(header))),
        };
        Job { id, search, nonces }
    }

    /// Tries the next `chunk` nonces and says what came of it. `None` means the job is
    /// over: its last report was `Found` or `Exhausted`.
    pub fn step(&mut self, chunk: u64) -> Option<FromMiner> {
        if self.nonces.is_empty() {
            return None;
        }
        let start = self.nonces.start;
        let end = start.saturating_add(chunk).min(self.nonces.end);
        let report = match self.search.first(start..end) {
            Some(nonce) => {
                self.nonces = end..end;
                FromMiner::Found {
                    job: self.id,
                    nonce,
                    hashes: nonce - start + 1,
                }
            }
            None if end == self.nonces.end => {
                self.nonces = end..end;
                FromMiner::Exhausted {
                    job: self.id,
                    hashes: end - start,
                }
            }
            None => {
                self.nonces = end..self.nonces.end;
                FromMiner::Progress {
                    job: self.id,
                    hashes: end - start,
                }
            }
        };
        Some(report)
    }
}

/// The `index`-th of `count` equal slices of the nonce space, so workers never repeat
/// each other's work on one template.
pub fn slice(index: usize, count: usize) -> Range<u64> {
    let count = count.max(1) as u64;
    let index = (index as u64).min(count - 1);
    let width = u64::MAX / count;
    let start = index * width;
    let end = if index == count - 1 {
        u64::MAX
    } else {
        start + width
    };
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::{Hash, Timestamp};

    fn header(difficulty: u64) -> Header {
        Header {
            version: Header::VERSION,
            prev: Hash::digest(b"parent"),
            merkle_root: Hash::digest(b"root"),
            time: Timestamp(1_767_225_600_000),
            difficulty,
            nonce: 0,
        }
    }

    #[test]
    fn both_paths_report_the_same_nonces() {
        let template = header(300);
        let reports = |path| {
            let mut job = Job::new(2, &template, 1000..20_000, path);
            std::iter::from_fn(|| job.step(1000)).collect::<Vec<_>>()
        };
        assert_eq!(reports(SearchPath::Lanes), reports(SearchPath::Scalar));
    }

    #[test]
    fn a_found_nonce_solves_the_header_and_ends_the_job() {
        let template = header(300);
        let mut job = Job::new(7, &template, 0..u64::MAX, SearchPath::Lanes);
        let mut tried = 0;
        let nonce = loop {
            match job.step(64).expect("the job runs until it finds one") {
                FromMiner::Progress { job: 7, hashes } => tried += hashes,
                FromMiner::Found {
                    job: 7,
                    nonce,
                    hashes,
                } => {
                    tried += hashes;
                    break nonce;
                }
                other => panic!("unexpected report {other:?}"),
            }
        };
        let mut solved = template;
        solved.nonce = nonce;
        assert!(solved.meets_difficulty());
        assert_eq!(
            tried,
            nonce + 1,
            "every nonce up to the solution is counted once"
        );
        assert_eq!(job.step(64), None);
    }

    #[test]
    fn an_unsolvable_range_reports_every_nonce_then_exhausted() {
        // Difficulty u64::MAX: no hash in a 100-nonce range meets it (chance 100/2^64).
        let mut job = Job::new(1, &header(u64::MAX), 1000..1100, SearchPath::Lanes);
        assert_eq!(
            job.step(64),
            Some(FromMiner::Progress { job: 1, hashes: 64 })
        );
        assert_eq!(
            job.step(64),
            Some(FromMiner::Exhausted { job: 1, hashes: 36 })
        );
        assert_eq!(job.step(64), None);
    }

    #[test]
    fn slices_cover_the_nonce_space_without_overlap() {
        for count in [1, 2, 3, 7] {
            let slices: Vec<_> = (0..count).map(|i| slice(i, count)).collect();
            assert_eq!(slices[0].start, 0);
            assert_eq!(slices[count - 1].end, u64::MAX);
            for pair in slices.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
            }
        }
    }

    #[test]
    fn messages_round_trip_and_garbage_is_refused() {
        let mine = ToMiner::Mine {
            job: 3,
            header: header(5),
            nonces: slice(1, 4),
        };
        assert_eq!(ToMiner::decode(&mine.encode()).unwrap(), mine);
        let found = FromMiner::Found {
            job: 3,
            nonce: 9,
            hashes: 10,
        };
        assert_eq!(FromMiner::decode(&found.encode()).unwrap(), found);
        assert!(ToMiner::decode(&[0xff, 0xff]).is_err());
    }
}
