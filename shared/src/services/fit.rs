//! Fitting text to a platform's length limit, in the platform's own unit (Bluesky counts
//! graphemes). The model is told the limit up front; if its text is still too long it is asked
//! once more to shorten it; if that is still too long, the text is cut at a word boundary and
//! ends with an ellipsis. The result always fits.

use unicode_segmentation::UnicodeSegmentation;

use crate::model::error::Result;
use crate::model::platforms::{Limits, Platform, TextUnit};
use crate::ports::ai::{AiProvider, ChatRequest};

const ELLIPSIS: &str = "…";

/// Text that fits a platform, and how it was made to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    pub text: String,
    /// In the platform's unit.
    pub length: usize,
    pub limit: usize,
    /// The model was asked a second time to shorten its text.
    pub reshortened: bool,
    /// The text was cut at a word boundary after that.
    pub truncated: bool,
}

/// The platform's unit in words: `characters` or `graphemes`.
pub fn unit_name(unit: TextUnit) -> &'static str {
    match unit {
        TextUnit::Characters => "characters",
        TextUnit::Graphemes => "graphemes",
    }
}

/// The limit as the model is told it: `at most 300 graphemes (user-perceived characters, …)`.
pub fn limit_phrase(platform: Platform) -> String {
    let limits = platform.limits();
    let unit = match limits.unit {
        TextUnit::Characters => "characters, counting spaces, emoji and links".to_string(),
        TextUnit::Graphemes => "graphemes (user-perceived characters, counting spaces and links)".to_string(),
    };
    format!("at most {} {unit}: the {} limit", limits.max_text, platform.as_str())
}

/// Makes `text` fit `platform`: as it is, or shortened once more by the model, or cut.
pub async fn fit(ai: &dyn AiProvider, platform: Platform, text: String) -> Result<Fitted> {
    let limits = platform.limits();
    let fitted = |text: String, reshortened, truncated| Fitted {
        length: limits.length(&text),
        limit: limits.max_text,
        text,
        reshortened,
        truncated,
    };
    if limits.length(&text) <= limits.max_text {
        return Ok(fitted(text, false, false));
    }
    let request = ChatRequest {
        system: format!(
            "Shorten this social-media post to {}. It is {} {} now. Keep its meaning, links and \
             hashtags where you can. Answer with the post only.",
            limit_phrase(platform),
            limits.length(&text),
            unit_name(limits.unit)
        ),
        user: text,
    };
    let shorter = ai.chat(&request).await?;
    if limits.length(&shorter) <= limits.max_text {
        return Ok(fitted(shorter, true, false));
    }
    Ok(fitted(truncate(&shorter, limits), true, true))
}

/// `text` cut to `limits` at a word boundary, ending with an ellipsis; unchanged if it fits.
pub fn truncate(text: &str, limits: Limits) -> String {
    if limits.length(text) <= limits.max_text {
        return text.to_string();
    }
    let budget = limits.max_text.saturating_sub(limits.length(ELLIPSIS));
    let mut kept = String::new();
    let mut length = 0;
    let mut cut_before_space = false;
    for grapheme in text.graphemes(true) {
        let grapheme_length = limits.length(grapheme);
        if length + grapheme_length > budget {
            cut_before_space = grapheme.chars().all(char::is_whitespace);
            break;
        }
        kept.push_str(grapheme);
        length += grapheme_length;
    }
    let at_word = match kept.rfind(char::is_whitespace) {
        _ if cut_before_space => kept.as_str(),
        Some(space) if space >= kept.len() / 2 => &kept[..space],
        _ => kept.as_str(),
    };
    let trimmed = at_word.trim_end_matches(|c: char| c.is_whitespace() || ",;:-–—".contains(c));
    format!("{trimmed}{ELLIPSIS}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_a_word_boundary_with_an_ellipsis() {
        let limits = Limits { max_text: 20, ..Platform::X.limits() };
        let cut = truncate("The quick brown fox jumps over the lazy dog", limits);
        assert_eq!(cut, "The quick brown fox…");
        assert!(limits.length(&cut) <= 20);
        assert_eq!(truncate("Short enough", limits), "Short enough");
        assert_eq!(truncate("The quick brown foxes jump", limits), "The quick brown…");
    }

    #[test]
    fn bluesky_is_cut_by_graphemes() {
        let family = "👨‍👩‍👧‍👦";
        let text = format!("{} end", family.repeat(400));
        let cut = truncate(&text, Platform::Bluesky.limits());
        assert_eq!(Platform::Bluesky.limits().length(&cut), 300);
        assert!(cut.ends_with(ELLIPSIS) && cut.starts_with(family));
    }

    #[test]
    fn a_single_long_word_is_cut_hard() {
        let limits = Limits { max_text: 10, ..Platform::X.limits() };
        assert_eq!(truncate(&"a".repeat(50), limits), format!("{}…", "a".repeat(9)));
    }
}
