//! The built-in provider of the dev server: no network, deterministic, and every output says
//! it is offline — text starts with `[offline]`, images are labelled SVG placeholders.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::model::error::Result;
use crate::ports::ai::{AiProvider, ChatRequest, GeneratedImage, ImageRequest};

/// What every offline text starts with.
pub const OFFLINE_MARK: &str = "[offline]";

pub struct OfflineProvider;

#[async_trait]
impl AiProvider for OfflineProvider {
    fn name(&self) -> &'static str {
        "offline"
    }

    /// `[offline]` and the first paragraph of the material, on one line (marked once, also
    /// when the material is an earlier offline answer).
    async fn chat(&self, request: &ChatRequest) -> Result<String> {
        let first = request.user.split("\n\n").map(str::trim).find(|paragraph| !paragraph.is_empty()).unwrap_or("");
        let words: Vec<&str> = first.split_whitespace().skip_while(|word| *word == OFFLINE_MARK).collect();
        Ok(format!("{OFFLINE_MARK} {}", words.join(" ")).trim_end().to_string())
    }

    /// `n` SVG placeholders of the requested size, labelled offline, with the prompt on them.
    async fn images(&self, request: &ImageRequest) -> Result<Vec<GeneratedImage>> {
        let (width, height) = request.size.split_once('x').unwrap_or(("1024", "1024"));
        Ok((1..=request.n)
            .map(|number| {
                let svg = format!(
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
                     viewBox=\"0 0 {width} {height}\"><rect width=\"100%\" height=\"100%\" fill=\"#e5e7eb\"/>\
                     <text x=\"50%\" y=\"45%\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"32\">\
                     Offline placeholder {number}/{}</text><text x=\"50%\" y=\"55%\" text-anchor=\"middle\" \
                     font-family=\"sans-serif\" font-size=\"18\">{}</text></svg>",
                    request.n,
                    xml_escape(&request.prompt.chars().take(120).collect::<String>())
                );
                GeneratedImage {
                    url: Some(format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg))),
                    b64_json: None,
                    revised_prompt: Some(format!("{OFFLINE_MARK} {}", request.prompt)),
                }
            })
            .collect())
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn text_says_it_is_offline_and_is_the_same_every_time() {
        let request = ChatRequest { system: "Shorten".into(), user: "Hello   world\nagain\n\nSecond part".into() };
        let first = OfflineProvider.chat(&request).await.unwrap();
        assert_eq!(first, "[offline] Hello world again");
        assert_eq!(OfflineProvider.chat(&request).await.unwrap(), first);
        let again = ChatRequest { system: "Shorten".into(), user: first.clone() };
        assert_eq!(OfflineProvider.chat(&again).await.unwrap(), first);
    }

    #[tokio::test]
    async fn images_are_labelled_placeholders() {
        let request = ImageRequest { prompt: "A <red> fox".into(), size: "512x512".into(), n: 2 };
        let images = OfflineProvider.images(&request).await.unwrap();
        assert_eq!(images.len(), 2);
        let data = images[0].url.as_deref().unwrap().strip_prefix("data:image/svg+xml;base64,").unwrap();
        let svg = String::from_utf8(STANDARD.decode(data).unwrap()).unwrap();
        assert!(svg.contains("Offline placeholder 1/2") && svg.contains("A &lt;red&gt; fox"), "{svg}");
        assert!(svg.contains("width=\"512\""));
    }
}
