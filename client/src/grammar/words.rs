use std::str::FromStr;

use super::GrammarError;

/// A cursor over the words after the verb.
#[derive(Debug, Clone)]
pub struct Words<'a> {
    words: &'a [String],
    position: usize,
}

impl<'a> Words<'a> {
    pub fn new(words: &'a [String]) -> Self {
        Self { words, position: 0 }
    }

    #[allow(clippy::should_implement_trait)] // a cursor with error-aware helpers, not a plain iterator
    pub fn next(&mut self) -> Option<&'a str> {
        let word = self.words.get(self.position)?;
        self.position += 1;
        Some(word.as_str())
    }

    pub fn peek(&self) -> Option<&'a str> {
        self.words.get(self.position).map(String::as_str)
    }

    /// The word after `keyword`, which must be there.
    pub fn value(&mut self, keyword: &'static str) -> Result<&'a str, GrammarError> {
        self.next().ok_or(GrammarError::MissingValue { keyword })
    }

    /// The word after `keyword`, parsed as a number or similar `FromStr` value.
    pub fn parsed<T>(
        &mut self,
        keyword: &'static str,
        what: &'static str,
    ) -> Result<T, GrammarError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let word = self.value(keyword)?;
        word.parse()
            .map_err(|error: T::Err| GrammarError::InvalidValue {
                keyword,
                what,
                value: word.to_owned(),
                reason: error.to_string(),
            })
    }

    /// Fails on a leftover word; for grammars that take nothing more.
    pub fn finish(&mut self, expected: &'static str) -> Result<(), GrammarError> {
        match self.next() {
            None => Ok(()),
            Some(word) => Err(GrammarError::UnexpectedWord {
                word: word.to_owned(),
                expected,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn value_and_parsed_consume_in_order() {
        let list = words("mtu 1400 dev");
        let mut cursor = Words::new(&list);
        assert_eq!(cursor.next(), Some("mtu"));
        assert_eq!(cursor.parsed::<u32>("mtu", "MTU"), Ok(1400));
        assert_eq!(cursor.peek(), Some("dev"));
        assert_eq!(cursor.next(), Some("dev"));
        assert_eq!(
            cursor.value("dev"),
            Err(GrammarError::MissingValue { keyword: "dev" })
        );
    }

    #[test]
    fn parsed_names_the_bad_word() {
        let list = words("lots");
        let error = Words::new(&list).parsed::<u32>("mtu", "MTU").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid MTU \"lots\" after \"mtu\": invalid digit found in string"
        );
    }

    #[test]
    fn finish_rejects_leftovers() {
        let list = words("extra");
        let error = Words::new(&list).finish("nothing more").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unexpected word \"extra\" (expected nothing more)"
        );
    }
}
