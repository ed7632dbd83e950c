//! The subject CN of a client certificate: the caller's identity under mTLS.
//!
//! The certificate was already verified against `--client-ca` by the TLS layer; webpki parses it again
//! here to find the subject, and a small DER walk finds the CN inside the subject. The walk checks every
//! length against what is left, so a malformed subject yields `None`, never a panic.

use tonic::transport::CertificateDer;
use webpki::EndEntityCert;

/// id-at-commonName, 2.5.4.3, as its DER content bytes.
const COMMON_NAME_OID: &[u8] = &[0x55, 0x04, 0x03];

const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_OID: u8 = 0x06;
const TAG_UTF8_STRING: u8 = 0x0c;
const TAG_PRINTABLE_STRING: u8 = 0x13;
const TAG_IA5_STRING: u8 = 0x16;

/// The subject CN of `certificate`, if it has exactly one that is a printable string.
pub fn common_name(certificate: &CertificateDer<'_>) -> Option<String> {
    let parsed = EndEntityCert::try_from(certificate).ok()?;
    common_name_in_subject(parsed.subject())
}

/// `subject` is the content of the Name SEQUENCE: a sequence of RDN SETs of (OID, value) SEQUENCEs.
/// Two CNs would make the identity ambiguous, so they count as none.
pub(super) fn common_name_in_subject(subject: &[u8]) -> Option<String> {
    let mut found: Option<String> = None;
    let mut names = subject;
    while !names.is_empty() {
        let (set, rest) = element(names, TAG_SET)?;
        names = rest;
        let mut attributes = set;
        while !attributes.is_empty() {
            let (attribute, rest) = element(attributes, TAG_SEQUENCE)?;
            attributes = rest;
            let (oid, value) = element(attribute, TAG_OID)?;
            if oid != COMMON_NAME_OID {
                continue;
            }
            let (&tag, _) = value.split_first()?;
            if ![TAG_UTF8_STRING, TAG_PRINTABLE_STRING, TAG_IA5_STRING].contains(&tag) {
                return None;
            }
            let (text, trailing) = element(value, tag)?;
            let text = std::str::from_utf8(text).ok()?;
            if !trailing.is_empty()
                || found.is_some()
                || text.is_empty()
                || text.chars().any(char::is_control)
            {
                return None;
            }
            found = Some(text.to_string());
        }
    }
    found
}

/// One DER element with tag `tag` at the start of `input`: (its content, what follows it).
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&actual, rest) = input.split_first()?;
    if actual != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        (
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
            rest,
        )
    };
    if length > rest.len() {
        return None;
    }
    Some(rest.split_at(length))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 0x80 {
            out.push(content.len() as u8);
        } else {
            out.extend([0x82, (content.len() >> 8) as u8, content.len() as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    fn attribute(oid: &[u8], tag: u8, value: &str) -> Vec<u8> {
        tlv(
            TAG_SET,
            &tlv(
                TAG_SEQUENCE,
                &[tlv(TAG_OID, oid), tlv(tag, value.as_bytes())].concat(),
            ),
        )
    }

    const ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];

    #[test]
    fn finds_the_cn_among_other_attributes() {
        let subject = [
            attribute(ORGANIZATION, TAG_UTF8_STRING, "lab"),
            attribute(COMMON_NAME_OID, TAG_PRINTABLE_STRING, "ops"),
        ]
        .concat();
        assert_eq!(common_name_in_subject(&subject).as_deref(), Some("ops"));
        let long = "x".repeat(300);
        assert_eq!(
            common_name_in_subject(&attribute(COMMON_NAME_OID, TAG_UTF8_STRING, &long)),
            Some(long)
        );
    }

    #[test]
    fn ambiguous_missing_or_malformed_subjects_have_no_cn() {
        let cn = attribute(COMMON_NAME_OID, TAG_UTF8_STRING, "ops");
        assert_eq!(
            common_name_in_subject(&[cn.clone(), cn.clone()].concat()),
            None
        );
        assert_eq!(
            common_name_in_subject(&attribute(ORGANIZATION, TAG_UTF8_STRING, "lab")),
            None
        );
        assert_eq!(
            common_name_in_subject(&attribute(COMMON_NAME_OID, TAG_UTF8_STRING, "a\nb")),
            None
        );
        assert_eq!(
            common_name_in_subject(&attribute(COMMON_NAME_OID, 0x1e, "ops")),
            None
        );
        for cut in 0..cn.len() {
            assert_eq!(common_name_in_subject(&cn[..cut]), None, "cut at {cut}");
        }
        assert_eq!(
            common_name_in_subject(&[TAG_SET, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
    }
}
