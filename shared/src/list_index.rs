//! The list index: every user of an account as a compact row, kept in a fixed number of
//! compressed shard items in the account's item collection (`LIST#<shard>`), written in
//! the same transaction as each change of a user. Get All Users reads the index instead
//! of the users: about a third of the bytes, in one Query page up to ~25,000 users (see
//! docs/data-model.md for the figures that chose this layout).
//!
//! A shard is rewritten whole, under an optimistic version: a user write reads the shard,
//! applies its change to the row, and puts the shard on the condition that its version is
//! still the one read. Every write of a user goes through `transact_indexed`, so a shard's
//! version moves whenever any of its users changes, and a write that raced another one in
//! the same shard is tried again with the fresh shard.

use std::collections::HashMap;
use std::time::Duration;

use crate::audit::AuditRecord;
use crate::auth::{self, Caller};
use crate::db::{self, audit_records, list_shards, tx, Db, Item, TxError};
use crate::domain::{AccountId, Email, UserId, UserStatus, UserType};
use crate::error::ApiError;
use crate::listing::{AccountItems, ListParams, Resources};
use crate::model::{self, ListShardItem, UserItem};
use crate::views::User;

/// Shards per account. A user's shard is fixed by their id, so no write ever moves rows
/// between shards. 128 keeps a shard near 3.5 KB at 10,000 users (a transactional put of
/// it costs ~8 write units) and under DynamoDB's 400 KB item limit up to ~800,000 users.
pub const SHARDS: u8 = 128;

/// The first byte of every encoded shard, so the row format can change without a
/// migration: a reader refuses formats it does not know instead of misreading them.
/// Version 2 added dates as milliseconds; a version 1 shard reads the same way.
const FORMAT_V1: u8 = 1;
const FORMAT_V2: u8 = 2;

/// deflate level: 6 is zlib's default; higher levels gain ~2 % here for twice the time.
const COMPRESSION_LEVEL: u8 = 6;

/// A decoded shard must not inflate past this (a corrupt or hostile item cannot make a
/// function allocate without bound): 400 KB compressed rows never come near it.
const MAX_DECODED_BYTES: usize = 16 << 20;

/// Tries of a write whose only failed condition was its shard's version.
const ATTEMPTS: u32 = 10;

/// The shard that holds `user`'s row.
pub fn shard_of(user: UserId) -> u8 {
    user.0.as_bytes()[0] % SHARDS
}

/// How a write changes a user's row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowChange {
    /// A new user (or a full replacement of the row).
    Put(User),
    /// The user item is deleted (an invitation undone).
    Remove(UserId),
    /// Fields set on an existing user, as the user item's update sets them.
    Update(UserId, RowUpdate),
}

impl RowChange {
    pub fn user(&self) -> UserId {
        match self {
            RowChange::Put(row) => row.id,
            RowChange::Remove(id) | RowChange::Update(id, _) => *id,
        }
    }
}

/// The listed fields a user write sets: each `Some` is written to the row exactly as the
/// same write sets it on the user item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowUpdate {
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub user_type: Option<UserType>,
    pub status: Option<UserStatus>,
    pub mfa: Option<bool>,
    pub deleted: Option<bool>,
    pub delete_date: Option<Option<String>>,
    pub update_date: Option<String>,
}

impl RowUpdate {
    /// An update that only stamps the change time.
    pub fn touched(now: &str) -> Self {
        Self {
            update_date: Some(now.to_owned()),
            ..Self::default()
        }
    }

    fn apply(&self, row: &mut User) {
        let set = |target: &mut String, value: &Option<String>| {
            if let Some(value) = value {
                target.clone_from(value);
            }
        };
        set(&mut row.firstname, &self.firstname);
        set(&mut row.lastname, &self.lastname);
        set(&mut row.update_date, &self.update_date);
        if let Some(user_type) = self.user_type {
            row.user_type = user_type;
        }
        if let Some(status) = self.status {
            row.status = status;
        }
        if let Some(mfa) = self.mfa {
            row.mfa = mfa;
        }
        if let Some(deleted) = self.deleted {
            row.deleted = deleted;
        }
        if let Some(delete_date) = &self.delete_date {
            row.delete_date.clone_from(delete_date);
        }
    }
}

