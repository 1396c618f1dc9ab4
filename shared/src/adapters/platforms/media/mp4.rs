//! What an MP4 or QuickTime file says of its picture, read from its boxes (ISO/IEC 14496-12):
//! the top-level boxes are walked by their headers alone (`mdat`, the media data, is skipped by
//! its size, never read), then the `moov` box is read and its `mvhd` (duration), and the video
//! track's `tkhd` (display size) and `stsd` (codec) are taken from it.

use std::time::Duration;

/// The largest `moov` box read (a two-hour video's is a few megabytes).
pub const MAX_MOOV_BYTES: usize = 32 * 1024 * 1024;

/// What the `moov` box of a video says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movie {
    pub duration: Option<Duration>,
    pub dimensions: Option<(u32, u32)>,
    pub codec: Option<String>,
}

/// A box's header: its type, where its content starts (relative to the box), its whole size
/// (`None`: it runs to the end of the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxHeader {
    pub kind: [u8; 4],
    pub header_len: u64,
    pub size: Option<u64>,
}

/// The header of the box starting at `bytes` (at least 16 bytes, or what is left of the file).
pub fn box_header(bytes: &[u8]) -> Option<BoxHeader> {
    let size32 = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
    let kind: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
    match size32 {
        0 => Some(BoxHeader { kind, header_len: 8, size: None }),
        1 => {
            let size = u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
            (size >= 16).then_some(BoxHeader { kind, header_len: 16, size: Some(size) })
        }
        size if size >= 8 => Some(BoxHeader { kind, header_len: 8, size: Some(u64::from(size)) }),
        _ => None,
    }
}

/// The children of a box's content, each as (type, content).
fn children(mut content: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let header = box_header(content)?;
        let size = usize::try_from(header.size.unwrap_or(content.len() as u64)).ok()?.min(content.len());
        let start = usize::try_from(header.header_len).ok()?;
        let child = content.get(start..size)?;
        content = &content[size..];
        Some((header.kind, child))
    })
}

fn child<'a>(content: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(content).find(|(found, _)| found == kind).map(|(_, child)| child)
}

/// Reads the content of a `moov` box.
pub fn read_movie(moov: &[u8]) -> Movie {
    let duration = child(moov, b"mvhd").and_then(movie_duration);
    let video = children(moov).filter(|(kind, _)| kind == b"trak").map(|(_, trak)| trak).find(|trak| {
        child(trak, b"mdia").and_then(|mdia| child(mdia, b"hdlr")).and_then(|hdlr| hdlr.get(8..12))
            == Some(b"vide".as_slice())
    });
    let dimensions = video.and_then(|trak| child(trak, b"tkhd")).and_then(track_size);
    let codec = video
        .and_then(|trak| child(trak, b"mdia"))
        .and_then(|mdia| child(mdia, b"minf"))
        .and_then(|minf| child(minf, b"stbl"))
        .and_then(|stbl| child(stbl, b"stsd"))
        .and_then(|stsd| stsd.get(12..16))
        .map(|fourcc| String::from_utf8_lossy(fourcc).into_owned());
    Movie { duration, dimensions, codec }
}

/// `mvhd`: version 1 has 64-bit times, version 0 32-bit ones; the duration is in timescale units.
fn movie_duration(mvhd: &[u8]) -> Option<Duration> {
    let number = |range: std::ops::Range<usize>| -> Option<u64> {
        let bytes = mvhd.get(range)?;
        Some(bytes.iter().fold(0, |value, byte| (value << 8) | u64::from(*byte)))
    };
    let (timescale, duration) = match mvhd.first()? {
        1 => (number(20..24)?, number(24..32)?),
        _ => (number(12..16)?, number(16..20)?),
    };
    (timescale > 0).then(|| Duration::from_secs_f64(duration as f64 / timescale as f64))
}

/// `tkhd`: width and height are the last two fields, 16.16 fixed-point.
fn track_size(tkhd: &[u8]) -> Option<(u32, u32)> {
    let end = tkhd.len();
    let width = u32::from_be_bytes(tkhd.get(end.checked_sub(8)?..end - 4)?.try_into().ok()?) >> 16;
    let height = u32::from_be_bytes(tkhd.get(end - 4..end)?.try_into().ok()?) >> 16;
    (width > 0 && height > 0).then_some((width, height))
}

#[cfg(test)]
pub mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], content: &[u8]) -> Vec<u8> {
        let mut bytes = ((content.len() + 8) as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(kind);
        bytes.extend_from_slice(content);
        bytes
    }

    /// The `moov` box of a `width`×`height` H.264 video of `seconds`.
    pub fn moov(width: u32, height: u32, seconds: u32) -> Vec<u8> {
        let mut mvhd = vec![0u8; 100];
        mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
        mvhd[16..20].copy_from_slice(&(seconds * 1000).to_be_bytes());
        let mut tkhd = vec![0u8; 84];
        tkhd[76..80].copy_from_slice(&(width << 16).to_be_bytes());
        tkhd[80..84].copy_from_slice(&(height << 16).to_be_bytes());
        let mut hdlr = vec![0u8; 24];
        hdlr[8..12].copy_from_slice(b"vide");
        let mut stsd = vec![0u8; 8];
        stsd.extend_from_slice(&boxed(b"avc1", &[0u8; 78]));
        let stbl = boxed(b"stbl", &boxed(b"stsd", &stsd));
        let mdia = boxed(b"mdia", &[boxed(b"hdlr", &hdlr), boxed(b"minf", &stbl)].concat());
        let trak = boxed(b"trak", &[boxed(b"tkhd", &tkhd), mdia].concat());
        [boxed(b"mvhd", &mvhd), trak].concat()
    }

    #[test]
    fn the_movie_box_gives_duration_size_and_codec() {
        let movie = read_movie(&moov(1080, 1920, 42));
        assert_eq!(movie.duration, Some(Duration::from_secs(42)));
        assert_eq!(movie.dimensions, Some((1080, 1920)));
        assert_eq!(movie.codec.as_deref(), Some("avc1"));
    }

    #[test]
    fn box_headers_read_32_and_64_bit_sizes() {
        assert_eq!(box_header(&boxed(b"ftyp", b"isom")).unwrap().size, Some(12));
        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&(5u64 << 30).to_be_bytes());
        assert_eq!(box_header(&large).unwrap(), BoxHeader { kind: *b"mdat", header_len: 16, size: Some(5 << 30) });
        assert!(box_header(&[0, 0, 0, 4, b'b', b'a', b'd', b'!']).is_none());
    }
}
