//! The list index's leaves: every user of an account as a compact row (`list_rows`), in
//! leaf items of the account's item collection that split as they grow, so that no item
//! grows with the account and a user write rewrites one small leaf.
//!
//! A leaf holds the users whose id starts with its path, read two bits at a time: the
//! root `ROWS#` holds everyone, `ROWS#2` those whose id's first two bits are `10`,
//! `ROWS#21` the next two bits `01`, and so on. When a write would make a leaf's rows
//! pass `LEAF_ROWS_MAX_BYTES`, the same transaction turns the leaf into a split marker
//! (no rows) and creates its four children with the rows divided among them. Children
//! without rows are not written: a missing leaf under a marker is an empty one.
//!
//! Every write of a leaf is conditioned on the version it read, so two writes of users in
//! one leaf are serialised, and a write that lost to a split reads the path again. A
//! marker records how many children its split created, so a reader can tell a read that
//! caught a split half-way (DynamoDB's Query is read-committed, not a snapshot) and read
//! again.

mod reads;
pub use reads::{find_leaf, locate_leaf, read_leaves, read_tree, Tree};

use std::collections::BTreeMap;

use super::list_rows::{decode_rows, encode_rows};
use super::{from_item, key, n, string_attribute, tx, ApiError, Item};
use crate::adapters::db::model::{self, ListLeafItem, UserItem};
use crate::domain::views::User;
use crate::domain::{AccountId, UserId, UserStatus, UserType};

/// A leaf whose encoded rows would pass this splits. With the item's keys and other
/// attributes a leaf stays under 3 KB, so its transactional write costs at most 6 write
/// units whatever the account's size (DynamoDB charges 2 per KB in a transaction).
/// Smaller leaves would cost each write less but every list more: rows compress worse
/// in small leaves, and each item adds its keys (1,900 bytes: 185 read units per list at
/// 10,000 users, measured by `make bench-scale`; 2,900: within the 150 of the budget).
pub const LEAF_ROWS_MAX_BYTES: usize = 2_900;

/// Children of a split: two more bits of the id.
pub const FANOUT: u8 = 4;

/// Leaves hold rows from this depth on (64 leaves): the levels above are split from the
/// first write of each branch, so that even a small account's concurrent writes (a burst
/// of invitations, a directory's first sync) spread over many leaves instead of meeting
/// on one root.
pub const MIN_DEPTH: usize = 3;

/// The deepest a path can go (64 bits of the id): far beyond any account, a bound so a
/// corrupt table cannot make a reader loop.
const MAX_DEPTH: usize = 32;

/// The levels one lookup reads at once: one round trip finds the leaf of a user of an
/// account of up to ~3,000,000 users (4^9 leaves).
const LEVELS_PER_READ: usize = 10;

/// How often a list read that caught a split half-way reads the index again.
const READ_ATTEMPTS: usize = 4;

/// The `level`-th digit (0..4) of the user's path.
fn digit(user: UserId, level: usize) -> u8 {
    let bits = user.0.as_u128();
    ((bits >> (126 - 2 * level)) & 3) as u8
}

/// The path of depth `depth` that holds `user`.
pub fn path_of(user: UserId, depth: usize) -> String {
    (0..depth)
        .map(|level| char::from(b'0' + digit(user, level)))
        .collect()
}

/// The lowest and highest user ids a leaf at `path` holds.
pub fn id_range(path: &str) -> (UserId, UserId) {
    let bits = 2 * path.len() as u32;
    let prefix = path.bytes().fold(0u128, |prefix, digit| {
        (prefix << 2) | u128::from(digit - b'0')
    });
    let (low, span) = match bits {
        0 => (0, u128::MAX),
        128.. => (prefix, 0),
        _ => (prefix << (128 - bits), u128::MAX >> bits),
    };
    (
        UserId(uuid::Uuid::from_u128(low)),
        UserId(uuid::Uuid::from_u128(low | span)),
    )
}

fn leaf_sk(path: &str) -> String {
    format!("{}{path}", model::ROWS_SK_PREFIX)
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

/// One leaf as read: its rows (ordered by id) and the version its write must find.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    pub account: AccountId,
    pub path: String,
    /// 0 when the leaf item does not exist yet.
    pub version: u64,
    pub rows: Vec<User>,
}

