//! The join URL as text and as a QR code for the terminal, so a class can scan it off
//! the projected screen instead of typing an address.

use qrcode::render::unicode::Dense1x2;
use qrcode::types::QrError;
use qrcode::QrCode;

/// Why the join URL cannot be drawn.
#[derive(Debug, thiserror::Error)]
pub enum JoinUrlError {
    #[error("the join URL does not fit in a QR code")]
    TooLong(#[from] QrError),
}

/// `url` and a QR code of it in Unicode half blocks: two modules per character cell,
/// so a typical URL takes about 15 lines. Light modules are drawn and dark ones left
/// blank: on the usual light-on-dark terminal that shows dark modules on light, with
/// the light quiet zone around them that phone cameras need.
pub fn banner(url: &str) -> Result<String, JoinUrlError> {
    let code = QrCode::new(url.as_bytes())?;
    let qr = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    Ok(format!("Join: {url}\n\n{qr}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_has_the_url_and_a_square_code_in_half_blocks() {
        let url = "http://192.168.1.20:8080/";
        let text = banner(url).unwrap();
        assert!(text.starts_with("Join: http://192.168.1.20:8080/\n"));
        let code: Vec<&str> = text.lines().skip(2).collect();
        let width = code[0].chars().count();
        // Version 2 (25 modules) with a 4-module quiet zone each side, two rows a line.
        assert_eq!(width, 33);
        assert_eq!(code.len(), width.div_ceil(2));
        assert!(code.iter().all(|line| line.chars().count() == width));
        assert!(code
            .iter()
            .flat_map(|line| line.chars())
            .all(|c| matches!(c, ' ' | '\u{2580}' | '\u{2584}' | '\u{2588}')));
        // The quiet zone is drawn (light), so the top line is all full blocks.
        assert!(code[0].chars().all(|c| c == '\u{2588}'));
    }

    #[test]
    fn a_url_too_long_for_any_qr_code_is_an_error() {
        let url = format!("http://x/{}", "a".repeat(3000));
        assert!(matches!(banner(&url), Err(JoinUrlError::TooLong(_))));
    }
}
