//! The two encodings a precompressed copy comes in, each at its smallest setting, and
//! the name of the copy next to its source (the one tower-http's `ServeDir` looks for).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use brotli::enc::BrotliEncoderParams;
use zopfli::{Format, Options};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
}

impl Encoding {
    pub const ALL: [Encoding; 2] = [Encoding::Brotli, Encoding::Gzip];

    /// The suffix of the copy's file name (`app.wasm` -> `app.wasm.br`).
    pub fn extension(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gz",
        }
    }

    pub fn copy_of(self, source: &Path) -> PathBuf {
        let mut name = OsString::from(source.as_os_str());
        name.push(".");
        name.push(self.extension());
        PathBuf::from(name)
    }

    pub fn compress(self, source: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            // Quality 11 and the largest window brotli decoders must accept (16 MiB):
            // the window then spans the whole wasm.
            Encoding::Brotli => {
                let params = BrotliEncoderParams {
                    quality: 11,
                    lgwin: 24,
                    size_hint: source.len(),
                    ..BrotliEncoderParams::default()
                };
                brotli::BrotliCompress(&mut &source[..], &mut out, &params)
                    .expect("writing to a Vec does not fail");
            }
            Encoding::Gzip => zopfli::compress(Options::default(), Format::Gzip, source, &mut out)
                .expect("writing to a Vec does not fail"),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn sample() -> Vec<u8> {
        let mut text = Vec::new();
        for i in 0..2000u32 {
            text.extend_from_slice(format!("block {i} mined by tab {}\n", i % 7).as_bytes());
        }
        text
    }

    #[test]
    fn brotli_copies_decode_to_the_source() {
        let source = sample();
        let copy = Encoding::Brotli.compress(&source);
        assert!(copy.len() < source.len() / 4);
        let mut decoded = Vec::new();
        brotli::Decompressor::new(&copy[..], 4096)
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, source);
    }

    #[test]
    fn gzip_copies_decode_to_the_source_and_beat_level_9() {
        let source = sample();
        let copy = Encoding::Gzip.compress(&source);
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&copy[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, source);

        let mut level_9 = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut level_9, &source).unwrap();
        assert!(copy.len() <= level_9.finish().unwrap().len());
    }

    #[test]
    fn a_copy_sits_next_to_its_source() {
        let source = Path::new("dist/app-0123456789abcdef_bg.wasm");
        assert_eq!(
            Encoding::Brotli.copy_of(source),
            Path::new("dist/app-0123456789abcdef_bg.wasm.br")
        );
        assert_eq!(
            Encoding::Gzip.copy_of(source),
            Path::new("dist/app-0123456789abcdef_bg.wasm.gz")
        );
    }
}