/// One shard as read: its rows (ordered by id) and the version its write must find.
#[derive(Debug, Clone, PartialEq)]
pub struct Shard {
    pub account: AccountId,
    pub number: u8,
    /// 0 when the shard item does not exist yet.
    pub version: u64,
    pub rows: Vec<User>,
}

impl Shard {
    pub fn empty(account: AccountId, number: u8) -> Self {
        Self {
            account,
            number,
            version: 0,
            rows: Vec::new(),
        }
    }

    fn position(&self, user: UserId) -> Result<usize, usize> {
        self.rows.binary_search_by(|row| row.id.cmp(&user))
    }

    /// Applies a change. An update of a row that is not there (a user of an account whose
    /// index the migration has not built yet) changes nothing: the migration builds it
    /// from the user items, and the version still moves so the migration notices.
    pub fn apply(&mut self, change: &RowChange) {
        match change {
            RowChange::Put(row) => match self.position(row.id) {
                Ok(at) => self.rows[at] = row.clone(),
                Err(at) => self.rows.insert(at, row.clone()),
            },
            RowChange::Remove(id) => {
                if let Ok(at) = self.position(*id) {
                    self.rows.remove(at);
                }
            }
            RowChange::Update(id, update) => {
                if let Ok(at) = self.position(*id) {
                    update.apply(&mut self.rows[at]);
                }
            }
        }
    }

    /// The shard item at the next version.
    pub fn to_item(&self) -> Result<Item, ApiError> {
        db::to_item(&ListShardItem {
            pk: model::account_pk(self.account),
            sk: model::list_shard_sk(self.number),
            kind: model::KIND_LIST_SHARD.into(),
            version: self.version + 1,
            count: self.rows.len() as u64,
            rows: serde_bytes::ByteBuf::from(encode_rows(&self.rows)),
        })
    }

    /// The write of the next version, on the condition that nobody wrote the shard since
    /// it was read (see `list_shards::write`).
    pub fn write(&self, table: &str) -> Result<tx::Write, ApiError> {
        let next = if self.rows.is_empty() {
            None
        } else {
            Some(self.to_item()?)
        };
        list_shards::write(table, self.account, self.number, self.version, next)
    }
}

/// The index items of an account with these users (deleted ones included): for a new
/// account, the migration, seeding and benchmarks. Shards without users are left out.
pub fn shard_items(account: AccountId, users: &[UserItem]) -> Result<Vec<Item>, ApiError> {
    build_shards(account, users)
        .into_iter()
        .map(|shard| shard.to_item())
        .collect()
}

/// The shards (version 0) holding these users' rows.
pub fn build_shards(account: AccountId, users: &[UserItem]) -> Vec<Shard> {
    let mut shards: HashMap<u8, Shard> = HashMap::new();
    for user in users {
        let number = shard_of(user.id);
        shards
            .entry(number)
            .or_insert_with(|| Shard::empty(account, number))
            .rows
            .push(User::from(user));
    }
    let mut shards: Vec<Shard> = shards.into_values().collect();
    for shard in &mut shards {
        shard.rows.sort_by_key(|row| row.id);
    }
    shards.sort_by_key(|shard| shard.number);
    shards
}

/// A shard item's number, version and rows.
pub fn decode_shard_item(account: AccountId, item: Item) -> Result<Shard, ApiError> {
    let (number, stored) = list_shards::decode(item)?;
    Ok(Shard {
        account,
        number,
        version: stored.version,
        rows: decode_rows(account, &stored.rows)?,
    })
}

/// Every row of the account's index, from one paged Query of its `LIST#` items (one page
/// up to ~25,000 users). Rows come out in no particular order.
pub async fn read_rows(db: &Db, account: AccountId) -> Result<Vec<User>, ApiError> {
    Ok(read_shards(db, account)
        .await?
        .into_iter()
        .flat_map(|shard| shard.rows)
        .collect())
}