impl Leaf {
    pub fn empty(account: AccountId, path: String) -> Self {
        Self {
            account,
            path,
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

    /// The writes that store this leaf as it now is, each on the condition that its item
    /// is still as read: the leaf itself, or, when its rows outgrow one leaf, a split
    /// marker in its place and the children that hold its rows (split again as needed).
    pub fn writes(&self, table: &str) -> Result<Vec<tx::Write>, ApiError> {
        self.stored()?
            .into_iter()
            .map(|stored| leaf_write(table, self.account, &stored))
            .collect()
    }

    /// The items this leaf leaves in the table, written from scratch: for a new account,
    /// seeding and benchmarks.
    pub fn items(&self) -> Result<Vec<Item>, ApiError> {
        Ok(self
            .stored()?
            .into_iter()
            .filter_map(|stored| stored.next)
            .collect())
    }

    /// What each item of this leaf (and of its children, if it splits) becomes.
    fn stored(&self) -> Result<Vec<Stored>, ApiError> {
        let blob = encode_rows(&self.rows);
        let depth = self.path.len();
        let splits = if depth < MIN_DEPTH {
            !self.rows.is_empty()
        } else {
            blob.len() > LEAF_ROWS_MAX_BYTES && self.rows.len() > 1 && depth < MAX_DEPTH
        };
        if !splits {
            let next = if self.rows.is_empty() && (self.path.is_empty() || self.version == 0) {
                // An emptied root is deleted (an undone first invitation leaves nothing
                // behind); an empty child that does not exist stays absent. Any other
                // child stays, so its marker's count of children holds.
                None
            } else {
                Some(self.item(false, self.rows.len() as u64, blob)?)
            };
            return Ok(vec![Stored {
                path: self.path.clone(),
                read_version: self.version,
                next,
            }]);
        }
        let mut children: BTreeMap<u8, Vec<User>> = BTreeMap::new();
        for row in &self.rows {
            children
                .entry(digit(row.id, depth))
                .or_default()
                .push(row.clone());
        }
        let mut stored = vec![Stored {
            path: self.path.clone(),
            read_version: self.version,
            next: Some(self.item(true, children.len() as u64, Vec::new())?),
        }];
        for (child, rows) in children {
            let leaf = Leaf {
                account: self.account,
                path: format!("{}{}", self.path, char::from(b'0' + child)),
                version: 0,
                rows,
            };
            stored.extend(leaf.stored()?);
        }
        Ok(stored)
    }

    /// The leaf's item at its next version: its rows, or a split marker with the number
    /// of children its split created.
    fn item(&self, split: bool, count: u64, rows: Vec<u8>) -> Result<Item, ApiError> {
        super::to_item(&ListLeafItem {
            pk: model::account_pk(self.account),
            sk: leaf_sk(&self.path),
            kind: model::KIND_LIST_LEAF.into(),
            version: self.version + 1,
            count,
            split,
            rows: serde_bytes::ByteBuf::from(rows),
        })
    }
}

/// One item of a leaf write: its path, the version it was read at (0: absent), and what
/// it becomes (`None`: absent).
struct Stored {
    path: String,
    read_version: u64,
    next: Option<Item>,
}

/// The write of one leaf item on the condition that nobody wrote it since it was read.
fn leaf_write(table: &str, account: AccountId, stored: &Stored) -> Result<tx::Write, ApiError> {
    let key = key(model::account_pk(account), leaf_sk(&stored.path));
    let unchanged_since_read = vec![(":read", n(stored.read_version))];
    match (stored.read_version, stored.next.clone()) {
        (0, None) => tx::check(table, key, "attribute_not_exists(pk)", vec![], vec![]),
        (0, Some(item)) => tx::put(table, item, Some("attribute_not_exists(pk)"), vec![]),
        (_, None) => tx::delete(table, key, Some("version = :read"), unchanged_since_read),
        (_, Some(item)) => tx::put(table, item, Some("version = :read"), unchanged_since_read),
    }
}

/// A leaf item as read: a leaf with rows, a split marker, or a leaf whose rows do not
/// decode (kept with its version and no rows, so a repair can rewrite it).
enum Node {
    Leaf(Leaf),
    Split { children: u64 },
    Unreadable(Leaf, ApiError),
}

fn decode_node(account: AccountId, item: Item) -> Result<(String, Node), ApiError> {
    let corrupt = |what: &str| ApiError::internal(format!("list index leaf: {what}"));
    let path = string_attribute(&item, model::SK)
        .and_then(|sk| sk.strip_prefix(model::ROWS_SK_PREFIX))
        .filter(|path| path.len() <= MAX_DEPTH && path.bytes().all(|b| (b'0'..b'4').contains(&b)))
        .ok_or_else(|| corrupt("bad sort key"))?
        .to_owned();
    let stored: ListLeafItem = from_item(item)?;
    if stored.split {
        return Ok((
            path,
            Node::Split {
                children: stored.count,
            },
        ));
    }
    let mut leaf = Leaf::empty(account, path.clone());
    leaf.version = stored.version;
    match decode_rows(account, &stored.rows) {
        Ok(rows) => {
            leaf.rows = rows;
            Ok((path, Node::Leaf(leaf)))
        }
        Err(err) => Ok((path, Node::Unreadable(leaf, err))),
    }
}

/// The rows of one leaf item (none for a split marker): for benchmarks of the decoding.
pub fn rows_of_item(account: AccountId, item: Item) -> Result<Vec<User>, ApiError> {
    match decode_node(account, item)?.1 {
        Node::Leaf(leaf) => Ok(leaf.rows),
        Node::Split { .. } => Ok(Vec::new()),
        Node::Unreadable(_, err) => Err(err),
    }
}

/// Whether a leaf item is a split marker (holds no rows).
pub fn is_marker(item: &Item) -> bool {
    matches!(
        item.get("split"),
        Some(aws_sdk_dynamodb::types::AttributeValue::Bool(true))
    )
}

/// The leaves (and split markers) of an index holding exactly these users: for a new
/// account, the benchmarks and tests.
pub fn leaf_items(account: AccountId, users: &[UserItem]) -> Result<Vec<Item>, ApiError> {
    let mut rows: Vec<User> = users.iter().map(User::from).collect();
    rows.sort_by_key(|row| row.id);
    Leaf {
        account,
        path: String::new(),
        version: 0,
        rows,
    }
    .items()
}

#[cfg(test)]
mod tests {
    use super::reads::whole_tree;
    use super::*;
    use crate::adapters::db::list_rows::tests::row;

    fn account() -> AccountId {
        AccountId(uuid::Uuid::nil())
    }

    fn random_rows(count: usize) -> Vec<User> {
        let mut rows: Vec<User> = (0..count)
            .map(|n| {
                let mut user = row(0, &format!("user{n}@example.com"));
                user.id = UserId(uuid::Uuid::new_v4());
                user
            })
            .collect();
        rows.sort_by_key(|row| row.id);
        rows
    }

    /// The (path, split, rows) of items, for reading them back in tests.
    fn read_back(items: Vec<Item>) -> Vec<Leaf> {
        whole_tree(account(), items)
            .unwrap()
            .expect("a whole tree")
            .leaves
    }

    #[test]
    fn paths_read_the_id_two_bits_at_a_time() {
        let user = UserId(uuid::Uuid::from_u128(0b10_01_11_00 << 120));
        assert_eq!(path_of(user, 0), "");
        assert_eq!(path_of(user, 4), "2130");
        assert_eq!(path_of(user, 6), "213000");
    }

    #[test]
    fn a_leaf_holds_the_ids_that_start_with_its_path() {
        let id = |bits: u128| UserId(uuid::Uuid::from_u128(bits));
        assert_eq!(id_range(""), (id(0), id(u128::MAX)));
        assert_eq!(id_range("2"), (id(0b10 << 126), id((0b11 << 126) - 1)));
        assert_eq!(
            id_range("213"),
            (
                id(0b10_01_11 << 122),
                id((0b10_01_11 << 122) | (u128::MAX >> 6))
            )
        );
        for user in random_rows(50).iter().map(|row| row.id) {
            for depth in [0, 1, 3, 7, 32] {
                let (low, high) = id_range(&path_of(user, depth));
                assert!(low <= user && user <= high, "{user} at depth {depth}");
                // Ids sort as their keys do: a leaf's users are one range of sort keys.
                assert!(model::user_sk(low) <= model::user_sk(user));
                assert!(model::user_sk(user) <= model::user_sk(high));
            }
        }
    }

    #[test]
    fn a_leaf_that_outgrows_its_bound_splits_and_every_item_stays_small() {
        for users in [0, 1, 40, 300, 5_000] {
            let rows = random_rows(users);
            let items = Leaf {
                account: account(),
                path: String::new(),
                version: 0,
                rows: rows.clone(),
            }
            .items()
            .unwrap();
            for item in &items {
                let size = crate::adapters::db::item_size(item);
                assert!(size <= 3 * 1024, "{users} users: an item of {size} bytes");
            }
            let leaves = read_back(items);
            let mut read: Vec<User> = leaves.into_iter().flat_map(|leaf| leaf.rows).collect();
            read.sort_by_key(|row| row.id);
            assert_eq!(read, rows, "{users} users");
        }
    }

    #[test]
    fn a_read_that_caught_a_split_half_way_is_not_a_tree() {
        let rows = random_rows(600);
        let root = Leaf {
            account: account(),
            path: String::new(),
            version: 3,
            rows: rows.clone(),
        };
        let mut items = root.items().unwrap();
        assert!(whole_tree(account(), items.clone()).unwrap().is_some());
        // The marker seen, one of its children not yet.
        let child = items
            .iter()
            .position(|item| string_attribute(item, model::SK) == Some("ROWS#1"))
            .unwrap();
        let without_child = {
            let mut partial = items.clone();
            partial.remove(child);
            partial
        };
        assert!(whole_tree(account(), without_child).unwrap().is_none());
        // The children seen, the root still a leaf.
        items.retain(|item| string_attribute(item, model::SK) != Some("ROWS#"));
        let old_root = Leaf {
            account: account(),
            path: String::new(),
            version: 2,
            rows: rows[..10].to_vec(),
        };
        items.push(
            old_root
                .item(false, 10, encode_rows(&old_root.rows))
                .unwrap(),
        );
        assert!(whole_tree(account(), items).unwrap().is_none());
    }

    #[test]
    fn a_write_that_splits_a_leaf_marks_it_on_its_read_version_and_creates_its_children() {
        let mut leaf = Leaf {
            account: account(),
            path: "2".into(),
            version: 7,
            rows: random_rows(2_000)
                .into_iter()
                .map(|mut row| {
                    // Every row under path "2".
                    row.id = UserId(uuid::Uuid::from_u128(
                        (row.id.0.as_u128() >> 2) | (0b10 << 126),
                    ));
                    row
                })
                .collect(),
        };
        leaf.rows.sort_by_key(|row| row.id);
        let stored = leaf.stored().unwrap();
        assert_eq!(stored[0].path, "2");
        assert_eq!(stored[0].read_version, 7);
        assert!(stored[1..]
            .iter()
            .all(|s| s.read_version == 0 && s.path.starts_with('2')));
        assert!(stored.len() > 4);
    }

    #[test]
    fn an_emptied_root_is_deleted_and_an_empty_new_child_is_not_written() {
        let mut root = Leaf {
            account: account(),
            path: String::new(),
            version: 1,
            rows: random_rows(1),
        };
        let only = root.rows[0].id;
        root.apply(&RowChange::Remove(only));
        let stored = root.stored().unwrap();
        assert_eq!(stored.len(), 1);
        assert!(stored[0].next.is_none());
        let child = Leaf::empty(account(), "13".into());
        assert!(child.items().unwrap().is_empty());
    }

    #[test]
    fn changes_put_update_and_remove_rows_in_id_order() {
        let mut leaf = Leaf::empty(account(), String::new());
        leaf.apply(&RowChange::Put(row(3, "c@example.com")));
        leaf.apply(&RowChange::Put(row(1, "a@example.com")));
        leaf.apply(&RowChange::Put(row(2, "b@example.com")));
        assert_eq!(
            leaf.rows
                .iter()
                .map(|r| r.id.0.as_u128())
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );
        leaf.apply(&RowChange::Update(
            UserId(uuid::Uuid::from_u128(2)),
            RowUpdate {
                firstname: Some("Bea".into()),
                mfa: Some(true),
                deleted: Some(true),
                delete_date: Some(Some("2031-01-01T00:00:00.000Z".into())),
                ..RowUpdate::touched("2031-01-01T00:00:00.000Z")
            },
        ));
        let bea = &leaf.rows[1];
        assert_eq!(bea.firstname, "Bea");
        assert!(bea.mfa && bea.deleted);
        assert_eq!(bea.update_date, "2031-01-01T00:00:00.000Z");
        assert_eq!(bea.lastname, "Lovelace");
        leaf.apply(&RowChange::Remove(UserId(uuid::Uuid::from_u128(1))));
        // An update of a row that is not there changes nothing.
        leaf.apply(&RowChange::Update(
            UserId(uuid::Uuid::from_u128(9)),
            RowUpdate::touched("x"),
        ));
        assert_eq!(leaf.rows.len(), 2);
    }
}
