//! Splitting one batch line into words, as `ip -batch` does: whitespace separates words, double or
//! single quotes keep spaces inside one word, and a word starting with `#` starts a comment.

/// The words of `line`; an unterminated quote is an error.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut characters = line.chars().peekable();
    loop {
        while characters.next_if(|c| c.is_whitespace()).is_some() {}
        match characters.peek() {
            None | Some('#') => return Ok(words),
            Some(_) => {}
        }
        let mut word = String::new();
        while let Some(c) = characters.next_if(|c| !c.is_whitespace()) {
            if c == '"' || c == '\'' {
                let mut closed = false;
                for inner in characters.by_ref() {
                    if inner == c {
                        closed = true;
                        break;
                    }
                    word.push(inner);
                }
                if !closed {
                    return Err(format!("unterminated {c} quote"));
                }
            } else {
                word.push(c);
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_quotes_and_comments() {
        assert_eq!(
            split_words("  netns add  n1 ").unwrap(),
            ["netns", "add", "n1"]
        );
        assert_eq!(split_words("# a comment").unwrap(), Vec::<String>::new());
        assert_eq!(split_words("").unwrap(), Vec::<String>::new());
        assert_eq!(
            split_words("netns add n1 # why").unwrap(),
            ["netns", "add", "n1"]
        );
        assert_eq!(
            split_words("nat add masquerade from 10.0.0.0/8 comment \"my lab\"").unwrap(),
            [
                "nat",
                "add",
                "masquerade",
                "from",
                "10.0.0.0/8",
                "comment",
                "my lab"
            ]
        );
        assert_eq!(
            split_words("link set x netns ''").unwrap(),
            ["link", "set", "x", "netns", ""]
        );
        assert_eq!(split_words("a#b").unwrap(), ["a#b"]);
        assert!(split_words("comment \"open").is_err());
    }
}
