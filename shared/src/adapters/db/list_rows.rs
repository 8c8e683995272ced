//! The list index's row codec: the listed fields of users as compact rows, deflated as a
//! whole (see docs/data-model.md). Pure: no I/O.

use crate::domain::error::ApiError;
use crate::domain::views::User;
use crate::domain::{AccountId, Email, UserId, UserStatus, UserType};

/// The first byte of every encoded leaf, so the row format can change without a
/// migration: a reader refuses formats it does not know instead of misreading them.
/// Version 2 added dates as milliseconds; a version 1 blob reads the same way.
const FORMAT_V1: u8 = 1;
const FORMAT_V2: u8 = 2;

/// deflate level: 6 is zlib's default; higher levels gain ~2 % here for twice the time.
const COMPRESSION_LEVEL: u8 = 6;

/// A decoded blob must not inflate past this (a corrupt or hostile item cannot make a
/// function allocate without bound): leaves of a few KB never come near it.
const MAX_DECODED_BYTES: usize = 16 << 20;

// Row format (FORMAT_V2), deflated as a whole: per row, the id's 16 bytes, a flags byte,
// the type and status bytes, then email, username (only when it differs from the email),
// first name, last name, create date, update date, delete date (only when set). Strings
// are length-prefixed; a date is the milliseconds since 1970 (LEB128) when the API's own
// format gives back exactly the stored text, else the text: 6 bytes instead of 24 for
// every date this API writes, while any other stored text survives unchanged.
const OWNER: u8 = 1;
const MFA: u8 = 2;
const DELETED: u8 = 4;
const HAS_DELETE_DATE: u8 = 8;
const USERNAME_DIFFERS: u8 = 16;
const CREATE_MILLIS: u8 = 32;
const UPDATE_MILLIS: u8 = 64;
const DELETE_MILLIS: u8 = 128;

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, value: &str) {
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

/// The milliseconds of a date in exactly the form `clock::iso` writes, else `None`.
fn date_millis(text: &str) -> Option<u64> {
    let millis = chrono::DateTime::parse_from_rfc3339(text)
        .ok()?
        .timestamp_millis();
    let millis = u64::try_from(millis).ok()?;
    (format_millis(millis)? == text).then_some(millis)
}

/// `clock::iso` of a millisecond timestamp, written digit by digit (decoding formats two
/// dates per user; chrono's formatter is several times slower).
fn format_millis(millis: u64) -> Option<String> {
    use chrono::{Datelike, Timelike};
    let at = chrono::DateTime::from_timestamp_millis(i64::try_from(millis).ok()?)?;
    let year = u32::try_from(at.year()).ok().filter(|year| *year <= 9999)?;
    let mut text = String::with_capacity(24);
    let mut digits = |value: u32, width: u32| {
        for place in (0..width).rev() {
            text.push(char::from(b'0' + (value / 10u32.pow(place) % 10) as u8));
        }
    };
    digits(year, 4);
    digits(at.month(), 2);
    digits(at.day(), 2);
    digits(at.hour(), 2);
    digits(at.minute(), 2);
    digits(at.second(), 2);
    digits(at.timestamp_subsec_millis(), 3);
    // Punctuation after the digits: positions in "YYYY-MM-DDTHH:MM:SS.mmmZ".
    for (at, mark) in [
        (4, '-'),
        (7, '-'),
        (10, 'T'),
        (13, ':'),
        (16, ':'),
        (19, '.'),
    ] {
        text.insert(at, mark);
    }
    text.push('Z');
    Some(text)
}

/// A date as milliseconds when possible; returns the flag to set when it is.
fn put_date(out: &mut Vec<u8>, text: &str, flag: u8) -> u8 {
    match date_millis(text) {
        Some(millis) => {
            put_varint(out, millis);
            flag
        }
        None => {
            put_str(out, text);
            0
        }
    }
}

pub fn encode_rows(rows: &[User]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(rows.len() * 72);
    let mut fields = Vec::with_capacity(160);
    for row in rows {
        fields.clear();
        let mut flags = 0;
        for (set, flag) in [
            (row.owner, OWNER),
            (row.mfa, MFA),
            (row.deleted, DELETED),
            (row.delete_date.is_some(), HAS_DELETE_DATE),
            (row.username != row.email, USERNAME_DIFFERS),
        ] {
            if set {
                flags |= flag;
            }
        }
        put_str(&mut fields, row.email.as_str());
        if row.username != row.email {
            put_str(&mut fields, row.username.as_str());
        }
        put_str(&mut fields, &row.firstname);
        put_str(&mut fields, &row.lastname);
        flags |= put_date(&mut fields, &row.create_date, CREATE_MILLIS);
        flags |= put_date(&mut fields, &row.update_date, UPDATE_MILLIS);
        if let Some(date) = &row.delete_date {
            flags |= put_date(&mut fields, date, DELETE_MILLIS);
        }
        raw.extend_from_slice(row.id.0.as_bytes());
        raw.extend_from_slice(&[flags, row.user_type.0, row.status.0]);
        raw.extend_from_slice(&fields);
    }
    let mut blob = vec![FORMAT_V2];
    blob.extend(miniz_oxide::deflate::compress_to_vec(
        &raw,
        COMPRESSION_LEVEL,
    ));
    blob
}

/// Reads the rows back; anything malformed is an error, never a guess.
pub fn decode_rows(account: AccountId, blob: &[u8]) -> Result<Vec<User>, ApiError> {
    let corrupt = |what: &str| ApiError::internal(format!("list index rows: {what}"));
    let (&format, deflated) = blob.split_first().ok_or_else(|| corrupt("empty"))?;
    if format != FORMAT_V1 && format != FORMAT_V2 {
        return Err(corrupt(&format!("unknown format {format}")));
    }
    let raw = miniz_oxide::inflate::decompress_to_vec_with_limit(deflated, MAX_DECODED_BYTES)
        .map_err(|e| corrupt(&format!("inflate: {e:?}")))?;
    let mut reader = Reader { raw: &raw, at: 0 };
    let mut rows = Vec::with_capacity(raw.len() / 100);
    while !reader.done() {
        let id = UserId(uuid::Uuid::from_bytes(
            reader
                .take(16)?
                .try_into()
                .map_err(|_| corrupt("short id"))?,
        ));
        let [flags, user_type, status] = reader
            .take(3)?
            .try_into()
            .map_err(|_| corrupt("short flags"))?;
        let email = Email::from_stored(reader.string()?);
        let username = if flags & USERNAME_DIFFERS != 0 {
            Email::from_stored(reader.string()?)
        } else {
            email.clone()
        };
        let firstname = reader.string()?;
        let lastname = reader.string()?;
        let create_date = reader.date(flags & CREATE_MILLIS != 0)?;
        let update_date = reader.date(flags & UPDATE_MILLIS != 0)?;
        let delete_date = if flags & HAS_DELETE_DATE != 0 {
            Some(reader.date(flags & DELETE_MILLIS != 0)?)
        } else {
            None
        };
        rows.push(User {
            id,
            account_id: account,
            username,
            email,
            firstname,
            lastname,
            user_type: UserType(user_type),
            status: UserStatus(status),
            owner: flags & OWNER != 0,
            mfa: flags & MFA != 0,
            deleted: flags & DELETED != 0,
            create_date,
            update_date,
            delete_date,
        });
    }
    Ok(rows)
}

struct Reader<'a> {
    raw: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn done(&self) -> bool {
        self.at >= self.raw.len()
    }

    fn take(&mut self, len: usize) -> Result<&[u8], ApiError> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.raw.len())
            .ok_or_else(|| ApiError::internal("list index rows: truncated"))?;
        let bytes = &self.raw[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn varint(&mut self) -> Result<u64, ApiError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ApiError::internal("list index rows: bad number"))
    }

    fn string(&mut self) -> Result<String, ApiError> {
        let len = usize::try_from(self.varint()?)
            .map_err(|_| ApiError::internal("list index rows: bad length"))?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::internal("list index rows: not UTF-8"))
    }

    fn date(&mut self, as_millis: bool) -> Result<String, ApiError> {
        if as_millis {
            format_millis(self.varint()?)
                .ok_or_else(|| ApiError::internal("list index rows: bad date"))
        } else {
            self.string()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn row(n: u128, email: &str) -> User {
        User {
            id: UserId(uuid::Uuid::from_u128(n)),
            account_id: AccountId(uuid::Uuid::nil()),
            username: Email::parse(email, "email").unwrap(),
            email: Email::parse(email, "email").unwrap(),
            firstname: "Ada".into(),
            lastname: "Lovelace".into(),
            user_type: UserType::ACCOUNT_USER,
            status: UserStatus::ACTIVE,
            owner: false,
            mfa: false,
            deleted: false,
            create_date: "2030-01-01T00:00:00.000Z".into(),
            update_date: "2030-01-02T00:00:00.000Z".into(),
            delete_date: None,
        }
    }

    #[test]
    fn rows_survive_encoding_with_every_optional_part() {
        let plain = row(1, "ada@example.com");
        let mut everything = row(2, "bob@example.com");
        everything.username = Email::parse("bob.login@example.com", "u").unwrap();
        everything.owner = true;
        everything.mfa = true;
        everything.deleted = true;
        everything.delete_date = Some("2031-01-01T00:00:00.000Z".into());
        everything.firstname = "Émile Ünïcödé 名前".into();
        everything.lastname = "x".repeat(300);
        let rows = vec![plain, everything];
        let blob = encode_rows(&rows);
        assert_eq!(
            decode_rows(AccountId(uuid::Uuid::nil()), &blob).unwrap(),
            rows
        );
    }

    #[test]
    fn dates_in_the_api_format_are_stored_as_milliseconds_and_others_as_text() {
        for text in [
            "2030-01-01T00:00:00.000Z",
            "1970-01-01T00:00:00.001Z",
            "2024-02-29T23:59:59.999Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            let millis = date_millis(text).unwrap();
            assert_eq!(format_millis(millis).as_deref(), Some(text));
        }
        for kept_as_text in [
            "2030-01-01T00:00:00Z",
            "2030-01-01T00:00:00.000+00:00",
            "2030-01-01T01:00:00.000+01:00",
            "1969-12-31T23:59:59.999Z",
            "yesterday",
            "",
        ] {
            assert_eq!(date_millis(kept_as_text), None, "{kept_as_text}");
            let mut odd = row(1, "ada@example.com");
            odd.create_date = kept_as_text.into();
            odd.update_date = "2030-01-01T00:00:00.000Z".into();
            odd.delete_date = Some(kept_as_text.into());
            let rows = vec![odd];
            let decoded = decode_rows(AccountId(uuid::Uuid::nil()), &encode_rows(&rows)).unwrap();
            assert_eq!(decoded, rows);
        }
        assert_eq!(
            format_millis(date_millis("2026-12-01T12:12:54.768Z").unwrap()).unwrap(),
            crate::domain::clock::iso(
                chrono::DateTime::parse_from_rfc3339("2026-12-01T12:12:54.768Z")
                    .unwrap()
                    .to_utc()
            )
        );
    }

    #[test]
    fn a_corrupt_or_unknown_blob_is_an_error_not_a_guess() {
        let account = AccountId(uuid::Uuid::nil());
        let blob = encode_rows(&[row(1, "ada@example.com")]);
        assert!(decode_rows(account, &[]).is_err());
        let mut unknown = blob.clone();
        unknown[0] = 9;
        assert!(decode_rows(account, &unknown).is_err());
        assert!(decode_rows(account, &blob[..blob.len() / 2]).is_err());
        let truncated_rows = {
            let mut raw = vec![FORMAT_V2];
            raw.extend(miniz_oxide::deflate::compress_to_vec(&[0u8; 20], 6));
            raw
        };
        assert!(decode_rows(account, &truncated_rows).is_err());
    }

    proptest! {
        #[test]
        fn any_rows_decode_to_themselves(
            names in proptest::collection::vec(("\\PC{0,60}", "\\PC{0,60}", any::<bool>(), any::<bool>()), 0..40)
        ) {
            let rows: Vec<User> = names
                .into_iter()
                .enumerate()
                .map(|(n, (first, last, deleted, mfa))| {
                    let mut r = row(n as u128, &format!("user{n}@example.com"));
                    r.firstname = first;
                    r.lastname = last;
                    r.deleted = deleted;
                    r.mfa = mfa;
                    r
                })
                .collect();
            let decoded = decode_rows(AccountId(uuid::Uuid::nil()), &encode_rows(&rows)).unwrap();
            prop_assert_eq!(decoded, rows);
        }
    }
}
