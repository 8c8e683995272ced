//! The change events of the local stack. moto has no stream from the table to the
//! publisher, so `GET /local/events` builds the events from the audit records in the
//! table, with the publisher's own shaping (`shared::features::events`): what the deployed bus
//! would carry for the same changes.

use shared::adapters::db::audit_records::KIND_RECORD;
use shared::adapters::db::{from_item, Db, Item};
use shared::domain::change_event::{events_of, ChangeEvent};
use shared::features::audit::AuditRecord;

use crate::provision::BoxError;

/// Every audit record of a change in the table, as stored (a Scan: local use only; the
/// deployed stack reads them from the stream).
pub async fn stored_change_items(db: &Db) -> Result<Vec<Item>, BoxError> {
    Ok(db.scan_kind(KIND_RECORD, Some("change")).await?)
}

/// The events of the audit records of changes in the table, oldest first.
pub async fn stored_events(db: &Db) -> Result<Vec<ChangeEvent>, BoxError> {
    let records = stored_change_items(db)
        .await?
        .into_iter()
        .map(from_item::<AuditRecord>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{e:?}"))?;
    Ok(events_of(&records))
}

/// A DynamoDB stream event (as Lambda hands it to the publisher) inserting `items`, with
/// sequence numbers in their order: for running the publisher on stored records.
pub fn stream_event(items: &[Item], region: &str, table: &str) -> serde_json::Value {
    let records: Vec<serde_json::Value> = items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let image = serde_dynamo::Item::from(item.clone());
            let keys: Item = ["pk", "sk"]
                .into_iter()
                .filter_map(|name| Some((name.to_owned(), item.get(name)?.clone())))
                .collect();
            let image = serde_json::to_value(&image).unwrap_or_default();
            serde_json::json!({
                "eventID": uuid::Uuid::new_v4().simple().to_string(),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "dynamodb": {
                    "ApproximateCreationDateTime": chrono::Utc::now().timestamp(),
                    "Keys": serde_json::to_value(serde_dynamo::Item::from(keys)).unwrap_or_default(),
                    "NewImage": image,
                    "SequenceNumber": format!("{:021}", index + 1),
                    "SizeBytes": image.to_string().len(),
                    "StreamViewType": "NEW_IMAGE",
                },
                "eventSourceARN": format!(
                    "arn:aws:dynamodb:{region}:000000000000:table/{table}/stream/2026-01-01T00:00:00.000"
                ),
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}
