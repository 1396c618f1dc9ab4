//! Images attached to a post, downloaded from their user-supplied URLs through the one
//! [`OutboundClient`] (so the SSRF guard applies) before an adapter uploads them to a platform,
//! and made to fit the platform's [`ImageRules`] first: a format it does not take or a size
//! over its limit is refused, or, where the platform's rules say so, downscaled. Anything that
//! keeps an image from being used — a refused URL, an error status, a body that is not an image
//! or is too large — is `invalid_media`, with the reason. Platforms that fetch the media from
//! their URLs themselves have them read first (`probe`: the first bytes only) and checked the
//! same way.

mod mp4;
mod probe;

pub(crate) use probe::fetch_range;
pub use probe::{HEAD_BYTES, READ_BUDGET, read_content, read_contents};

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageReader};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;

use crate::adapters::outbound::OutboundClient;
use crate::model::platforms::limits::{ImageFormat, ImageRules, Oversize};
use crate::model::platforms::{ErrorCode, MediaItem, Platform};
use crate::model::posts::validate::content_problems;
use crate::ports::platforms::PlatformError;

/// The longest side a downscaled image starts from (what Bluesky's own clients send), and the
/// JPEG quality it is encoded at.
const DOWNSCALE_START_SIDE: u32 = 2000;
const DOWNSCALE_QUALITY: u8 = 85;
/// Each further try shrinks both sides to this share, at most this many times.
const DOWNSCALE_STEP: f32 = 0.75;
const DOWNSCALE_TRIES: usize = 8;

/// The largest image downloaded.
pub const MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;

/// An image's media type, always `image/…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageType(String);

impl ImageType {
    /// The media type of a `Content-Type` value (parameters dropped), if it is an image.
    pub fn parse(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        let subtype = essence.strip_prefix("image/")?;
        (!subtype.is_empty()).then_some(Self(essence))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A file name for upload forms, e.g. `image.png`.
    pub fn file_name(&self) -> String {
        let subtype = self.0.trim_start_matches("image/");
        let extension = subtype.split('+').next().unwrap_or(subtype);
        format!("image.{extension}")
    }
}

/// A downloaded image and its alt text.
#[derive(Debug, Clone)]
pub struct Image {
    pub bytes: Vec<u8>,
    pub media_type: ImageType,
    pub alt: Option<String>,
    /// Width and height in pixels, once the image has been read.
    pub dimensions: Option<(u32, u32)>,
}

impl Image {
    /// The image's bytes as a multipart file part; the alt text is returned beside it.
    pub fn into_file_part(self) -> Result<(reqwest::multipart::Part, Option<String>), PlatformError> {
        let part = reqwest::multipart::Part::bytes(self.bytes)
            .file_name(self.media_type.file_name())
            .mime_str(self.media_type.as_str())
            .map_err(|e| PlatformError::new(ErrorCode::InvalidMedia, e.to_string()))?;
        Ok((part, self.alt))
    }
}

/// Downloads every image of a post, in order, each made to fit `rules`.
pub async fn fetch_images(
    http: &OutboundClient,
    items: &[MediaItem],
    rules: &ImageRules,
) -> Result<Vec<Image>, PlatformError> {
    let mut images = Vec::with_capacity(items.len());
    for item in items {
        let image = fetch_image(http, item).await?;
        images.push(conform(image, rules).map_err(|reason| invalid_media(item, &reason))?);
    }
    Ok(images)
}

fn invalid_media(item: &MediaItem, reason: &str) -> PlatformError {
    PlatformError::new(ErrorCode::InvalidMedia, format!("media {}: {reason}", item.url))
}

/// `image` as the platform takes it: its real format (read from its bytes, not its
/// `Content-Type`) among the platform's, its dimensions read, and within the size limit —
/// downscaled to fit where the platform's rules say so.
pub fn conform(mut image: Image, rules: &ImageRules) -> Result<Image, String> {
    let reader = ImageReader::new(Cursor::new(&image.bytes)).with_guessed_format().map_err(|e| e.to_string())?;
    let format = reader.format().and_then(|format| rules.format(format.to_mime_type()));
    let Some(format) = format else {
        return Err(format!("is {}; the platform takes {}", image.media_type.as_str(), rules.extensions()));
    };
    image.media_type = ImageType(format.media_type().to_string());
    image.dimensions = reader.into_dimensions().ok();
    if let (Some(aspect), Some((width, height))) = (rules.aspect, image.dimensions) {
        aspect.check(width, height)?;
    }
    if image.bytes.len() <= rules.max_bytes {
        return Ok(image);
    }
    match rules.oversize {
        Oversize::Refuse => {
            Err(format!("is {} bytes; the platform takes at most {}", image.bytes.len(), rules.max_bytes))
        }
        Oversize::Downscale => downscale(image, rules.max_bytes),
    }
}

/// Re-encodes `image` as JPEG, smaller each try, until it is at most `max_bytes`.
fn downscale(image: Image, max_bytes: usize) -> Result<Image, String> {
    let decoded = image::load_from_memory(&image.bytes).map_err(|e| format!("cannot be read: {e}"))?;
    let mut side = DOWNSCALE_START_SIDE.min(decoded.width().max(decoded.height()));
    for _ in 0..DOWNSCALE_TRIES {
        let resized = decoded.resize(side, side, image::imageops::FilterType::Triangle);
        let bytes = encode_jpeg(&resized)?;
        if bytes.len() <= max_bytes {
            let dimensions = Some((resized.width(), resized.height()));
            let media_type = ImageType(ImageFormat::Jpeg.media_type().to_string());
            return Ok(Image { bytes, media_type, dimensions, ..image });
        }
        side = (side as f32 * DOWNSCALE_STEP) as u32;
    }
    Err(format!("could not be made smaller than {max_bytes} bytes"))
}

fn encode_jpeg(image: &DynamicImage) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let encoder = JpegEncoder::new_with_quality(&mut bytes, DOWNSCALE_QUALITY);
    image.to_rgb8().write_with_encoder(encoder).map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Reads the start of each item that `platform` will fetch from its URL itself, and refuses
/// the post with `invalid_media` (naming the item and the rule) if one breaks the platform's
/// rules: its real format, its size, its aspect ratio.
pub async fn check_at_source(
    http: &OutboundClient,
    items: &[MediaItem],
    platform: Platform,
) -> Result<(), PlatformError> {
    let limits = platform.limits();
    for (index, item) in items.iter().enumerate() {
        let facts = read_content(http, &item.url).await.map_err(|reason| invalid_media(item, &reason))?;
        if let Some(problem) = content_problems(index, &facts, &limits, platform).into_iter().next() {
            let message = format!("{} ({}): {}", platform.as_str(), problem.rule, problem.message);
            return Err(PlatformError::new(ErrorCode::InvalidMedia, message));
        }
    }
    Ok(())
}

/// Downloads one image, capped at [`MAX_IMAGE_BYTES`].
pub async fn fetch_image(http: &OutboundClient, item: &MediaItem) -> Result<Image, PlatformError> {
    let invalid = |reason: String| PlatformError::new(ErrorCode::InvalidMedia, format!("media {}: {reason}", item.url));
    let request = http.request(Method::GET, &item.url).await.map_err(|e| invalid(e.to_string()))?;
    let response = http.execute(request, MAX_IMAGE_BYTES).await.map_err(|e| invalid(e.to_string()))?;
    if !response.is_success() {
        return Err(invalid(format!("answered HTTP {}", response.status)));
    }
    let content_type = response.headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let media_type =
        ImageType::parse(content_type).ok_or_else(|| invalid(format!("is `{content_type}`, not an image")))?;
    if response.body.is_empty() {
        return Err(invalid("is empty".into()));
    }
    Ok(Image { bytes: response.body, media_type, alt: item.alt.clone(), dimensions: None })
}

#[cfg(test)]
mod tests {
    use image::{ImageFormat as Codec, RgbImage};

