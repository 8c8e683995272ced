//! Change events: every audit record of a change (not of a refusal) becomes one event on
//! the stack's EventBridge bus, so other systems learn of invitations, signups, edits and
//! deletions without polling. Published by `functions/publish-change-events` from the
//! table's stream (new audit records only, `template.yaml` filters them), and shown
//! locally by the gateway's `GET /local/events`. Schemas: `docs/events/`.
//!
//! The event of a record (`domain::change_event`): source `user-management`, detail type
//! the action's name (`user.invited`, ...), time the record's, and the detail
//! `{"version", "id", "time", "accountId", "actorId", "userId", "changes", "requestId"}`.
//! Where a request came from (source IP, user agent) stays in the audit log only. The
//! bus is reached through `adapters::eventbridge`; the Lambda entry is
//! `edge::publish_change_events`.

use std::time::{Duration, SystemTime};

use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Deserialize;

use crate::adapters::db::audit_records::KIND_RECORD;
use crate::adapters::eventbridge::{PublishError, Publisher, MAX_ENTRIES_PER_PUT};
use crate::domain::audit::{Action, AuditRecord};
use crate::domain::change_event::ChangeEvent;

/// How often an entry EventBridge refused on its own (throttling, internal failure) is
/// sent, before its record is reported as failed. Whole-call errors are retried by the
/// SDK (shared/src/adapters/aws.rs) and not again here.
pub const ATTEMPTS_PER_ENTRY: u32 = 3;

/// The actions that are published: those of changes.
pub fn event_types() -> impl Iterator<Item = Action> {
    Action::ALL.into_iter().filter(|action| action.is_change())
}

/// The JSON Schema of an event type's delivered events, under `docs/events/`.
pub fn schema_file_name(action: Action) -> String {
    format!("{}.schema.json", action.as_str())
}

/// What a stream record holds for the publisher.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A new audit record of a change: its event.
    Event(Box<ChangeEvent>),
    /// Anything else (another item, a refusal, a change or removal of an item): nothing
    /// to publish. The stream's filter keeps these away; they are skipped all the same.
    Skipped,
    /// An audit record of a change that cannot be read: reported as failed, so it ends
    /// in the dead-letter queue instead of being lost.
    Unreadable(String),
}

#[derive(Deserialize)]
struct ItemKind {
    kind: Option<String>,
    change: Option<bool>,
}

/// The event of an item image (a stream record's NewImage).
pub fn decode_image(image: serde_dynamo::Item) -> Decoded {
    let kind: ItemKind = match serde_dynamo::from_item(image.clone()) {
        Ok(kind) => kind,
        Err(_) => return Decoded::Skipped,
    };
    if kind.kind.as_deref() != Some(KIND_RECORD) || kind.change != Some(true) {
        return Decoded::Skipped;
    }
    match serde_dynamo::from_item::<_, AuditRecord>(image) {
        Ok(record) => match ChangeEvent::of(&record) {
            Some(event) => Decoded::Event(Box::new(event)),
            None => Decoded::Skipped,
        },
        Err(err) => Decoded::Unreadable(format!("audit record not readable: {err}")),
    }
}

/// The event of a stream record: only inserts (a record is written once; removals are
/// its expiry or the undoing of a change that never happened).
pub fn decode_stream_record(record: &EventRecord) -> Decoded {
    if record.event_name != "INSERT" {
        return Decoded::Skipped;
    }
    decode_image(record.change.new_image.clone())
}

/// How long a PutEvents call may take at most, retries included, plus a margin: a
/// batch stops before a call that could outlive the invocation.
const TIME_PER_CALL: Duration = Duration::from_secs(5);

