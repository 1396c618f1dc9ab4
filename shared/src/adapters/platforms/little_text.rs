//! LinkedIn's "little" text format, which the Posts API reads `commentary` in
//! (<https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/little-text-format>):
//! `\ | { } @ [ ] ( ) < > # * _ ~` are reserved and stand for plain text only when escaped with
//! a backslash — unescaped, LinkedIn cuts the post at the first one. A hashtag (`#` then
//! letters and digits, at the start of a word) becomes the documented hashtag template
//! `{hashtag|\#|word}`, so it still shows as a hashtag.

const RESERVED: [char; 15] = ['\\', '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '*', '_', '~'];

/// `text` as little text: plain text, with hashtags kept as hashtags.
pub fn to_little_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut previous: Option<char> = None;
    let mut rest = text;
    while let Some(character) = rest.chars().next() {
        let starts_word = !previous.is_some_and(|before| before.is_alphanumeric() || before == '_');
        match hashtag_at(rest).filter(|_| starts_word) {
            Some(word) => {
                out.push_str("{hashtag|\\#|");
                out.push_str(word);
                out.push('}');
                rest = &rest[1 + word.len()..];
                previous = word.chars().last();
            }
            None => {
                if RESERVED.contains(&character) {
                    out.push('\\');
                }
                out.push(character);
                rest = &rest[character.len_utf8()..];
                previous = Some(character);
            }
        }
    }
    out
}

/// The word of a hashtag at the start of `text` (`#launch2026` → `launch2026`): letters and
/// digits with at least one letter, so `#1` stays plain text.
fn hashtag_at(text: &str) -> Option<&str> {
    let after = text.strip_prefix('#')?;
    let end = after.find(|c: char| !c.is_alphanumeric()).unwrap_or(after.len());
    let word = &after[..end];
    word.chars().any(char::is_alphabetic).then_some(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reserved_character_is_escaped() {
        assert_eq!(
            to_little_text(r"a\b|c{d}e@f[g]h(i)j<k>l # m*n_o~p"),
            r"a\\b\|c\{d\}e\@f\[g\]h\(i\)j\<k\>l \# m\*n\_o\~p"
        );
    }

    #[test]
    fn hashtags_stay_hashtags_and_other_hashes_are_text() {
        assert_eq!(to_little_text("Launch #Rust2026 today"), r"Launch {hashtag|\#|Rust2026} today");
        assert_eq!(to_little_text("#1 in C# (#café)"), r"\#1 in C\# \({hashtag|\#|café}\)");
        assert_eq!(to_little_text("mail@host #a_b"), r"mail\@host {hashtag|\#|a}\_b");
    }
}
