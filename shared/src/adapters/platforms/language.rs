//! The language of a post's text, for Bluesky's `langs`, told only when it is plain: a script
//! that one language alone writes (kana, Hangul, Thai, Greek…), or, in Latin and Cyrillic
//! script, the common short words of one language clearly outnumbering any other's. A
//! statistical detector (whatlang's trigram profiles) added about 690 kB to every binary that
//! publishes; `langs` is optional, so a text this cannot tell carries none.

/// Scripts written by one language, as (first code point, last code point, BCP-47 tag).
const SCRIPTS: &[(char, char, &str)] = &[
    ('\u{3040}', '\u{30ff}', "ja"),
    ('\u{31f0}', '\u{31ff}', "ja"),
    ('\u{ac00}', '\u{d7af}', "ko"),
    ('\u{1100}', '\u{11ff}', "ko"),
    ('\u{3130}', '\u{318f}', "ko"),
    ('\u{0e00}', '\u{0e7f}', "th"),
    ('\u{0e80}', '\u{0eff}', "lo"),
    ('\u{0370}', '\u{03ff}', "el"),
    ('\u{1f00}', '\u{1fff}', "el"),
    ('\u{0590}', '\u{05ff}', "he"),
    ('\u{10a0}', '\u{10ff}', "ka"),
    ('\u{0530}', '\u{058f}', "hy"),
    ('\u{0a00}', '\u{0a7f}', "pa"),
    ('\u{0a80}', '\u{0aff}', "gu"),
    ('\u{0b80}', '\u{0bff}', "ta"),
    ('\u{0c00}', '\u{0c7f}', "te"),
    ('\u{0c80}', '\u{0cff}', "kn"),
    ('\u{0d00}', '\u{0d7f}', "ml"),
    ('\u{0d80}', '\u{0dff}', "si"),
    ('\u{1780}', '\u{17ff}', "km"),
];

/// The most frequent short words of each language told apart by its words, space-separated; a
/// word listed for two languages tells neither.
const WORDS: &[(&str, &str)] = &[
    (
        "en",
        "the and of to is are was were with for that this it you we they have has be at from not but our your will what about just by or today",
    ),
    (
        "de",
        "der die das und ist nicht mit ein eine sich auf für den dem des auch wir ich zu von im wird sind noch nach bei heute wie oder aber",
    ),
    (
        "fr",
        "le la les et est une des du que qui pas pour dans sur avec nous vous ce il elle sont au aux mais plus ou très aujourd",
    ),
    ("es", "el los las del y es una por con para no se lo como más pero está son al hoy muy que su nuestro"),
    ("pt", "o os as um uma não com para que do da dos das em no na é são mais por hoje mas você nós"),
    ("it", "il lo gli la le di che è un una per non con del della sono ma anche più oggi noi questo nel"),
    ("nl", "de het een en van is dat niet met op voor zijn ook wij er maar te aan vandaag naar hebben"),
    ("sv", "och att det som en är på för med inte av den till har jag vi idag om men"),
    ("pl", "i w z na nie się do to że jest jak co po ale dla od tak już są dziś"),
    ("tr", "ve bir bu da de için ile çok ne var daha gibi olarak ama ben biz bugün değil"),
    ("ru", "и в не на я что он с это как по но она они мы вы к у же из за для сегодня"),
    ("uk", "і в не на я що він з це як по але вона вони ми ви до у та для сьогодні"),
];

/// The BCP-47 tag of `text`'s language, when it is plain.
pub fn detect(text: &str) -> Option<&'static str> {
    let (mut letters, mut han) = (0, 0);
    let mut scripts: Vec<(&str, usize)> = Vec::new();
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if ('\u{4e00}'..='\u{9fff}').contains(&c) {
            han += 1;
        } else if let Some(&(_, _, tag)) = SCRIPTS.iter().find(|(first, last, _)| (*first..=*last).contains(&c)) {
            match scripts.iter_mut().find(|(seen, _)| *seen == tag) {
                Some((_, count)) => *count += 1,
                None => scripts.push((tag, 1)),
            }
        }
    }
    // Japanese mixes kanji with kana; Han without kana is Chinese.
    let (tag, count) = match scripts.into_iter().max_by_key(|(_, count)| *count) {
        Some(("ja", kana)) => ("ja", kana + han),
        Some((tag, count)) if count >= han => (tag, count),
        _ => ("zh", han),
    };
    if count * 2 > letters { Some(tag) } else { by_words(text) }
}

fn by_words(text: &str) -> Option<&'static str> {
    let mut hits = vec![0usize; WORDS.len()];
    for word in text.split(|c: char| !c.is_alphabetic()).filter(|word| !word.is_empty()) {
        let word = word.to_lowercase();
        let mut languages =
            WORDS.iter().enumerate().filter(|(_, (_, words))| words.split(' ').any(|listed| listed == word));
        if let (Some((index, _)), None) = (languages.next(), languages.next()) {
            hits[index] += 1;
        }
    }
    let mut ranked: Vec<(usize, &str)> = hits.iter().zip(WORDS).map(|(hits, (tag, _))| (*hits, *tag)).collect();
    ranked.sort_by_key(|(hits, _)| std::cmp::Reverse(*hits));
    let (best, tag) = ranked[0];
    (best >= 2 && best > 2 * ranked[1].0).then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_of_their_own_script() {
        assert_eq!(detect("今日はいい天気ですね"), Some("ja"));
        assert_eq!(detect("我们今天发布新版本"), Some("zh"));
        assert_eq!(detect("오늘 새 버전을 출시합니다"), Some("ko"));
        assert_eq!(detect("Σήμερα κυκλοφορεί η νέα έκδοση"), Some("el"));
        assert_eq!(detect("วันนี้เราเปิดตัวเวอร์ชันใหม่"), Some("th"));
    }

    #[test]
    fn languages_told_by_their_common_words() {
        let cases = [
            ("We are shipping #Posthorn today with faster scheduling, read the docs at posthorn.dev/docs", "en"),
            ("We shipped the new release today, with faster scheduling and better previews for everyone.", "en"),
            ("Heute haben wir die neue Version veröffentlicht, mit schnellerer Planung für alle.", "de"),
            ("Aujourd'hui nous publions la nouvelle version, elle est plus rapide", "fr"),
            ("Hoy publicamos la nueva versión del programa y es muy rápida", "es"),
            ("Hoje lançamos a nova versão, que é mais rápida e não custa nada", "pt"),
            ("Oggi pubblichiamo la nuova versione che è anche più veloce", "it"),
            ("Vandaag brengen we de nieuwe versie uit en het is niet moeilijk", "nl"),
            ("Idag släpper vi den nya versionen och den är snabbare än förut", "sv"),
            ("Dziś wydajemy nową wersję i jest ona już szybsza niż kiedyś", "pl"),
            ("Сегодня мы выпускаем новую версию, и это быстрее, чем раньше", "ru"),
            ("Сьогодні ми випускаємо нову версію, і це швидше, ніж раніше", "uk"),
        ];
        for (text, tag) in cases {
            assert_eq!(detect(text), Some(tag), "{text}");
        }
    }

    #[test]
    fn nothing_when_the_text_does_not_say() {
        for text in
            ["", "🚀🚀🚀", "Posthorn 2.0", "https://posthorn.dev/docs", "ok 👍", "Ok la", "Gracias amigos, obrigado"]
        {
            assert_eq!(detect(text), None, "{text}");
        }
    }
}
