//! `precompress DIR`: next to every compressible file under DIR (the site trunk built),
//! writes `FILE.br` (brotli at quality 11) and `FILE.gz` (gzip by zopfli), which the
//! signaling server's `--static` sends as they are, with `Content-Encoding`.
//!
//! Compressing once at build time affords the slowest, smallest settings that a server
//! compressing each response could not. Both encodings matter: Chromium offers brotli only
//! to https and localhost, so a classroom's laptops on `http://192.168.x.y` take gzip.
//! Trunk runs this after each release build (`Trunk.toml`'s post_build hook), on the
//! staging directory before it becomes `dist/`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod encode;

use encode::Encoding;

/// What went wrong, with the file it went wrong on.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("usage: precompress <DIR>")]
    Usage,
    #[error("cannot list {0}: {1}")]
    List(PathBuf, io::Error),
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, io::Error),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, io::Error),
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("precompress: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Error> {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        return Err(Error::Usage);
    };
    let mut files = Vec::new();
    collect(Path::new(&dir), &mut files)?;
    for file in files {
        precompress(&file)?;
    }
    Ok(())
}

/// The compressible files under `dir`, in all its subdirectories.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = fs::read_dir(dir).map_err(|e| Error::List(dir.to_owned(), e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::List(dir.to_owned(), e))?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if is_compressible(&path) {
            files.push(path);
        }
    }
    Ok(())
}

/// Text and wasm shrink several times over; images and fonts are compressed already, and
/// a `.br` or `.gz` is a copy, not a source.
fn is_compressible(path: &Path) -> bool {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    matches!(
        extension.to_ascii_lowercase().as_str(),
        "html" | "js" | "mjs" | "css" | "wasm" | "svg" | "json" | "txt" | "xml" | "map"
    )
}

/// Writes both copies of `file`, each after the source was read, so neither is older
/// than it (the server serves no copy older than its source). A copy that would not be
/// smaller is not written, and an earlier one is removed.
fn precompress(file: &Path) -> Result<(), Error> {
    let source = fs::read(file).map_err(|e| Error::Read(file.to_owned(), e))?;
    let source = &source[..];
    // The two encodings at once: zopfli takes seconds on the page's wasm.
    let [br, gz] = std::thread::scope(|scope| {
        Encoding::ALL
            .map(|encoding| scope.spawn(move || encoding.compress(source)))
            .map(|worker| worker.join().expect("compressing does not panic"))
    });
    let mut sizes = Vec::new();
    for (encoding, bytes) in Encoding::ALL.into_iter().zip([br, gz]) {
        let copy = encoding.copy_of(file);
        if bytes.len() < source.len() {
            fs::write(&copy, &bytes).map_err(|e| Error::Write(copy.clone(), e))?;
            sizes.push(format!("{} {}", encoding.extension(), bytes.len()));
        } else {
            match fs::remove_file(&copy) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Error::Write(copy, e)),
                _ => {}
            }
        }
    }
    println!(
        "{} {} -> {}",
        file.display(),
        source.len(),
        sizes.join(", ")
    );
    Ok(())
}