/// Publishes the events of a batch of stream records, in order, and answers which
/// record the stream must resume from (Lambda's `ReportBatchItemFailures`).
///
/// Lambda retries a stream batch from the lowest sequence number reported, and counts
/// everything before it as done. So the batch is sent in order, 10 at a time, and stops
/// at the first record that could not be published (or read): that record is reported,
/// nothing after it is sent now (it would be sent again on the retry). Entries refused
/// on their own are sent again right away, up to [`ATTEMPTS_PER_ENTRY`] times, so one
/// throttled entry does not send its chunk twice. `deadline`: when the invocation ends;
/// a call that might not finish before it is not started, and its first record is
/// reported instead.
pub async fn publish(
    publisher: &dyn Publisher,
    event: &StreamEvent,
    deadline: Option<SystemTime>,
) -> Result<DynamoDbEventResponse, PublishError> {
    let mut pending: Vec<(usize, ChangeEvent)> = Vec::new();
    let mut failed: Option<usize> = None;
    for (index, record) in event.records.iter().enumerate() {
        match decode_stream_record(record) {
            Decoded::Event(change) => pending.push((index, *change)),
            Decoded::Skipped => {}
            Decoded::Unreadable(reason) => {
                tracing::error!(
                    sequence_number = record.change.sequence_number.as_deref(),
                    event_id = %record.event_id,
                    reason = %reason,
                    "stream record reported as failed"
                );
                failed = Some(index);
                break;
            }
        }
    }
    let mut published = 0usize;
    for chunk in pending.chunks(MAX_ENTRIES_PER_PUT) {
        if deadline.is_some_and(|end| {
            end.duration_since(SystemTime::now())
                .map_or(true, |left| left < TIME_PER_CALL)
        }) {
            tracing::warn!("invocation ending: the rest of the batch is left for the retry");
            failed = Some(chunk[0].0);
            break;
        }
        if let Some(index) = put_chunk(publisher, chunk).await {
            failed = Some(index);
            break;
        }
        published += chunk.len();
    }
    tracing::info!(
        records = event.records.len(),
        published,
        failed = failed.is_some(),
        "batch done"
    );
    let mut response = DynamoDbEventResponse::default();
    if let Some(index) = failed {
        let sequence_number = event.records[index].change.sequence_number.clone();
        if sequence_number.is_none() {
            // Nothing to resume from: the whole batch is retried (and bisected).
            return Err(PublishError(
                "a failed stream record has no sequence number".into(),
            ));
        }
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = sequence_number;
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}

/// Sends one chunk, again for the entries refused on their own; the index (in the
/// batch) of the first record not published, if any.
async fn put_chunk(publisher: &dyn Publisher, chunk: &[(usize, ChangeEvent)]) -> Option<usize> {
    let mut unsent: Vec<&(usize, ChangeEvent)> = chunk.iter().collect();
    for attempt in 1..=ATTEMPTS_PER_ENTRY {
        let events: Vec<ChangeEvent> = unsent.iter().map(|(_, event)| event.clone()).collect();
        match publisher.put(&events).await {
            Ok(results) => {
                let refused: Vec<(&(usize, ChangeEvent), String)> = unsent
                    .iter()
                    .zip(results.into_iter().chain(std::iter::repeat(Some(
                        "no result for this entry".to_owned(),
                    ))))
                    .filter_map(|(entry, result)| result.map(|reason| (*entry, reason)))
                    .collect();
                if refused.is_empty() {
                    return None;
                }
                for ((_, event), reason) in &refused {
                    tracing::warn!(
                        attempt,
                        id = %event.detail.id,
                        detail_type = event.detail_type(),
                        reason = %reason,
                        "event refused"
                    );
                }
                unsent = refused.into_iter().map(|(entry, _)| entry).collect();
                if attempt < ATTEMPTS_PER_ENTRY {
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "PutEvents failed");
                break;
            }
        }
    }
    unsent.iter().map(|(index, _)| *index).min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::eventbridge::PublishError;
    use crate::domain::change_event::SOURCE;
    use crate::domain::{AccountId, UserId};
    use crate::features::audit::{Entry, Origin};
    use async_trait::async_trait;
    use chrono::TimeZone;
    use chrono::Utc;
    use serde_json::{json, Value};
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    fn record(action: Action) -> AuditRecord {
        let actor = UserId::new();
        let target = (action != Action::AccountRenamed).then(UserId::new);
        let entry = match action {
            Action::UserInvited => Entry::new(action, Some(actor), target)
                .field("email", (), "ann@example.com")
                .field("firstname", (), "Ann")
                .field("lastname", (), "Lee")
                .field("userType", (), 8)
                .field("status", (), 4),
            Action::UserActivated => Entry::new(action, target, target).field("status", 4, 1),
            Action::UserUpdated => {
                Entry::new(action, target, target).field("lastname", "Lee", "Li")
            }
            Action::AccountRenamed => {
                Entry::new(action, Some(actor), None).field("name", "Old Studio", "New Studio")
            }
            Action::MfaChanged => Entry::new(action, target, target).field("mfa", false, true),
            Action::TypeChanged => Entry::new(action, Some(actor), target).field("userType", 8, 4),
            Action::UserDeleted => {
                Entry::new(action, Some(actor), target).field("deleted", false, true)
            }
            Action::InvitationResent => Entry::new(action, None, target),
            _ => Entry::new(action, Some(actor), target),
        };
        let origin = Origin {
            source_ip: Some("203.0.113.7".into()),
            user_agent: Some("curl/8".into()),
            request_id: Some("req-1".into()),
        };
        let at = Utc
            .timestamp_millis_opt(1_764_600_000_123)
            .single()
            .unwrap();
        AuditRecord::new(AccountId::new(), entry, &origin, at)
    }

    #[test]
    fn a_refusal_gives_no_event_and_each_change_its_action_as_detail_type() {
        for action in Action::ALL {
            let event = ChangeEvent::of(&record(action));
            if action.is_change() {
                let event = event.unwrap();
                assert_eq!(event.detail_type(), action.as_str());
                assert_eq!(event.delivered()["detail-type"], action.as_str());
                assert_eq!(event.delivered()["source"], SOURCE);
            } else {
                assert!(event.is_none(), "{action:?} gave an event");
            }
        }
        assert_eq!(event_types().count(), 9);
    }

    #[test]
    fn the_detail_carries_the_record_but_not_where_the_request_came_from() {
        let changed = record(Action::TypeChanged);
        let delivered = ChangeEvent::of(&changed).unwrap().delivered();
        assert_eq!(delivered["time"], "2025-12-01T14:40:00Z");
        let detail = &delivered["detail"];
        assert_eq!(detail["version"], 1);
        assert_eq!(detail["id"], changed.id.as_str());
        assert_eq!(detail["time"], "2025-12-01T14:40:00.123Z");
        assert_eq!(detail["accountId"], changed.account_id.to_string());
        assert_eq!(detail["actorId"], changed.actor_id.unwrap().to_string());
        assert_eq!(detail["userId"], changed.target_id.unwrap().to_string());
        assert_eq!(
            detail["changes"],
            json!({"userType": {"before": 8, "after": 4}})
        );
        assert_eq!(detail["requestId"], "req-1");
        let text = delivered.to_string();
        assert!(
            !text.contains("203.0.113.7") && !text.contains("curl"),
            "{text}"
        );
        let renamed = ChangeEvent::of(&record(Action::AccountRenamed)).unwrap();
        assert!(renamed.delivered()["detail"]["userId"].is_null());
    }

    /// A stored item as a stream record carries it.
    fn stream_record(item: crate::adapters::db::Item, sequence: usize, name: &str) -> EventRecord {
        let mut record = EventRecord::default();
        record.event_name = name.to_owned();
        record.event_id = format!("event-{sequence}");
        record.change.new_image = serde_dynamo::Item::from(item);
        record.change.sequence_number = Some(format!("{:021}", sequence));
        record
    }

    fn stored(records: &[AuditRecord]) -> Vec<crate::adapters::db::Item> {
        crate::adapters::db::audit_records::items_of(records, chrono::Duration::days(30)).unwrap()
    }

    #[test]
    fn only_inserted_records_of_changes_are_decoded_from_the_stream() {
        let change = record(Action::UserDeleted);
        let refusal = record(Action::AccessDenied);
        let items = stored(&[change.clone(), refusal]);
        let mut events = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            match decode_stream_record(&stream_record(item.clone(), index, "INSERT")) {
                Decoded::Event(event) => events.push(*event),
                Decoded::Skipped => {}
                Decoded::Unreadable(reason) => panic!("{reason}"),
            }
            assert_eq!(
                decode_stream_record(&stream_record(item, index, "REMOVE")),
                Decoded::Skipped
            );
        }
        // The record, not its copy under the user, nor the day counter.
        assert_eq!(events, vec![ChangeEvent::of(&change).unwrap()]);

        let mut broken = stored(std::slice::from_ref(&change)).remove(0);
        broken.insert("action".into(), crate::adapters::db::s("user.exploded"));
        assert!(matches!(
            decode_stream_record(&stream_record(broken, 0, "INSERT")),
            Decoded::Unreadable(_)
        ));
    }

    /// A publisher that refuses chosen records (by id) a number of times, or fails whole
    /// calls, and keeps every call.
    #[derive(Default)]
    struct FakePublisher {
        calls: Mutex<Vec<Vec<String>>>,
        refuse: Mutex<BTreeMap<String, u32>>,
        fail_calls: Mutex<u32>,
    }

    impl FakePublisher {
        fn refuse(&self, id: &str, times: u32) {
            self.refuse.lock().unwrap().insert(id.to_owned(), times);
        }

        fn published(&self) -> Vec<String> {
            self.calls.lock().unwrap().concat()
        }
    }

    #[async_trait]
    impl Publisher for FakePublisher {
        async fn put(&self, events: &[ChangeEvent]) -> Result<Vec<Option<String>>, PublishError> {
            assert!(
                events.len() <= MAX_ENTRIES_PER_PUT,
                "{} entries",
                events.len()
            );
            {
                let mut fail = self.fail_calls.lock().unwrap();
                if *fail > 0 {
                    *fail -= 1;
                    return Err(PublishError("unavailable".into()));
                }
            }
            let mut refuse = self.refuse.lock().unwrap();
            let mut accepted = Vec::new();
            let results = events
                .iter()
                .map(|event| match refuse.get_mut(&event.detail.id) {
                    Some(times) if *times > 0 => {
                        *times -= 1;
                        Some("ThrottlingException: slow down".to_owned())
                    }
                    _ => {
                        accepted.push(event.detail.id.clone());
                        None
                    }
                })
                .collect();
            self.calls.lock().unwrap().push(accepted);
            Ok(results)
        }
    }

    /// A stream batch of `count` change records (and one refusal among them, which the
    /// filter would have kept away), with their ids in order.
    fn batch(count: usize) -> (StreamEvent, Vec<String>) {
        let mut records = Vec::new();
        let mut ids = Vec::new();
        for index in 0..count {
            let audit = record(Action::ALL[index % 9]);
            ids.push(audit.id.clone());
            let item = stored(std::slice::from_ref(&audit)).remove(0);
            records.push(stream_record(item, records.len(), "INSERT"));
            if index == 3 {
                let refusal = stored(&[record(Action::PasswordRejected)]).remove(0);
                records.push(stream_record(refusal, records.len(), "INSERT"));
            }
        }
        let mut event = StreamEvent::default();
        event.records = records;
        (event, ids)
    }

    fn failures(response: &DynamoDbEventResponse) -> Vec<String> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone().unwrap())
            .collect()
    }

    /// The sequence number of the stream record holding the audit record `id`.
    fn sequence_of(event: &StreamEvent, id: &str) -> String {
        event
            .records
            .iter()
            .find(|r| {
                r.change.new_image.get("id") == Some(&serde_dynamo::AttributeValue::S(id.into()))
            })
            .and_then(|r| r.change.sequence_number.clone())
            .unwrap()
    }

    fn validator(action: Action) -> jsonschema::Validator {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs/events")
            .join(schema_file_name(action));
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn schema_errors(action: Action, event: &Value) -> Vec<String> {
        validator(action)
            .iter_errors(event)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    #[test]
    fn every_event_type_has_a_schema_its_events_validate_against() {
        for action in event_types() {
            let delivered = ChangeEvent::of(&record(action)).unwrap().delivered();
            let errors = schema_errors(action, &delivered);
            assert!(errors.is_empty(), "{action:?}: {errors:#?}\n{delivered:#}");
            // As a rule's target receives it, with what EventBridge adds.
            let mut full = delivered.clone();
            full["version"] = json!("0");
            full["id"] = json!("6a7e8feb-b491-4cf7-a9f1-bf3703467718");
            full["account"] = json!("111122223333");
            full["region"] = json!("eu-west-1");
            full["resources"] = json!([]);
            assert!(schema_errors(action, &full).is_empty(), "{action:?}");
        }
        let listed = std::fs::read_dir(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/events"),
        )
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".schema.json"))
        .count();
        assert_eq!(listed, event_types().count(), "one schema per event type");
    }

    #[test]
    fn the_schemas_refuse_events_of_another_shape() {
        let event = |action| ChangeEvent::of(&record(action)).unwrap().delivered();
        // Another type's event.
        assert!(!schema_errors(Action::UserUpdated, &event(Action::TypeChanged)).is_empty());
        // A field the type does not change.
        let mut updated = event(Action::UserUpdated);
        updated["detail"]["changes"]["userType"] = json!({"before": 8, "after": 4});
        assert!(!schema_errors(Action::UserUpdated, &updated).is_empty());
        // A change without its shape, a missing detail field, where the request came from.
        let mut invited = event(Action::UserInvited);
        invited["detail"]["changes"]["extra"] = json!("value");
        assert!(!schema_errors(Action::UserInvited, &invited).is_empty());
        let mut renamed = event(Action::AccountRenamed);
        renamed["detail"]
            .as_object_mut()
            .unwrap()
            .remove("requestId");
        assert!(!schema_errors(Action::AccountRenamed, &renamed).is_empty());
        let mut deleted = event(Action::UserDeleted);
        deleted["detail"]["sourceIp"] = json!("203.0.113.7");
        assert!(!schema_errors(Action::UserDeleted, &deleted).is_empty());
        let mut mfa = event(Action::MfaChanged);
        mfa["time"] = json!("yesterday");
        assert!(!schema_errors(Action::MfaChanged, &mfa).is_empty());
    }

    #[tokio::test]
    async fn a_batch_goes_out_in_order_ten_at_a_time_and_reports_nothing() {
        let (event, ids) = batch(23);
        let fake = FakePublisher::default();
        let response = publish(&fake, &event, None).await.unwrap();
        assert!(failures(&response).is_empty());
        assert_eq!(fake.published(), ids);
        let sizes: Vec<usize> = fake.calls.lock().unwrap().iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 3]);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"batchItemFailures": []})
        );
    }

    #[tokio::test]
    async fn an_entry_refused_once_is_sent_again_alone() {
        let (event, ids) = batch(12);
        let fake = FakePublisher::default();
        fake.refuse(&ids[4], 1);
        let response = publish(&fake, &event, None).await.unwrap();
        assert!(failures(&response).is_empty());
        let calls = fake.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[1], [ids[4].clone()]);
        let mut published = fake.published();
        published.sort();
        let mut expected = ids.clone();
        expected.sort();
        assert_eq!(published, expected, "each event exactly once");
    }

    #[tokio::test]
    async fn an_entry_refused_every_time_is_reported_and_nothing_after_its_chunk_is_sent() {
        let (event, ids) = batch(25);
        let fake = FakePublisher::default();
        fake.refuse(&ids[13], ATTEMPTS_PER_ENTRY);
        fake.refuse(&ids[15], ATTEMPTS_PER_ENTRY);
        let response = publish(&fake, &event, None).await.unwrap();
        // Resumes at the first refused record; the third chunk waits for the retry.
        assert_eq!(failures(&response), [sequence_of(&event, &ids[13])]);
        let published = fake.published();
        assert!(!published.contains(&ids[13]) && !published.contains(&ids[15]));
        assert!(!published.iter().any(|id| ids[20..].contains(id)));
        assert_eq!(published.len(), 18);
        let answer = serde_json::to_value(&response).unwrap();
        assert_eq!(
            answer["batchItemFailures"][0]["itemIdentifier"],
            sequence_of(&event, &ids[13])
        );
    }

    #[tokio::test]
    async fn a_failed_call_reports_the_first_record_of_its_chunk() {
        let (event, ids) = batch(15);
        let fake = FakePublisher::default();
        *fake.fail_calls.lock().unwrap() = 1;
        let response = publish(&fake, &event, None).await.unwrap();
        assert_eq!(failures(&response), [sequence_of(&event, &ids[0])]);
        assert!(fake.published().is_empty());
    }

    #[tokio::test]
    async fn an_unreadable_record_is_reported_after_the_records_before_it_are_sent() {
        let (mut event, ids) = batch(6);
        let broken = &mut event.records[2].change.new_image;
        broken.insert(
            "accountId".into(),
            serde_dynamo::AttributeValue::S("nope".into()),
        );
        let fake = FakePublisher::default();
        let response = publish(&fake, &event, None).await.unwrap();
        assert_eq!(failures(&response), [sequence_of(&event, &ids[2])]);
        assert_eq!(fake.published(), ids[..2]);
    }

    #[tokio::test]
    async fn a_batch_near_its_deadline_leaves_the_rest_for_the_retry() {
        let (event, ids) = batch(5);
        let fake = FakePublisher::default();
        let response = publish(
            &fake,
            &event,
            Some(SystemTime::now() + Duration::from_secs(1)),
        )
        .await
        .unwrap();
        assert_eq!(failures(&response), [sequence_of(&event, &ids[0])]);
        assert!(fake.published().is_empty());
    }

    #[tokio::test]
    async fn the_sample_stream_event_publishes_its_two_changes() {
        let event: StreamEvent =
            serde_json::from_str(include_str!("../../../events/publish-change-events.json"))
                .unwrap();
        let fake = FakePublisher::default();
        let response = publish(&fake, &event, None).await.unwrap();
        assert!(failures(&response).is_empty());
        assert_eq!(fake.published().len(), 2);
        let types: Vec<Decoded> = event.records.iter().map(decode_stream_record).collect();
        assert!(matches!(&types[0], Decoded::Event(e) if e.action == Action::UserInvited));
        assert!(matches!(&types[1], Decoded::Event(e) if e.action == Action::UserActivated));
    }

    #[tokio::test]
    async fn records_that_are_not_new_change_records_are_skipped() {
        let (mut event, _) = batch(3);
        for record in &mut event.records {
            record.event_name = "MODIFY".into();
        }
        let fake = FakePublisher::default();
        let response = publish(&fake, &event, None).await.unwrap();
        assert!(failures(&response).is_empty());
        assert!(fake.calls.lock().unwrap().is_empty());
    }
}
