//! A media host that answers `Range` requests, as CDNs and object stores do, serving files that
//! need not exist in memory: an MP4 is described by its size and `moov` box and generated on the
//! fly (an `ftyp` box, an `mdat` box of zeros, then `moov`, as a camera writes it), so a 500 MB
//! video costs nothing. It counts the bytes it sent, so a test can show how little was read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// What the host serves at a path.
#[derive(Clone)]
enum File {
    Bytes {
        content_type: String,
        bytes: Arc<Vec<u8>>,
    },
    /// An MP4 of `size` bytes ending in `moov`.
    Mp4 {
        size: u64,
        head: Arc<Vec<u8>>,
        moov: Arc<Vec<u8>>,
    },
}

impl File {
    fn len(&self) -> u64 {
        match self {
            Self::Bytes { bytes, .. } => bytes.len() as u64,
            Self::Mp4 { size, .. } => *size,
        }
    }

    fn content_type(&self) -> &str {
        match self {
            Self::Bytes { content_type, .. } => content_type,
            Self::Mp4 { .. } => "video/mp4",
        }
    }

    /// The byte at `offset`.
    fn slice(&self, start: u64, end: u64) -> Vec<u8> {
        match self {
            Self::Bytes { bytes, .. } => bytes[start as usize..end as usize].to_vec(),
            Self::Mp4 { size, head, moov } => {
                let moov_start = size - moov.len() as u64;
                (start..end)
                    .map(|at| match at {
                        at if at < head.len() as u64 => head[at as usize],
                        at if at >= moov_start => moov[(at - moov_start) as usize],
                        _ => 0,
                    })
                    .collect()
            }
        }
    }
}

#[derive(Clone, Default)]
pub struct MediaHost {
    files: Arc<Mutex<HashMap<String, File>>>,
    sent: Arc<AtomicU64>,
    pub base_url: String,
}

/// The size of the generated bodies' chunks.
const CHUNK: u64 = 256 * 1024;

impl MediaHost {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let host = Self { base_url, ..Self::default() };
        let router = Router::new().route("/{*path}", get(serve)).with_state(host.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        host
    }

    /// Serves `bytes` as `content_type` at `path`; returns its URL.
    pub fn bytes(&self, path: &str, content_type: &str, bytes: Vec<u8>) -> String {
        let file = File::Bytes { content_type: content_type.into(), bytes: Arc::new(bytes) };
        self.files.lock().unwrap().insert(path.trim_start_matches('/').to_string(), file);
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }

    /// Serves at `path` an MP4 of `size` bytes, `width`×`height`, `seconds` long, H.264, with
    /// its `moov` box at the end; returns its URL.
    pub fn mp4(&self, path: &str, size: u64, width: u32, height: u32, seconds: u32) -> String {
        let moov = boxed(b"moov", &moov_content(width, height, seconds));
        let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2avc1mp41");
        let mdat_size = size - ftyp.len() as u64 - moov.len() as u64;
        let mut head = ftyp;
        head.extend_from_slice(&1u32.to_be_bytes());
        head.extend_from_slice(b"mdat");
        head.extend_from_slice(&mdat_size.to_be_bytes());
        let file = File::Mp4 { size, head: Arc::new(head), moov: Arc::new(moov) };
        self.files.lock().unwrap().insert(path.trim_start_matches('/').to_string(), file);
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }

    /// How many body bytes the host has sent.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

async fn serve(State(host): State<MediaHost>, Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(file) = host.files.lock().unwrap().get(&path).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let total = file.len();
    let range = headers.get(header::RANGE).and_then(|value| value.to_str().ok()).and_then(|value| {
        let (start, end) = value.strip_prefix("bytes=")?.split_once('-')?;
        let start: u64 = start.parse().ok()?;
        let end = end.parse::<u64>().map_or(total - 1, |end| end.min(total - 1));
        (start <= end).then_some((start, end + 1))
    });
    let (status, start, end) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end),
        None if headers.contains_key(header::RANGE) => return StatusCode::RANGE_NOT_SATISFIABLE.into_response(),
        None => (StatusCode::OK, 0, total),
    };
    let sent = host.sent.clone();
    let chunks = futures_chunks(file.clone(), start, end, sent);
    let mut response = Response::new(Body::from_stream(chunks));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, file.content_type().parse().unwrap());
    headers.insert(header::CONTENT_LENGTH, (end - start).into());
    headers.insert(header::ACCEPT_RANGES, "bytes".parse().unwrap());
    if status == StatusCode::PARTIAL_CONTENT {
        headers.insert(header::CONTENT_RANGE, format!("bytes {start}-{}/{total}", end - 1).parse().unwrap());
    }
    response
}

/// The bytes `start..end` of `file`, a chunk at a time, each counted as it is sent.
fn futures_chunks(
    file: File,
    start: u64,
    end: u64,
    sent: Arc<AtomicU64>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let mut at = start;
    futures_util::stream::poll_fn(move |_| {
        if at >= end {
            return std::task::Poll::Ready(None);
        }
        let until = (at + CHUNK).min(end);
        let chunk = file.slice(at, until);
        sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        at = until;
        std::task::Poll::Ready(Some(Ok(chunk)))
    })
}

fn boxed(kind: &[u8; 4], content: &[u8]) -> Vec<u8> {
    let mut bytes = ((content.len() + 8) as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(kind);
    bytes.extend_from_slice(content);
    bytes
}

/// A `moov` box's content: `mvhd` (timescale 1000), one video `trak` with `tkhd`, `hdlr` and
/// an `avc1` sample entry.
fn moov_content(width: u32, height: u32, seconds: u32) -> Vec<u8> {
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
    let minf = boxed(b"minf", &stbl);
    let mdia = boxed(b"mdia", &[boxed(b"hdlr", &hdlr), minf].concat());
    let trak = boxed(b"trak", &[boxed(b"tkhd", &tkhd), mdia].concat());
    [boxed(b"mvhd", &mvhd), trak].concat()
}
