//! Replays every fuzz target's committed corpus (`fuzz/corpus/<target>/*`) and the
//! encoders' samples through the same functions libFuzzer runs, on stable Rust: a
//! crash input once found and committed stays fixed, without nightly in CI.

use std::path::Path;

#[test]
fn every_target_has_a_corpus_and_replays_it_without_a_crash() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (name, body) in tabchain_fuzz::TARGETS {
        let dir = root.join(name);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
            .map(|entry| entry.expect("a corpus entry").path())
            .filter(|path| path.is_file())
            .collect();
        inputs.sort();
        assert!(
            !inputs.is_empty(),
            "{name} has no corpus in {}",
            dir.display()
        );
        for path in &inputs {
            let bytes = std::fs::read(path).expect("a corpus file reads");
            let outcome = std::panic::catch_unwind(|| body(&bytes));
            assert!(outcome.is_ok(), "{name} crashes on {}", path.display());
        }
        println!("{name}: {} inputs", inputs.len());
    }
}

#[test]
fn the_samples_cover_every_target_and_pass() {
    let samples = tabchain_fuzz::samples();
    for (name, _) in tabchain_fuzz::TARGETS {
        assert!(
            samples.iter().any(|(target, _)| *target == name),
            "no sample for {name}"
        );
    }
    for (name, bytes) in &samples {
        let body = tabchain_fuzz::target(name).expect("samples name targets");
        body(bytes);
    }
}
