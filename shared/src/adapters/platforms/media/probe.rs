//! Reads what a media URL holds without downloading it: the first bytes of its body (a `Range`
//! request, read no further than [`HEAD_BYTES`] even where the server ignores the range) tell its
//! real format — an image by its signature, a video by its container (`ftyp` of MP4 and
//! QuickTime, the EBML header of WebM) — and, from the image header alone, its dimensions;
//! `Content-Range` or `Content-Length` its size. An MP4 or QuickTime video's duration, size and
//! codec come from its `moov` box, found by range requests for the top-level box headers only
//! (`mp4`). Nothing is decoded, and a video is never held in memory.

use std::io::Cursor;
use std::time::Duration;

use image::ImageReader;
use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, HeaderMap, RANGE};

use crate::adapters::outbound::{FullResponse, OutboundClient};
use crate::adapters::platforms::media::mp4::{self, MAX_MOOV_BYTES, Movie};
use crate::model::platforms::{MediaFacts, MediaItem, MediaKind};
use crate::model::posts::validate::MediaContent;

/// How much of a body is read to recognise it.
pub const HEAD_BYTES: usize = 64 * 1024;
/// How much is read when an image's header does not fit [`HEAD_BYTES`] (a JPEG whose EXIF data,
/// with its thumbnail, comes before the frame header).
const LONG_HEAD_BYTES: usize = 1024 * 1024;
/// How many top-level boxes are stepped over looking for `moov`.
const MAX_TOP_LEVEL_BOXES: usize = 64;
/// The bytes read for a box header (a 64-bit size takes 16).
const BOX_HEADER_BYTES: usize = 16;

/// How long reading every item of a post may take, all together (they are read at once).
pub const READ_BUDGET: Duration = Duration::from_secs(20);

/// What each item's content is, item by item, all read at once within [`READ_BUDGET`]; an item
/// that cannot be read, or not in time, says why.
pub async fn read_contents(http: &OutboundClient, items: &[MediaItem]) -> Vec<MediaContent> {
    let reads = items.iter().map(|item| async move {
        match tokio::time::timeout(READ_BUDGET, read_content(http, &item.url)).await {
            Ok(Ok(facts)) => MediaContent::Read(facts),
            Ok(Err(reason)) => MediaContent::Unreadable(reason),
            Err(_) => MediaContent::Unreadable(format!("could not be read within {} s", READ_BUDGET.as_secs())),
        }
    });
    futures_util::future::join_all(reads).await
}

/// What the content at `url` is, or why it cannot be told.
pub async fn read_content(http: &OutboundClient, url: &str) -> Result<MediaFacts, String> {
    let head = fetch_range(http, url, 0, HEAD_BYTES).await?;
    let bytes = total_size(&head.headers, head.status);
    let mut facts = recognise(&head.body).ok_or("is neither an image nor a video Posthorn recognises")?;
    facts.bytes = bytes;
    if facts.kind == MediaKind::Image && facts.dimensions.is_none() && head.body.len() == HEAD_BYTES {
        let longer = fetch_range(http, url, 0, LONG_HEAD_BYTES).await?;
        facts.dimensions = image_dimensions(&longer.body);
    }
    if matches!(facts.media_type.as_str(), "video/mp4" | "video/quicktime") {
        let movie = find_movie(http, url, &head.body, bytes).await?;
        facts.duration = movie.duration;
        facts.dimensions = movie.dimensions;
        facts.video_codec = movie.codec;
    }
    Ok(facts)
}

/// The first `length` bytes from `offset` of the body at `url`.
pub(crate) async fn fetch_range(
    http: &OutboundClient,
    url: &str,
    offset: u64,
    length: usize,
) -> Result<FullResponse, String> {
    let range = format!("bytes={offset}-{}", offset + length as u64 - 1);
    let request = http.request(Method::GET, url).await.map_err(|e| e.to_string())?.header(RANGE, range);
    let response = http.execute_prefix(request, length).await.map_err(|e| e.to_string())?;
    match response.status {
        206 => Ok(response),
        200 if offset == 0 => Ok(response),
        200 => Err("cannot be read in parts: the server ignores Range requests".into()),
        status => Err(format!("answered HTTP {status}")),
    }
}

