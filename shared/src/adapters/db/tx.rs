//! Builders for the operations of a transaction.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};

use crate::domain::error::ApiError;

/// An item or a key, as `db::Item` (spelled out: the builders stand below the adapter's
/// `Db`, which uses them).
type Item = HashMap<String, AttributeValue>;

/// One operation of a transaction, ready for `Db::transact`. Opaque outside the adapter:
/// callers build it with the functions of this module.
#[derive(Debug, Clone)]
pub struct Write(pub(super) TransactWriteItem);

impl Write {
    /// The request as it will be sent, for unit tests of what a transaction says.
    #[cfg(test)]
    pub(crate) fn sdk(&self) -> &TransactWriteItem {
        &self.0
    }
}

pub fn put(
    table: &str,
    item: Item,
    condition: Option<&str>,
    values: Vec<(&str, AttributeValue)>,
) -> Result<Write, ApiError> {
    let mut put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned));
    for (name, value) in values {
        put = put.expression_attribute_values(name, value);
    }
    Ok(Write(
        TransactWriteItem::builder()
            .put(put.build().map_err(ApiError::internal)?)
            .build(),
    ))
}

pub fn delete(
    table: &str,
    key: Item,
    condition: Option<&str>,
    values: Vec<(&str, AttributeValue)>,
) -> Result<Write, ApiError> {
    let mut delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .set_condition_expression(condition.map(str::to_owned));
    for (name, value) in values {
        delete = delete.expression_attribute_values(name, value);
    }
    Ok(Write(
        TransactWriteItem::builder()
            .delete(delete.build().map_err(ApiError::internal)?)
            .build(),
    ))
}

/// An update; `names` and `values` fill the `#name` and `:value` placeholders.
pub fn update(
    table: &str,
    key: Item,
    expression: &str,
    condition: Option<&str>,
    names: Vec<(&str, &str)>,
    values: Vec<(&str, AttributeValue)>,
) -> Result<Write, ApiError> {
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(expression)
        .set_condition_expression(condition.map(str::to_owned));
    for (placeholder, name) in names {
        update = update.expression_attribute_names(placeholder, name);
    }
    for (placeholder, value) in values {
        update = update.expression_attribute_values(placeholder, value);
    }
    Ok(Write(
        TransactWriteItem::builder()
            .update(update.build().map_err(ApiError::internal)?)
            .build(),
    ))
}

/// A condition on an item the transaction does not change; `names` fill `#name`s.
pub fn check(
    table: &str,
    key: Item,
    condition: &str,
    names: Vec<(&str, &str)>,
    values: Vec<(&str, AttributeValue)>,
) -> Result<Write, ApiError> {
    let mut check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key))
        .condition_expression(condition);
    for (placeholder, name) in names {
        check = check.expression_attribute_names(placeholder, name);
    }
    for (name, value) in values {
        check = check.expression_attribute_values(name, value);
    }
    Ok(Write(
        TransactWriteItem::builder()
            .condition_check(check.build().map_err(ApiError::internal)?)
            .build(),
    ))
}
