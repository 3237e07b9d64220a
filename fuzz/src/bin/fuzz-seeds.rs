//! Writes the valid samples of every fuzz target (made with the real encoders) into
//! `<dir>/<target>/`, named by their content's hash: the seed corpus that
//! `scripts/fuzz.sh seed` merges into `fuzz/corpus/`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/seeds".into()),
    );
    for (target, bytes) in tabchain_fuzz::samples() {
        let target_dir = dir.join(target);
        std::fs::create_dir_all(&target_dir)?;
        let name = tabchain_core::Hash::digest(&bytes).to_string();
        std::fs::write(target_dir.join(format!("seed-{}", &name[..16])), &bytes)?;
    }
    Ok(())
}
