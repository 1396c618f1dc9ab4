//! HTML to plain text, for feed titles and summaries. A small scanner rather than an HTML
//! parser: feeds carry fragments, and all that is wanted is their readable text — tags dropped
//! (with the contents of `script` and `style`), block-level tags and `<br>` turned into line
//! breaks, character references decoded (html-escape knows every named one), whitespace tidied
//! and empty lines dropped.

const BLOCK_TAGS: [&str; 22] = [
    "address",
    "article",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "tr",
    "ul",
];
const SKIPPED_TAGS: [&str; 2] = ["script", "style"];

/// The readable text of an HTML fragment.
pub fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        text.push_str(&rest[..start]);
        let markup = &rest[start..];
        match tag_end(markup) {
            Some(end) => {
                let name = tag_name(&markup[1..end]);
                rest = &markup[end..];
                if SKIPPED_TAGS.contains(&name.as_str()) && !markup[1..].starts_with('/') {
                    rest = skip_past_closing(rest, &name);
                } else if BLOCK_TAGS.contains(&name.as_str()) {
                    text.push('\n');
                }
            }
            None => {
                // A `<` that starts no tag ("a < b") is text.
                text.push('<');
                rest = &markup[1..];
            }
        }
    }
    text.push_str(rest);
    collapse_whitespace(&html_escape::decode_html_entities(&text))
}

/// Where the tag or comment that `markup` (starting with `<`) opens ends, just past its `>`;
/// `None` if `markup` opens no tag.
fn tag_end(markup: &str) -> Option<usize> {
    let after = markup[1..].chars().next()?;
    if markup.starts_with("<!--") {
        return Some(markup.find("-->").map_or(markup.len(), |end| end + 3));
    }
    if !(after.is_ascii_alphabetic() || matches!(after, '/' | '!' | '?')) {
        return None;
    }
    Some(markup.find('>').map_or(markup.len(), |end| end + 1))
}

/// The lower-case name of a tag from its inside (`/p`, `br/`, `a href=…`).
fn tag_name(inside: &str) -> String {
    inside
        .trim_start_matches('/')
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// What follows the closing tag of `name` (case-insensitive), or nothing if it is never closed.
fn skip_past_closing<'a>(rest: &'a str, name: &str) -> &'a str {
    let closing = format!("</{name}");
    let lower = rest.to_ascii_lowercase();
    match lower.find(&closing) {
        Some(at) => rest[at..].find('>').map_or("", |end| &rest[at + end + 1..]),
        None => "",
    }
}

/// Runs of whitespace (no-break spaces too) within a line as one space, lines trimmed, empty
/// lines dropped.
pub(super) fn collapse_whitespace(text: &str) -> String {
    text.lines()
        .map(|line| line.split(char::is_whitespace).filter(|word| !word.is_empty()).collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_go_blocks_break_lines_and_entities_decode() {
        let html = "<p>Hello&nbsp;<b>world</b> &amp; &#8220;friends&#8221;</p>\n\n<p>Second<br/>line</p><ul><li>one</li><li>two</li></ul>";
        assert_eq!(html_to_text(html), "Hello world & “friends”\nSecond\nline\none\ntwo");
    }

    #[test]
    fn scripts_styles_and_comments_leave_no_text() {
        let html = "<style>p{color:red}</style>Kept<!-- hidden --><SCRIPT>alert('<b>')</SCRIPT> text";
        assert_eq!(html_to_text(html), "Kept text");
    }

    #[test]
    fn a_lone_angle_bracket_and_unclosed_markup_are_handled() {
        assert_eq!(html_to_text("1 < 2 and 3 > 2"), "1 < 2 and 3 > 2");
        assert_eq!(html_to_text("cut off <a href="), "cut off");
        assert_eq!(html_to_text("<script>never closed"), "");
        assert_eq!(html_to_text(""), "");
    }
}