/// Every shard of the account's index that exists, with its version.
pub async fn read_shards(db: &Db, account: AccountId) -> Result<Vec<Shard>, ApiError> {
    db.query_partition(model::account_pk(account), Some(model::LIST_SK_PREFIX))
        .await?
        .into_iter()
        .map(|item| decode_shard_item(account, item))
        .collect()
}

/// The list parameters of a request. Refused parameters are reported only to a caller
/// who may list at all: anyone else hears 401 or ACCESS first, whatever the parameters.
pub async fn list_params(db: &Db, req: &lambda_http::Request) -> Result<ListParams, ApiError> {
    match ListParams::from_query(&crate::http::query(req)) {
        Ok(params) => Ok(params),
        Err(invalid) => {
            let caller = auth::caller(db, req).await?;
            crate::audit::require_admin(db, req, &caller, None).await?;
            Err(invalid)
        }
    }
}

/// How many relation Queries With Details keeps in flight: a page of 50 is one round.
const RELATION_QUERIES_IN_FLIGHT: usize = 64;

/// What a list reads its rows from.
pub enum Rows {
    /// The account's list index, decoded.
    Indexed(Vec<User>),
    /// The account predates the index and the migration has not reached it yet: the list
    /// reads the item collection as before (`listing::AccountItems`).
    Unindexed,
}

/// The caller, checked to be an admin, with every row of their account's list index, and
/// what `also` reads of the account at the same time. When the container knows the
/// caller's identity, the caller's record, the index and `also` are one concurrent round;
/// the caller is checked before anything read is used.
pub async fn admin_and_rows<F, T>(
    db: &Db,
    req: &lambda_http::Request,
    also: impl FnOnce(AccountId) -> F,
) -> Result<(Caller, Rows, T), ApiError>
where
    F: std::future::Future<Output = Result<T, ApiError>>,
{
    let identity = auth::identity(db, req).await?;
    let account_id = identity.account_id;
    let (checked, indexed, extra) = tokio::join!(
        auth::user_with_account(db, &identity),
        read_rows(db, account_id),
        also(account_id)
    );
    let (caller, account) = checked?;
    crate::audit::require_admin(db, req, &caller, None).await?;
    let rows = if account.list_index {
        Rows::Indexed(indexed?)
    } else {
        Rows::Unindexed
    };
    Ok((caller, rows, extra?))
}

/// An unindexed account's item collection (users only, or everything), sorted by kind.
pub async fn read_unindexed(
    db: &Db,
    account: AccountId,
    users_only: bool,
) -> Result<AccountItems, ApiError> {
    let prefix = users_only.then_some(model::USER_SK_PREFIX);
    AccountItems::from_items(
        db.query_partition(model::account_pk(account), prefix)
            .await?,
    )
}

/// The account's groups, projects and drives: three Queries at once.
pub async fn read_resources(db: &Db, account: AccountId) -> Result<Resources, ApiError> {
    let pk = model::account_pk(account);
    let (groups, projects, drives) = tokio::try_join!(
        db.query_partition(pk.clone(), Some(model::GROUP_SK_PREFIX)),
        db.query_partition(pk.clone(), Some(model::PROJECT_SK_PREFIX)),
        db.query_partition(pk.clone(), Some(model::DRIVE_SK_PREFIX)),
    )?;
    let mut resources = Resources::default();
    resources.add_items(groups)?;
    resources.add_items(projects)?;
    resources.add_items(drives)?;
    Ok(resources)
}

/// The relations of these users, one Query per user (their `REL#<id>#` range), at most
/// `RELATION_QUERIES_IN_FLIGHT` at once. Each user's relations stay in key order.
pub async fn read_relations(
    db: &Db,
    account: AccountId,
    users: &[&User],
) -> Result<Vec<Item>, ApiError> {
    let pk = model::account_pk(account);
    let prefixes: Vec<String> = users
        .iter()
        .map(|user| model::relations_prefix(user.id))
        .collect();
    let mut per_user = Vec::with_capacity(users.len());
    for batch in prefixes.chunks(RELATION_QUERIES_IN_FLIGHT) {
        let queries: Vec<_> = batch
            .iter()
            .map(|prefix| db.query_partition(pk.clone(), Some(prefix)))
            .collect();
        per_user.extend(futures_util::future::try_join_all(queries).await?);
    }
    Ok(per_user.into_iter().flatten().collect())
}

