//! Fitting text to a platform's length limit, in the platform's own unit (the one validation
//! counts in: Bluesky graphemes, X weighted characters, …). The model is told the limit up front; if its text is still too long it is asked
//! once more to shorten it; if that is still too long, the text is cut at a word boundary and
//! ends with an ellipsis. The result always fits.

use unicode_segmentation::UnicodeSegmentation;

use crate::model::error::Result;
use crate::model::platforms::{Limits, Platform};
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

/// The limit as the model is told it: `at most 300 graphemes (user-perceived characters, …)`.
pub fn limit_phrase(platform: Platform, limits: &Limits) -> String {
    format!("at most {} {}: the {} limit", limits.max_text, limits.unit.description(), platform.as_str())
}

/// Makes `text` fit `limits`, those of an account on `platform` (a Mastodon instance's own, where
/// known): as it is, or shortened once more by the model, or cut.
pub async fn fit(ai: &dyn AiProvider, platform: Platform, limits: Limits, text: String) -> Result<Fitted> {
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
            limit_phrase(platform, &limits),
            limits.length(&text),
            limits.unit.name()
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
/// The cut is the longest prefix of whole graphemes that fits with the ellipsis, measured as the
/// platform measures the whole text (a link counts its fixed weight once it is whole), so the
/// prefix is found by bisection rather than by adding up graphemes.
pub fn truncate(text: &str, limits: Limits) -> String {
    if limits.length(text) <= limits.max_text {
        return text.to_string();
    }
    let boundaries: Vec<usize> = text.grapheme_indices(true).map(|(at, _)| at).chain([text.len()]).collect();
    let fits = |end: usize| limits.length(&format!("{}{ELLIPSIS}", &text[..end])) <= limits.max_text;
    let (mut low, mut high) = (0, boundaries.len() - 1);
    while low < high {
        let middle = (low + high).div_ceil(2);
        if fits(boundaries[middle]) { low = middle } else { high = middle - 1 }
    }
    let kept = &text[..boundaries[low]];
    let cut_before_space = text[kept.len()..].starts_with(char::is_whitespace);
    let at_word = match kept.rfind(char::is_whitespace) {
        _ if cut_before_space => kept,
        Some(space) if space >= kept.len() / 2 => &kept[..space],
        _ => kept,
    };
    let trimmed = at_word.trim_end_matches(|c: char| c.is_whitespace() || ",;:-–—".contains(c));
    format!("{trimmed}{ELLIPSIS}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_a_word_boundary_with_an_ellipsis() {
        let limits = Limits { max_text: 20, ..Platform::Linkedin.limits() };
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
    fn x_is_cut_by_weighted_length() {
        let cjk = "日本語".repeat(100);
        let cut = truncate(&cjk, Platform::X.limits());
        assert!(Platform::X.limits().length(&cut) <= 280, "{}", Platform::X.limits().length(&cut));
        assert_eq!(cut.chars().count(), 139 + 1, "CJK and the ellipsis weigh 2: 139 characters, then …");
    }

    #[test]
    fn a_single_long_word_is_cut_hard() {
        let limits = Limits { max_text: 10, ..Platform::Linkedin.limits() };
        assert_eq!(truncate(&"a".repeat(50), limits), format!("{}…", "a".repeat(9)));
    }
}
