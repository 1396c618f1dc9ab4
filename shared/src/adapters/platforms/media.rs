//! Images attached to a post, downloaded from their user-supplied URLs through the one
//! [`OutboundClient`] (so the SSRF guard applies) before an adapter uploads them to a platform.
//! Anything that keeps an image from being used — a refused URL, an error status, a body that is
//! not an image or is too large — is `invalid_media`, with the reason.

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;

use crate::adapters::outbound::OutboundClient;
use crate::model::platforms::{ErrorCode, MediaItem};
use crate::ports::platforms::PlatformError;

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

/// Downloads every image of a post, in order.
pub async fn fetch_images(http: &OutboundClient, items: &[MediaItem]) -> Result<Vec<Image>, PlatformError> {
    let mut images = Vec::with_capacity(items.len());
    for item in items {
        images.push(fetch_image(http, item).await?);
    }
    Ok(images)
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
    Ok(Image { bytes: response.body, media_type, alt: item.alt.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_image_types_are_accepted() {
        assert_eq!(ImageType::parse("image/PNG; charset=binary").unwrap().as_str(), "image/png");
        assert_eq!(ImageType::parse("image/svg+xml").unwrap().file_name(), "image.svg");
        assert!(ImageType::parse("text/html").is_none());
        assert!(ImageType::parse("image/").is_none());
    }
}
