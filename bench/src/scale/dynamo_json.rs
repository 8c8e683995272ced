//! Items in DynamoDB's JSON wire format (`{"name":{"S":"..."}}`), converted from the SDK's
//! `AttributeValue`s, and their size as DynamoDB counts it for read units and the 1 MB
//! Query page.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{json, Map, Value};

use shared::adapters::db::Item;

/// An SDK item as the wire JSON the SDK sends and parses.
pub fn item_json(item: &Item) -> Map<String, Value> {
    item.iter()
        .map(|(name, value)| (name.clone(), attribute_json(value)))
        .collect()
}

fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(text) => json!({ "S": text }),
        AttributeValue::N(number) => json!({ "N": number }),
        AttributeValue::B(blob) => json!({ "B": BASE64.encode(blob.as_ref()) }),
        AttributeValue::Bool(flag) => json!({ "BOOL": flag }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::M(map) => json!({ "M": item_json(map) }),
        AttributeValue::L(list) => {
            json!({ "L": list.iter().map(attribute_json).collect::<Vec<_>>() })
        }
        AttributeValue::Ss(texts) => json!({ "SS": texts }),
        AttributeValue::Ns(numbers) => json!({ "NS": numbers }),
        AttributeValue::Bs(blobs) => {
            json!({ "BS": blobs.iter().map(|b| BASE64.encode(b.as_ref())).collect::<Vec<_>>() })
        }
        other => panic!("an attribute type the fake DynamoDB does not know: {other:?}"),
    }
}

/// Bytes of an item by AWS's rules: per attribute, the UTF-8 length of its name plus
/// the size of its value.
pub fn item_size(item: &Map<String, Value>) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

/// S: its UTF-8 bytes; N: about one byte per two significant digits, plus one; B: the
/// raw bytes; BOOL and NULL: one; M and L: 3 plus one per element plus the elements
/// (with their names, for M); sets: the sum of their elements.
fn value_size(value: &Value) -> u64 {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        panic!("not an attribute value: {value}");
    };
    let text = || inner.as_str().unwrap_or_default();
    let texts = || {
        inner
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    };
    match kind.as_str() {
        "S" => text().len() as u64,
        "N" => number_size(text()),
        "B" => blob_size(text()),
        "BOOL" | "NULL" => 1,
        "M" => {
            3 + inner
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, v)| name.len() as u64 + value_size(v) + 1)
                .sum::<u64>()
        }
        "L" => {
            3 + inner
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| value_size(v) + 1)
                .sum::<u64>()
        }
        "SS" => texts().map(|t| t.len() as u64).sum(),
        "NS" => texts().map(number_size).sum(),
        "BS" => texts().map(blob_size).sum(),
        other => panic!("an attribute type the fake DynamoDB does not know: {other}"),
    }
}

fn number_size(number: &str) -> u64 {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let mantissa = match number.find(['e', 'E']) {
        Some(exponent) => {
            &digits[..number[..exponent]
                .chars()
                .filter(char::is_ascii_digit)
                .count()]
        }
        None => &digits,
    };
    let significant = mantissa.trim_start_matches('0').trim_end_matches('0').len() as u64;
    significant.div_ceil(2) + 1
}

/// The decoded length of standard, padded base64.
fn blob_size(encoded: &str) -> u64 {
    let padding = encoded.bytes().rev().take_while(|&b| b == b'=').count();
    (encoded.len() / 4 * 3 - padding) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn sizes_follow_the_aws_rules() {
        let item: Item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("ACCOUNT#1".into())),
            ("n".to_owned(), AttributeValue::N("12345".into())),
            ("b".to_owned(), AttributeValue::B(vec![0u8; 10].into())),
            ("t".to_owned(), AttributeValue::Bool(true)),
            ("x".to_owned(), AttributeValue::Null(true)),
            (
                "m".to_owned(),
                AttributeValue::M(HashMap::from([(
                    "ab".to_owned(),
                    AttributeValue::S("xyz".into()),
                )])),
            ),
            (
                "l".to_owned(),
                AttributeValue::L(vec![
                    AttributeValue::N("0.5".into()),
                    AttributeValue::Bool(false),
                ]),
            ),
        ]);
        let json = item_json(&item);
        assert_eq!(json["b"], json!({ "B": "AAAAAAAAAAAAAA==" }));
        let expected = (2 + 9) // pk
            + (1 + 4) // n: 5 digits -> 3 + 1
            + (1 + 10) // b
            + (1 + 1) // t
            + (1 + 1) // x
            + (1 + 3 + 2 + 3 + 1) // m
            + (1 + 3 + 2 + 1 + 1 + 1); // l: "0.5" -> 1 digit -> 2
        assert_eq!(item_size(&json), expected);
    }

    #[test]
    fn numbers_count_significant_digits_only() {
        assert_eq!(number_size("0"), 1);
        assert_eq!(number_size("100"), 2);
        assert_eq!(number_size("-12.50"), 3);
        assert_eq!(number_size("1.2345e10"), 4);
    }
}
