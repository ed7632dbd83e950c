//! Characters a name must not hold because a terminal does not show them as themselves.
//!
//! The rule: Unicode general categories Cc (controls: newline, escape, DEL, C1), Cf (format: zero-width
//! space and joiners, bidirectional overrides, soft hyphen, BOM, tag characters) and Zl/Zp (line and
//! paragraph separators). A name holding one can look like another name, like two lines, or recolour
//! the terminal; no name needs one. Ordinary spaces (Zs) stay allowed where a name allows whitespace.

/// Every Cf, Zl and Zp code point as of Unicode 16 (Cc is `char::is_control`). Sorted, inclusive.
const FORMAT_AND_SEPARATORS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{2028}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Whether `c` is in Cc, Cf, Zl or Zp.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || FORMAT_AND_SEPARATORS
            .binary_search_by(|(low, high)| {
                if *high < c {
                    std::cmp::Ordering::Less
                } else if *low > c {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
}

/// The first invisible character of `name`, for the refusal message.
pub fn first_invisible(name: &str) -> Option<char> {
    name.chars().find(|c| is_invisible(*c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_disjoint() {
        for pair in FORMAT_AND_SEPARATORS.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }

    #[test]
    fn controls_format_characters_and_line_separators_are_invisible() {
        for c in [
            '\0',
            '\n',
            '\r',
            '\t',
            '\u{1b}',
            '\u{7f}',
            '\u{85}',
            '\u{9b}',
            '\u{ad}',
            '\u{200b}',
            '\u{200d}',
            '\u{200e}',
            '\u{2028}',
            '\u{2029}',
            '\u{202e}',
            '\u{2066}',
            '\u{feff}',
            '\u{e0001}',
            '\u{e007f}',
            '\u{1343f}',
        ] {
            assert!(is_invisible(c), "{c:?}");
        }
    }

    #[test]
    fn letters_digits_punctuation_and_spaces_are_not() {
        for c in [
            'a',
            'Z',
            '0',
            '-',
            '_',
            '.',
            '@',
            ' ',
            '\u{a0}',
            'é',
            'ü',
            'ß',
            '中',
            '\u{2027}',
            '\u{2030}',
            '\u{2065}',
            '\u{fffc}',
            '\u{1f600}',
            '\u{e0000}',
            '\u{e0080}',
        ] {
            assert!(!is_invisible(c), "{c:?}");
        }
    }
}
