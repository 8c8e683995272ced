//! The reads of the table: by key (one item, or several of one partition in one
//! BatchGetItem), Queries of a partition or a key range, and the Scans of the operators'
//! tools. All strongly consistent.

use aws_sdk_dynamodb::types::KeysAndAttributes;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

use super::model::{self, AccountItem, UserItem};
use super::{b, from_item, key, s, sdk_error, string_attribute, Db, Item};
use crate::domain::error::ApiError;
use crate::domain::{AccountId, UserId};

impl Db {
    /// A strongly consistent read of one item by key.
    pub async fn get<T: DeserializeOwned>(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<T>, ApiError> {
        self.get_raw(pk, sk).await?.map(from_item).transpose()
    }

    /// A strongly consistent read of one item by key, undecoded.
    pub async fn get_raw(&self, pk: String, sk: &str) -> Result<Option<Item>, ApiError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(output.item)
    }

    pub async fn get_user(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<Option<UserItem>, ApiError> {
        self.get(model::account_pk(account), &model::user_sk(user))
            .await
    }

    pub async fn get_account(&self, account: AccountId) -> Result<Option<AccountItem>, ApiError> {
        self.get(model::account_pk(account), model::ACCOUNT_SK)
            .await
    }

    /// Reads a user and their account in one strongly consistent round trip.
    pub async fn get_user_and_account(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<(Option<UserItem>, Option<AccountItem>), ApiError> {
        let user_sk = model::user_sk(user);
        let mut found = self
            .get_many_raw(
                &model::account_pk(account),
                &[user_sk.as_str(), model::ACCOUNT_SK],
            )
            .await?;
        let user_item = found.remove(&user_sk).map(from_item).transpose()?;
        let account_item = found.remove(model::ACCOUNT_SK).map(from_item).transpose()?;
        Ok((user_item, account_item))
    }

    /// Strongly consistent reads of items of one partition by sort key, in one round trip
    /// (BatchGetItem, at most 100 keys): the items found, by sort key.
    pub async fn get_many_raw(
        &self,
        pk: &str,
        sks: &[&str],
    ) -> Result<HashMap<String, Item>, ApiError> {
        let mut keys = KeysAndAttributes::builder().consistent_read(true);
        for sk in sks {
            keys = keys.keys(key(pk, *sk));
        }
        let keys = keys.build().map_err(ApiError::internal)?;
        let mut pending = HashMap::from([(self.table.clone(), keys)]);
        let mut found = HashMap::new();
        // BatchGetItem may return part of the keys as unprocessed; ask again for those.
        for _ in 0..5 {
            let output = self
                .client
                .batch_get_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", e))?;
            for item in output
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                if let Some(sk) = string_attribute(&item, model::SK) {
                    found.insert(sk.to_owned(), item);
                }
            }
            pending = output.unprocessed_keys.unwrap_or_default();
            if pending.values().all(|k| k.keys.is_empty()) {
                return Ok(found);
            }
        }
        Err(ApiError::internal(
            "BatchGetItem left keys unprocessed after retries",
        ))
    }

    /// Every item of a partition whose sort key starts with `sk_prefix` (all when `None`),
    /// page by page: the number of calls grows with the partition's size in MB only.
    pub async fn query_partition(
        &self,
        pk: String,
        sk_prefix: Option<&str>,
    ) -> Result<Vec<Item>, ApiError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":pk", s(pk.clone()))
                .set_exclusive_start_key(start);
            query = match sk_prefix {
                Some(prefix) => query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", s(prefix)),
                None => query.key_condition_expression("pk = :pk"),
            };
            let output = query.send().await.map_err(|e| sdk_error("Query", e))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// The items of a partition whose sort keys lie in `low..=high`, in key order or
    /// newest first, optionally only those whose `filter.0` attribute equals `filter.1`,
    /// stopping once `limit` items were read (before filtering, as DynamoDB counts).
    pub async fn query_range(
        &self,
        pk: &str,
        low: &str,
        high: &str,
        descending: bool,
        filter: Option<(&str, String)>,
        limit: Option<u64>,
    ) -> Result<Vec<Item>, ApiError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let remaining = limit.map(|limit| limit.saturating_sub(items.len() as u64));
            if remaining == Some(0) {
                return Ok(items);
            }
            let output = self
                .range_query(pk, low, high, &filter)
                .scan_index_forward(!descending)
                .set_limit(remaining.map(|r| i32::try_from(r).unwrap_or(i32::MAX)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// How many items of a partition have sort keys in `low..=high` (and match `filter`):
    /// DynamoDB reads them but sends back only the count.
    pub async fn count_range(
        &self,
        pk: &str,
        low: &str,
        high: &str,
        filter: Option<(&str, String)>,
    ) -> Result<u64, ApiError> {
        let mut count = 0u64;
        let mut start = None;
        loop {
            let output = self
                .range_query(pk, low, high, &filter)
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            count += u64::try_from(output.count).unwrap_or_default();
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(count),
            }
        }
    }

    /// A strongly consistent Query of the sort keys `low..=high` of a partition, keeping
    /// only items whose `filter.0` attribute equals `filter.1` when there is a filter.
    fn range_query(
        &self,
        pk: &str,
        low: &str,
        high: &str,
        filter: &Option<(&str, String)>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s(high));
        match filter {
            Some((name, value)) => query
                .filter_expression("#filter = :filter")
                .expression_attribute_names("#filter", *name)
                .expression_attribute_values(":filter", s(value.clone())),
            None => query,
        }
    }

    /// Every item of the table of one `kind` (and whose boolean attribute `flag` is true,
    /// when given). A Scan, which no request path does: for operators' tools (the
    /// migration) and the local stack only.
    pub async fn scan_kind(&self, kind: &str, flag: Option<&str>) -> Result<Vec<Item>, ApiError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = self.scan_kind_page(kind, flag, start, None).await?;
            items.extend(page);
            match next {
                Some(key) => start = Some(key),
                None => return Ok(items),
            }
        }
    }

    /// One Scan page of `scan_kind`, after the key `start` (pk, sk) and reading at most
    /// `limit` items before the filter, with the key to resume after (None: the table's
    /// end). For the scheduled index check, which walks the accounts a page per step.
    pub async fn scan_kind_page(
        &self,
        kind: &str,
        flag: Option<&str>,
        start: Option<(String, String)>,
        limit: Option<i32>,
    ) -> Result<(Vec<Item>, Option<(String, String)>), ApiError> {
        let mut scan = self
            .client
            .scan()
            .table_name(&self.table)
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":kind", s(kind))
            .set_exclusive_start_key(start.map(|(pk, sk)| key(pk, sk)))
            .set_limit(limit);
        scan = match flag {
            Some(flag) => scan
                .filter_expression("#kind = :kind AND #flag = :true")
                .expression_attribute_names("#flag", flag)
                .expression_attribute_values(":true", b(true)),
            None => scan.filter_expression("#kind = :kind"),
        };
        let output = scan.send().await.map_err(|e| sdk_error("Scan", e))?;
        let next = output
            .last_evaluated_key
            .filter(|key| !key.is_empty())
            .map(|key| {
                let part = |name| string_attribute(&key, name).unwrap_or_default().to_owned();
                (part(model::PK), part(model::SK))
            });
        Ok((output.items.unwrap_or_default(), next))
    }
}