/// One shard, strongly consistent (an empty shard at version 0 when it does not exist).
pub async fn read_shard(db: &Db, account: AccountId, number: u8) -> Result<Shard, ApiError> {
    let item = db
        .get_raw(model::account_pk(account), &model::list_shard_sk(number))
        .await?;
    match item {
        Some(item) => decode_shard_item(account, item),
        None => Ok(Shard::empty(account, number)),
    }
}

/// Runs a transaction that changes one user, together with the audit records of the
/// change and the put of that user's index shard. Failed conditions are reported with
/// the positions of `operations`, as `Db::transact` does; a write that lost only the
/// shard's version to a concurrent write is tried again with the shard read afresh.
pub async fn transact_indexed(
    db: &Db,
    operations: Vec<tx::Write>,
    account: AccountId,
    change: &RowChange,
    records: &[AuditRecord],
) -> Result<(), TxError> {
    let number = shard_of(change.user());
    let changes = operations.len();
    let mut base = operations;
    base.extend(
        audit_records::writes(db.table(), records, db.audit_retention()).map_err(TxError::Other)?,
    );
    let shard_position = base.len();
    for attempt in 1..=ATTEMPTS {
        let mut shard = read_shard(db, account, number)
            .await
            .map_err(TxError::Other)?;
        shard.apply(change);
        let mut writes = base.clone();
        writes.push(shard.write(db.table()).map_err(TxError::Other)?);
        match db.transact(writes).await {
            Ok(()) => return Ok(()),
            Err(TxError::ConditionFailed(failed)) => {
                let (of_change, others): (Vec<usize>, Vec<usize>) = failed
                    .into_iter()
                    .filter(|&position| position != shard_position)
                    .partition(|&position| position < changes);
                if !of_change.is_empty() {
                    return Err(TxError::ConditionFailed(of_change));
                }
                if !others.is_empty() {
                    return Err(TxError::Other(ApiError::internal(format!(
                        "audit record writes failed their conditions at {others:?}"
                    ))));
                }
                tracing::info!(
                    attempt,
                    shard = number,
                    "list index shard moved, trying again"
                );
                tokio::time::sleep(Duration::from_millis(
                    u64::from(attempt) * 5 + u64::from(db::clock_nanos() % 11),
                ))
                .await;
            }
            Err(other) => return Err(other),
        }
    }
    Err(TxError::Other(ApiError::contended(format!(
        "list index shard {number} kept changing after {ATTEMPTS} attempts"
    ))))
}

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
mod tests {
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
            crate::clock::iso(
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

    #[test]
    fn changes_put_update_and_remove_rows_in_id_order() {
        let account = AccountId(uuid::Uuid::nil());
        let mut shard = Shard::empty(account, 0);
        shard.apply(&RowChange::Put(row(3, "c@example.com")));
        shard.apply(&RowChange::Put(row(1, "a@example.com")));
        shard.apply(&RowChange::Put(row(2, "b@example.com")));
        assert_eq!(
            shard
                .rows
                .iter()
                .map(|r| r.id.0.as_u128())
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );
        shard.apply(&RowChange::Update(
            UserId(uuid::Uuid::from_u128(2)),
            RowUpdate {
                firstname: Some("Bea".into()),
                mfa: Some(true),
                deleted: Some(true),
                delete_date: Some(Some("2031-01-01T00:00:00.000Z".into())),
                ..RowUpdate::touched("2031-01-01T00:00:00.000Z")
            },
        ));
        let bea = &shard.rows[1];
        assert_eq!(bea.firstname, "Bea");
        assert!(bea.mfa && bea.deleted);
        assert_eq!(bea.update_date, "2031-01-01T00:00:00.000Z");
        assert_eq!(bea.lastname, "Lovelace");
        shard.apply(&RowChange::Remove(UserId(uuid::Uuid::from_u128(1))));
        // An update of a row that is not there changes nothing.
        shard.apply(&RowChange::Update(
            UserId(uuid::Uuid::from_u128(9)),
            RowUpdate::touched("x"),
        ));
        assert_eq!(shard.rows.len(), 2);
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