/// The size of the whole body: the total of `Content-Range` on a partial answer, else its length.
fn total_size(headers: &HeaderMap, status: u16) -> Option<u64> {
    let header = |name| headers.get(name).and_then(|value: &reqwest::header::HeaderValue| value.to_str().ok());
    match status {
        206 => header(CONTENT_RANGE)?.rsplit_once('/')?.1.trim().parse().ok(),
        _ => header(CONTENT_LENGTH)?.trim().parse().ok(),
    }
}

/// What the first bytes of a body are.
fn recognise(head: &[u8]) -> Option<MediaFacts> {
    let (kind, media_type) = match image::guess_format(head) {
        Ok(format) => (MediaKind::Image, format.to_mime_type()),
        Err(_) => (MediaKind::Video, video_type(head)?),
    };
    let dimensions = if kind == MediaKind::Image { image_dimensions(head) } else { None };
    Some(MediaFacts {
        kind,
        media_type: media_type.to_string(),
        bytes: None,
        dimensions,
        duration: None,
        video_codec: None,
    })
}

/// A video container's media type, from its signature: an ISO base media file (`ftyp` box
/// first; brand `qt  ` is QuickTime) or an EBML document (WebM, Matroska).
fn video_type(head: &[u8]) -> Option<&'static str> {
    const EBML: [u8; 4] = [0x1a, 0x45, 0xdf, 0xa3];
    match (head.get(4..8), head.get(8..12)) {
        (Some(b"ftyp"), Some(b"qt  ")) => Some("video/quicktime"),
        (Some(b"ftyp"), Some(brand)) if !is_still_image_brand(brand) => Some("video/mp4"),
        _ if head.starts_with(&EBML) => Some("video/webm"),
        _ => None,
    }
}

/// HEIF and AVIF images are ISO base media files too.
fn is_still_image_brand(brand: &[u8]) -> bool {
    [b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis"].iter().any(|still| brand == still.as_slice())
}

/// The `moov` box of the video at `url`, whose first bytes are `head` and whole size `total`:
/// top-level boxes are stepped over by their headers (one small range request each, unless
/// `head` holds it), and `moov` alone is read.
async fn find_movie(http: &OutboundClient, url: &str, head: &[u8], total: Option<u64>) -> Result<Movie, String> {
    let mut offset = 0u64;
    for _ in 0..MAX_TOP_LEVEL_BOXES {
        if total.is_some_and(|total| offset >= total) {
            break;
        }
        let header_bytes = read_at(http, url, head, offset, BOX_HEADER_BYTES).await?;
        let header = mp4::box_header(&header_bytes).ok_or("is not a well-formed MP4 or QuickTime file")?;
        let Some(size) = header.size else { break };
        if &header.kind == b"moov" {
            let size = usize::try_from(size).ok().filter(|size| *size <= MAX_MOOV_BYTES);
            let size = size.ok_or_else(|| format!("has a `moov` box over {MAX_MOOV_BYTES} bytes"))?;
            let moov = read_at(http, url, head, offset, size).await?;
            let content = moov.get(header.header_len as usize..).ok_or("has a truncated `moov` box")?;
            return Ok(mp4::read_movie(content));
        }
        offset += size;
    }
    Err("has no `moov` box (its duration and size cannot be read)".into())
}

/// `length` bytes from `offset`: from `head` where it holds them, else by a range request.
async fn read_at(http: &OutboundClient, url: &str, head: &[u8], offset: u64, length: usize) -> Result<Vec<u8>, String> {
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let head_is_whole = head.len() < HEAD_BYTES;
    if let Some(bytes) = head.get(start..)
        && (bytes.len() >= length || head_is_whole)
    {
        return Ok(bytes[..bytes.len().min(length)].to_vec());
    }
    Ok(fetch_range(http, url, offset, length).await?.body)
}

/// An image's width and height, from its header.
fn image_dimensions(head: &[u8]) -> Option<(u32, u32)> {
    ImageReader::new(Cursor::new(head)).with_guessed_format().ok()?.into_dimensions().ok()
}
