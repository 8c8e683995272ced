//! Reading the leaves: the one leaf on a user's path (a BatchGetItem of its levels), or
//! the whole tree (a paged Query), read again when it caught a split half-way.

use std::collections::{HashMap, HashSet};

use super::{decode_node, leaf_sk, path_of, Leaf, Node, LEVELS_PER_READ, MAX_DEPTH, READ_ATTEMPTS};
use crate::adapters::db::{model, Db, Item};
use crate::domain::error::ApiError;
use crate::domain::{AccountId, UserId};

/// The leaf that holds (or will hold) `user`'s row, strongly consistent: one BatchGetItem
/// of the levels of the user's path, deeper ones only past `LEVELS_PER_READ`.
pub async fn find_leaf(db: &Db, account: AccountId, user: UserId) -> Result<Leaf, ApiError> {
    locate_leaf(db, account, user)
        .await?
        .map_err(|(_, err)| err)
}

/// As `find_leaf`, but a leaf whose rows do not decode comes back too (as an empty leaf
/// at its version, with why), so a check can rewrite it.
pub async fn locate_leaf(
    db: &Db,
    account: AccountId,
    user: UserId,
) -> Result<Result<Leaf, (Leaf, ApiError)>, ApiError> {
    let pk = model::account_pk(account);
    let mut depth = 0;
    while depth <= MAX_DEPTH {
        let levels: Vec<String> = (depth..=MAX_DEPTH.min(depth + LEVELS_PER_READ - 1))
            .map(|level| leaf_sk(&path_of(user, level)))
            .collect();
        let keys: Vec<&str> = levels.iter().map(String::as_str).collect();
        let mut found = db.get_many_raw(&pk, &keys).await?;
        for sk in &levels {
            let path = sk[model::ROWS_SK_PREFIX.len()..].to_owned();
            match found.remove(sk) {
                None => return Ok(Ok(Leaf::empty(account, path))),
                Some(item) => match decode_node(account, item)?.1 {
                    Node::Leaf(leaf) => return Ok(Ok(leaf)),
                    Node::Split { .. } => depth += 1,
                    Node::Unreadable(leaf, err) => return Ok(Err((leaf, err))),
                },
            }
        }
    }
    Err(ApiError::internal(format!(
        "list index of account {account}: no leaf on the path of user {user}"
    )))
}

/// Every leaf of the account's index that exists, read whole (one paged Query of
/// `ROWS#`), and read again when the read caught a split half-way. A leaf that does not
/// decode is an error.
pub async fn read_leaves(db: &Db, account: AccountId) -> Result<Vec<Leaf>, ApiError> {
    let read = read_tree(db, account).await?;
    match read.unreadable.into_iter().next() {
        Some((_, err)) => Err(err),
        None => Ok(read.leaves),
    }
}

/// An index as read whole: its leaves, and those that do not decode (as empty leaves at
/// their version), for a check or a repair.
pub struct Tree {
    pub leaves: Vec<Leaf>,
    pub unreadable: Vec<(Leaf, ApiError)>,
    /// The paths of the split markers.
    markers: HashSet<String>,
}

impl Tree {
    /// The path of the leaf that holds (or will hold) `user` in this tree: below the
    /// markers on the user's path.
    pub fn path_for(&self, user: UserId) -> String {
        let mut depth = 0;
        while self.markers.contains(&path_of(user, depth)) {
            depth += 1;
        }
        path_of(user, depth)
    }
}

/// The whole index, whatever state its leaves are in (see `read_leaves`).
pub async fn read_tree(db: &Db, account: AccountId) -> Result<Tree, ApiError> {
    for _ in 0..READ_ATTEMPTS {
        let items = db
            .query_partition(model::account_pk(account), Some(model::ROWS_SK_PREFIX))
            .await?;
        if let Some(tree) = whole_tree(account, items)? {
            return Ok(tree);
        }
        tracing::info!("list index read caught a split half-way; reading again");
    }
    Err(ApiError::contended(format!(
        "list index of account {account} kept splitting while it was read"
    )))
}

/// The leaves of a read, if it is a whole tree: every leaf's ancestors are markers, and
/// every marker has at least the children its split created.
pub(super) fn whole_tree(account: AccountId, items: Vec<Item>) -> Result<Option<Tree>, ApiError> {
    let mut tree = Tree {
        leaves: Vec::new(),
        unreadable: Vec::new(),
        markers: HashSet::new(),
    };
    let mut markers: HashMap<String, u64> = HashMap::new();
    for item in items {
        match decode_node(account, item)? {
            (_, Node::Leaf(leaf)) => tree.leaves.push(leaf),
            (_, Node::Unreadable(leaf, err)) => tree.unreadable.push((leaf, err)),
            (path, Node::Split { children }) => {
                markers.insert(path, children);
            }
        }
    }
    let paths: HashSet<&str> = tree
        .leaves
        .iter()
        .chain(tree.unreadable.iter().map(|(leaf, _)| leaf))
        .map(|leaf| leaf.path.as_str())
        .chain(markers.keys().map(String::as_str))
        .collect();
    let mut children_seen: HashMap<&str, u64> = HashMap::new();
    for path in &paths {
        if path.is_empty() {
            continue;
        }
        let parent = &path[..path.len() - 1];
        if !markers.contains_key(parent) {
            return Ok(None);
        }
        *children_seen.entry(parent).or_default() += 1;
    }
    for (marker, children) in &markers {
        if children_seen
            .get(marker.as_str())
            .copied()
            .unwrap_or_default()
            < *children
        {
            return Ok(None);
        }
    }
    tree.markers = markers.into_keys().collect();
    Ok(Some(tree))
}