    use super::*;
    use crate::model::platforms::Platform;

    /// A noisy `width`×`height` PNG: noise keeps it from compressing well.
    fn noisy_png(width: u32, height: u32) -> Vec<u8> {
        let mut seed = 7u32;
        let pixels = RgbImage::from_fn(width, height, |_, _| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            image::Rgb([(seed >> 16) as u8, (seed >> 8) as u8, seed as u8])
        });
        let mut bytes = Vec::new();
        pixels.write_to(&mut Cursor::new(&mut bytes), Codec::Png).unwrap();
        bytes
    }

    fn png(bytes: Vec<u8>) -> Image {
        Image { bytes, media_type: ImageType::parse("image/png").unwrap(), alt: None, dimensions: None }
    }

    #[test]
    fn images_over_the_bluesky_blob_limit_are_downscaled_to_fit() {
        let large = noisy_png(1600, 1000);
        assert!(large.len() > 2_000_000, "{}", large.len());

        let fitted = conform(png(large), &Platform::Bluesky.limits().images).unwrap();

        assert!(fitted.bytes.len() <= 2_000_000, "{}", fitted.bytes.len());
        assert_eq!(fitted.media_type.as_str(), "image/jpeg");
        let (width, height) = fitted.dimensions.unwrap();
        assert_eq!(width * 10 / height, 16, "the aspect ratio is kept: {width}x{height}");
    }

    #[test]
    fn x_refuses_images_over_5_mb_and_formats_it_does_not_take() {
        let large = noisy_png(1800, 1200);
        assert!(large.len() > 5 * 1024 * 1024, "{}", large.len());
        let error = conform(png(large), &Platform::X.limits().images).unwrap_err();
        assert!(error.contains("at most 5242880"), "{error}");

        let jpeg_only = &Platform::Instagram.limits().images;
        let error = conform(png(noisy_png(4, 4)), jpeg_only).unwrap_err();
        assert!(error.contains("takes jpg/jpeg"), "{error}");
    }

    #[test]
    fn the_real_format_is_read_from_the_bytes() {
        let labelled_jpeg = Image { media_type: ImageType::parse("image/jpeg").unwrap(), ..png(noisy_png(3, 2)) };
        let read = conform(labelled_jpeg, &Platform::X.limits().images).unwrap();
        assert_eq!((read.media_type.as_str(), read.dimensions), ("image/png", Some((3, 2))));
    }

    #[test]
    fn only_image_types_are_accepted() {
        assert_eq!(ImageType::parse("image/PNG; charset=binary").unwrap().as_str(), "image/png");
        assert_eq!(ImageType::parse("image/svg+xml").unwrap().file_name(), "image.svg");
        assert!(ImageType::parse("text/html").is_none());
        assert!(ImageType::parse("image/").is_none());
    }
}
