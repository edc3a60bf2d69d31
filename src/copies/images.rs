//! Images of copies: a fax's TIFF (often CCITT Group 4) shown as PNG in the browser,
//! and the JAHIS 2D symbol (a QR code) read from a scanned or faxed image where the
//! image is good enough. Decoding is bounded (size limits) so that a hostile file
//! cannot exhaust memory. PDF pages are not rasterised: their symbol is read with a
//! code scanner instead.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::domain::mail::CopyFileKind;

fn decode(kind: CopyFileKind, bytes: &[u8]) -> Option<DynamicImage> {
    let format = match kind {
        CopyFileKind::Png => ImageFormat::Png,
        CopyFileKind::Jpeg => ImageFormat::Jpeg,
        CopyFileKind::Tiff => ImageFormat::Tiff,
        CopyFileKind::Pdf => return None,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(12_000);
    limits.max_image_height = Some(12_000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    reader.decode().ok()
}

/// A TIFF's first page as PNG, for browsers that cannot show TIFF.
pub fn tiff_as_png(bytes: &[u8]) -> Option<Vec<u8>> {
    let img = decode(CopyFileKind::Tiff, bytes)?;
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .ok()?;
    Some(out)
}

/// Text of a symbol's bytes: UTF-8 when valid, else Shift_JIS (what JAHIS symbols
/// printed by clinic systems usually carry).
fn symbol_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::SHIFT_JIS.decode(bytes).0.into_owned(),
    }
}

/// The texts of the QR codes found in an image (empty when none can be read).
pub fn read_symbols(kind: CopyFileKind, bytes: &[u8]) -> Vec<String> {
    let Some(img) = decode(kind, bytes) else {
        return Vec::new();
    };
    let grey = img.to_luma8();
    let (w, h) = (grey.width() as usize, grey.height() as usize);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        grey.get_pixel(x as u32, y as u32).0[0]
    });
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|g| {
            let mut out = Vec::new();
            g.decode_to(&mut out).ok()?;
            Some(symbol_text(&out))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A QR code of `data` as a PNG (4 pixels per module, quiet zone).
    pub fn qr_png(data: &[u8]) -> Vec<u8> {
        let code = qrcode::QrCode::new(data).unwrap();
        let width = code.width();
        let colors = code.to_colors();
        let scale = 4;
        let size = (width + 8) * scale;
        let img = image::GrayImage::from_fn(size as u32, size as u32, |x, y| {
            let (mx, my) = (x as usize / scale, y as usize / scale);
            let dark = mx >= 4
                && my >= 4
                && mx - 4 < width
                && my - 4 < width
                && colors[(my - 4) * width + (mx - 4)] == qrcode::Color::Dark;
            image::Luma([if dark { 0 } else { 255 }])
        });
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn reads_a_shift_jis_symbol_from_a_png() {
        let text = "JAHIS10\r\n1,1,1312345678,13,新宿内科クリニック\r\n";
        let sjis = encoding_rs::SHIFT_JIS.encode(text).0.into_owned();
        let png = qr_png(&sjis);
        assert_eq!(
            read_symbols(CopyFileKind::Png, &png),
            vec![text.to_string()]
        );
        assert!(read_symbols(CopyFileKind::Png, b"\x89PNG\r\n\x1a\nbroken").is_empty());
        assert!(read_symbols(CopyFileKind::Pdf, b"%PDF-1.4").is_empty());
    }

    #[test]
    fn tiff_pages_become_png() {
        let img = image::GrayImage::from_fn(8, 8, |x, _| image::Luma([(x * 30) as u8]));
        let mut tiff = Vec::new();
        img.write_to(&mut Cursor::new(&mut tiff), ImageFormat::Tiff)
            .unwrap();
        let png = tiff_as_png(&tiff).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        assert!(tiff_as_png(b"II*\0garbage").is_none());
    }
}
