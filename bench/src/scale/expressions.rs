//! Condition and update expressions for the fake DynamoDB: a tokenizer, a small
//! recursive-descent parser and an evaluator over items in the JSON wire format
//! (`{"name":{"S":"..."}}`).
//!
//! What is understood, as DynamoDB reads it (and no more: anything else is refused with
//! an error naming the expression, so a new pattern is noticed):
//! - conditions: `a = b`, `<>`, `<`, `<=`, `>`, `>=`, `a BETWEEN b AND c`,
//!   `a IN (b, c, ...)`, `attribute_exists(path)`, `attribute_not_exists(path)`,
//!   `begins_with(a, b)`, `AND`, `OR`, `NOT` and parentheses, with DynamoDB's precedence
//!   (NOT over AND over OR); an operand is a top-level attribute (a name or a `#name`
//!   placeholder) or a `:value` placeholder;
//! - updates: `SET p = v, q = r + s, t = u - w` (numbers), `if_not_exists(p, v)`,
//!   `REMOVE p, q`, `ADD p :number`, each clause at most once, in any order.
//!
//! Nested paths (`a.b`, `a[0]`), `size`, `contains`, `attribute_type`, `list_append`,
//! sets in `ADD`/`DELETE` and arithmetic on non-integers are refused.
//!
//! Placeholders are resolved while parsing; the ones used are recorded, so a request
//! that defines a placeholder no expression uses can be refused as DynamoDB does.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Why an expression was refused (the text of a ValidationException).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpressionError(pub String);

impl std::fmt::Display for ExpressionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type Parsed<T> = Result<T, ExpressionError>;

fn error<T>(message: impl Into<String>) -> Parsed<T> {
    Err(ExpressionError(message.into()))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A bare word: an attribute name, a keyword or a function name.
    Word(String),
    /// `#name`
    Name(String),
    /// `:value`
    Value(String),
    Punct(&'static str),
}

const PUNCTUATION: [&str; 14] = [
    "<>", "<=", ">=", "=", "<", ">", "(", ")", ",", "+", "-", ".", "[", "]",
];

fn tokenize(text: &str) -> Parsed<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut rest = text;
    let word_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '#' || c == ':' || c.is_ascii_alphabetic() || c == '_' {
            let start = usize::from(c == '#' || c == ':');
            let end = rest[start..]
                .find(|c: char| !word_char(c))
                .map_or(rest.len(), |at| at + start);
            let word = &rest[start..end];
            if word.is_empty() {
                return error(format!("a lone {c:?} in {text:?}"));
            }
            tokens.push(match c {
                '#' => Token::Name(format!("#{word}")),
                ':' => Token::Value(format!(":{word}")),
                _ => Token::Word(word.to_owned()),
            });
            rest = &rest[end..];
            continue;
        }
        match PUNCTUATION.iter().find(|p| rest.starts_with(**p)) {
            Some(punct) => {
                tokens.push(Token::Punct(punct));
                rest = &rest[punct.len()..];
            }
            None => return error(format!("unexpected {c:?} in {text:?}")),
        }
    }
    Ok(tokens)
}

/// The placeholders of one request (`ExpressionAttributeNames` and `...Values`), and
/// which of them its expressions used.
pub struct Placeholders<'a> {
    names: Option<&'a Map<String, Value>>,
    values: Option<&'a Map<String, Value>>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl<'a> Placeholders<'a> {
    /// From the request's `ExpressionAttributeNames` and `ExpressionAttributeValues`.
    pub fn of(request: &'a Value) -> Self {
        Self {
            names: request
                .get("ExpressionAttributeNames")
                .and_then(Value::as_object),
            values: request
                .get("ExpressionAttributeValues")
                .and_then(Value::as_object),
            used_names: BTreeSet::new(),
            used_values: BTreeSet::new(),
        }
    }

    fn name(&mut self, placeholder: &str) -> Parsed<String> {
        match self
            .names
            .and_then(|names| names.get(placeholder))
            .and_then(Value::as_str)
        {
            Some(name) => {
                self.used_names.insert(placeholder.to_owned());
                Ok(name.to_owned())
            }
            None => error(format!(
                "An expression attribute name used in the document path is not defined; attribute name: {placeholder}"
            )),
        }
    }

    fn value(&mut self, placeholder: &str) -> Parsed<Value> {
        match self.values.and_then(|values| values.get(placeholder)) {
            Some(value) => {
                self.used_values.insert(placeholder.to_owned());
                Ok(value.clone())
            }
            None => error(format!(
                "An expression attribute value used in expression is not defined; attribute value: {placeholder}"
            )),
        }
    }

    /// DynamoDB refuses a request that defines placeholders none of its expressions use.
    pub fn check_all_used(&self) -> Parsed<()> {
        let unused = |defined: Option<&Map<String, Value>>, used: &BTreeSet<String>| {
            defined
                .into_iter()
                .flat_map(Map::keys)
                .filter(|key| !used.contains(*key))
                .cloned()
                .collect::<Vec<_>>()
        };
        let names = unused(self.names, &self.used_names);
        if !names.is_empty() {
            return error(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                names.join(", ")
            ));
        }
        let values = unused(self.values, &self.used_values);
        if !values.is_empty() {
            return error(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                values.join(", ")
            ));
        }
        Ok(())
    }
}

/// A value in an expression: a top-level attribute of the item, or a given value.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(String),
    Value(Value),
    /// `if_not_exists(path, value)` (updates only).
    IfNotExists(String, Box<Operand>),
}

impl Operand {
    fn eval(&self, item: &Map<String, Value>) -> Option<Value> {
        match self {
            Operand::Path(name) => item.get(name).cloned(),
            Operand::Value(value) => Some(value.clone()),
            Operand::IfNotExists(name, otherwise) => {
                item.get(name).cloned().or_else(|| otherwise.eval(item))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed `ConditionExpression`.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(Operand, Comparator, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    Exists(String),
    NotExists(String),
    BeginsWith(Operand, Operand),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
}

/// The right-hand side of one `SET` action.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    Operand(Operand),
    Plus(Operand, Operand),
    Minus(Operand, Operand),
}

/// A parsed `UpdateExpression`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(String, SetValue)>,
    pub remove: Vec<String>,
    /// `ADD path :number`
    pub add: Vec<(String, Value)>,
}

struct Parser<'t, 'p, 'a> {
    text: &'t str,
    tokens: Vec<Token>,
    at: usize,
    placeholders: &'p mut Placeholders<'a>,
}

fn is_keyword(token: Option<&Token>, keyword: &str) -> bool {
    matches!(token, Some(Token::Word(word)) if word.eq_ignore_ascii_case(keyword))
}

impl Parser<'_, '_, '_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn refuse<T>(&self, what: &str) -> Parsed<T> {
        let near = match self.tokens.get(self.at) {
            Some(token) => format!("near {token:?}"),
            None => "at its end".to_owned(),
        };
        error(format!(
            "Invalid expression {:?}: {what} ({near}; the fake DynamoDB parses only the forms in bench/src/scale/expressions.rs)",
            self.text
        ))
    }

    fn expect(&mut self, punct: &str) -> Parsed<()> {
        if self.peek() == Some(&Token::Punct(punct_static(punct))) {
            self.at += 1;
            Ok(())
        } else {
            self.refuse(&format!("expected {punct:?}"))
        }
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = is_keyword(self.peek(), keyword);
        if found {
            self.at += 1;
        }
        found
    }

    fn at_punct(&self, punct: &str) -> bool {
        matches!(self.peek(), Some(Token::Punct(p)) if *p == punct)
    }

    /// A top-level attribute: a bare name or a `#name` placeholder.
    fn path(&mut self) -> Parsed<String> {
        let name = match self.next() {
            Some(Token::Word(word)) => word,
            Some(Token::Name(placeholder)) => self.placeholders.name(&placeholder)?,
            _ => {
                self.at -= 1;
                return self.refuse("expected an attribute name");
            }
        };
        if self.at_punct(".") || self.at_punct("[") {
            return self.refuse("nested document paths are not supported");
        }
        Ok(name)
    }

    fn operand(&mut self) -> Parsed<Operand> {
        match self.peek().cloned() {
            Some(Token::Value(placeholder)) => {
                self.at += 1;
                Ok(Operand::Value(self.placeholders.value(&placeholder)?))
            }
            Some(Token::Word(word)) if self.tokens.get(self.at + 1) == Some(&Token::Punct("(")) => {
                self.refuse(&format!("the function {word} is not supported here"))
            }
            Some(Token::Word(_) | Token::Name(_)) => Ok(Operand::Path(self.path()?)),
            _ => self.refuse("expected an attribute or a :value"),
        }
    }

    fn condition(&mut self) -> Parsed<Condition> {
        let mut left = self.conjunction()?;
        while self.eat_keyword("OR") {
            let right = self.conjunction()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn conjunction(&mut self) -> Parsed<Condition> {
        let mut left = self.negation()?;
        while self.eat_keyword("AND") {
            let right = self.negation()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn negation(&mut self) -> Parsed<Condition> {
        if self.eat_keyword("NOT") {
            return Ok(Condition::Not(Box::new(self.negation()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Parsed<Condition> {
        if self.at_punct("(") {
            self.at += 1;
            let inner = self.condition()?;
            self.expect(")")?;
            return Ok(inner);
        }
        if let Some(Token::Word(word)) = self.peek().cloned() {
            if self.tokens.get(self.at + 1) == Some(&Token::Punct("(")) {
                self.at += 2;
                let condition = match word.as_str() {
                    "attribute_exists" => Condition::Exists(self.path()?),
                    "attribute_not_exists" => Condition::NotExists(self.path()?),
                    "begins_with" => {
                        let whole = self.operand()?;
                        self.expect(",")?;
                        Condition::BeginsWith(whole, self.operand()?)
                    }
                    _ => {
                        self.at -= 2;
                        return self.refuse(&format!("the function {word} is not supported"));
                    }
                };
                self.expect(")")?;
                return Ok(condition);
            }
        }
        let left = self.operand()?;
        if self.eat_keyword("BETWEEN") {
            let low = self.operand()?;
            if !self.eat_keyword("AND") {
                return self.refuse("expected AND in BETWEEN");
            }
            return Ok(Condition::Between(left, low, self.operand()?));
        }
        if self.eat_keyword("IN") {
            self.expect("(")?;
            let mut list = vec![self.operand()?];
            while self.at_punct(",") {
                self.at += 1;
                list.push(self.operand()?);
            }
            self.expect(")")?;
            return Ok(Condition::In(left, list));
        }
        let comparator = match self.next() {
            Some(Token::Punct("=")) => Comparator::Eq,
            Some(Token::Punct("<>")) => Comparator::Ne,
            Some(Token::Punct("<")) => Comparator::Lt,
            Some(Token::Punct("<=")) => Comparator::Le,
            Some(Token::Punct(">")) => Comparator::Gt,
            Some(Token::Punct(">=")) => Comparator::Ge,
            _ => {
                self.at -= 1;
                return self.refuse("expected a comparison");
            }
        };
        Ok(Condition::Compare(left, comparator, self.operand()?))
    }

    /// One operand of a `SET` value: an attribute, a `:value` or `if_not_exists`.
    fn set_operand(&mut self) -> Parsed<Operand> {
        if is_keyword(self.peek(), "if_not_exists")
            && self.tokens.get(self.at + 1) == Some(&Token::Punct("("))
        {
            self.at += 2;
            let path = self.path()?;
            self.expect(",")?;
            let otherwise = self.operand()?;
            self.expect(")")?;
            return Ok(Operand::IfNotExists(path, Box::new(otherwise)));
        }
        self.operand()
    }

    fn update(&mut self) -> Parsed<Update> {
        let mut update = Update::default();
        let mut seen = BTreeSet::new();
        while self.peek().is_some() {
            let clause = match self.next() {
                Some(Token::Word(word)) => word.to_ascii_uppercase(),
                _ => {
                    self.at -= 1;
                    return self.refuse("expected SET, REMOVE or ADD");
                }
            };
            if !seen.insert(clause.clone()) {
                return error(format!(
                    "Invalid UpdateExpression: The \"{clause}\" section can only be used once in an update expression; {:?}",
                    self.text
                ));
            }
            loop {
                match clause.as_str() {
                    "SET" => {
                        let path = self.path()?;
                        self.expect("=")?;
                        let left = self.set_operand()?;
                        let value = if self.at_punct("+") {
                            self.at += 1;
                            SetValue::Plus(left, self.set_operand()?)
                        } else if self.at_punct("-") {
                            self.at += 1;
                            SetValue::Minus(left, self.set_operand()?)
                        } else {
                            SetValue::Operand(left)
                        };
                        update.set.push((path, value));
                    }
                    "REMOVE" => {
                        let path = self.path()?;
                        update.remove.push(path);
                    }
                    "ADD" => {
                        let path = self.path()?;
                        let value = match self.operand()? {
                            Operand::Value(value) if value.get("N").is_some() => value,
                            _ => {
                                return self.refuse("ADD takes a :number (sets are not supported)")
                            }
                        };
                        update.add.push((path, value));
                    }
                    _ => {
                        self.at -= 1;
                        return self.refuse(&format!("the clause {clause} is not supported"));
                    }
                }
                if self.at_punct(",") {
                    self.at += 1;
                } else {
                    break;
                }
            }
        }
        if seen.is_empty() {
            return self.refuse("an empty update");
        }
        let mut paths = BTreeSet::new();
        for path in update.paths() {
            if !paths.insert(path) {
                return error(format!(
                    "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [{path}], path two: [{path}]"
                ));
            }
        }
        Ok(update)
    }
}

fn punct_static(punct: &str) -> &'static str {
    PUNCTUATION
        .iter()
        .find(|p| **p == punct)
        .copied()
        .unwrap_or("?")
}

fn parser<'t, 'p, 'a>(
    text: &'t str,
    placeholders: &'p mut Placeholders<'a>,
) -> Parsed<Parser<'t, 'p, 'a>> {
    Ok(Parser {
        text,
        tokens: tokenize(text)?,
        at: 0,
        placeholders,
    })
}

impl Condition {
    /// Parses a `ConditionExpression`, resolving its placeholders.
    pub fn parse(text: &str, placeholders: &mut Placeholders<'_>) -> Parsed<Self> {
        let mut parser = parser(text, placeholders)?;
        if parser.tokens.is_empty() {
            return error("Invalid ConditionExpression: The expression can not be empty;");
        }
        let condition = parser.condition()?;
        if parser.peek().is_some() {
            return parser.refuse("unexpected words after the condition");
        }
        Ok(condition)
    }

    /// Whether the condition holds on `item` (`None`: no item, every attribute missing).
    pub fn holds(&self, item: Option<&Map<String, Value>>) -> bool {
        let empty = Map::new();
        self.eval(item.unwrap_or(&empty))
    }

    fn eval(&self, item: &Map<String, Value>) -> bool {
        match self {
            Condition::Compare(left, comparator, right) => {
                compare(left.eval(item), *comparator, right.eval(item))
            }
            Condition::Between(value, low, high) => {
                let value = value.eval(item);
                compare(value.clone(), Comparator::Ge, low.eval(item))
                    && compare(value, Comparator::Le, high.eval(item))
            }
            Condition::In(value, list) => {
                let value = value.eval(item);
                list.iter()
                    .any(|candidate| compare(value.clone(), Comparator::Eq, candidate.eval(item)))
            }
            Condition::Exists(name) => item.contains_key(name),
            Condition::NotExists(name) => !item.contains_key(name),
            Condition::BeginsWith(whole, prefix) => match (whole.eval(item), prefix.eval(item)) {
                (Some(whole), Some(prefix)) => match (scalar(&whole), scalar(&prefix)) {
                    (Some(("S", whole)), Some(("S", prefix))) => whole.starts_with(prefix),
                    (Some(("B", whole)), Some(("B", prefix))) => {
                        decode(whole).starts_with(&decode(prefix))
                    }
                    _ => false,
                },
                _ => false,
            },
            Condition::And(left, right) => left.eval(item) && right.eval(item),
            Condition::Or(left, right) => left.eval(item) || right.eval(item),
            Condition::Not(inner) => !inner.eval(item),
        }
    }
}

/// The type and text of a scalar attribute value (S, N, B).
fn scalar(value: &Value) -> Option<(&str, &str)> {
    let (kind, inner) = value.as_object()?.iter().next()?;
    Some((kind.as_str(), inner.as_str()?))
}

fn decode(base64: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(base64)
        .unwrap_or_default()
}

/// DynamoDB's comparison: a missing operand or operands of different types are not
/// equal and not ordered; numbers compare by value, strings and binaries by bytes;
/// other types only for (in)equality.
fn compare(left: Option<Value>, comparator: Comparator, right: Option<Value>) -> bool {
    let ordering = match (&left, &right) {
        (Some(left), Some(right)) => order(left, right),
        _ => None,
    };
    match comparator {
        Comparator::Eq => ordering == Some(Ordering::Equal),
        Comparator::Ne => ordering != Some(Ordering::Equal),
        Comparator::Lt => ordering == Some(Ordering::Less),
        Comparator::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
        Comparator::Gt => ordering == Some(Ordering::Greater),
        Comparator::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// How two attribute values compare: `Equal` for equal values of any type, an order for
/// N, S and B, `None` for different types (or unordered unequal values).
fn order(left: &Value, right: &Value) -> Option<Ordering> {
    match (scalar(left), scalar(right)) {
        (Some(("N", a)), Some(("N", b))) => Number::parse(a)?.cmp_to(&Number::parse(b)?),
        (Some(("S", a)), Some(("S", b))) => Some(a.as_bytes().cmp(b.as_bytes())),
        (Some(("B", a)), Some(("B", b))) => Some(decode(a).cmp(&decode(b))),
        _ => (left == right).then_some(Ordering::Equal),
    }
}

/// A DynamoDB number: exact for integers, as f64 otherwise (enough for comparisons; the
/// fake does arithmetic on integers only).
enum Number {
    Integer(i128),
    Decimal(f64),
}

impl Number {
    fn parse(text: &str) -> Option<Self> {
        match text.trim().parse::<i128>() {
            Ok(integer) => Some(Number::Integer(integer)),
            Err(_) => text.trim().parse::<f64>().ok().map(Number::Decimal),
        }
    }

    fn as_f64(&self) -> f64 {
        match self {
            Number::Integer(integer) => *integer as f64,
            Number::Decimal(decimal) => *decimal,
        }
    }

    fn cmp_to(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Number::Integer(a), Number::Integer(b)) => Some(a.cmp(b)),
            _ => self.as_f64().partial_cmp(&other.as_f64()),
        }
    }
}

fn integer(value: &Value) -> Result<i128, ExpressionError> {
    match scalar(value) {
        Some(("N", text)) => match Number::parse(text) {
            Some(Number::Integer(integer)) => Ok(integer),
            _ => error(format!(
                "the fake DynamoDB does arithmetic on integers only, not on {text}"
            )),
        },
        _ => error("An operand in the update expression has an incorrect data type"),
    }
}

impl Update {
    /// Parses an `UpdateExpression`, resolving its placeholders.
    pub fn parse(text: &str, placeholders: &mut Placeholders<'_>) -> Parsed<Self> {
        parser(text, placeholders)?.update()
    }

    /// Every attribute the update writes or removes.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.set
            .iter()
            .map(|(path, _)| path.as_str())
            .chain(self.remove.iter().map(String::as_str))
            .chain(self.add.iter().map(|(path, _)| path.as_str()))
    }

    /// Applies the update to `item`: every operand is read from the item as it was
    /// before, as DynamoDB does. An error leaves the item unchanged.
    pub fn apply(&self, item: &mut Map<String, Value>) -> Parsed<()> {
        let missing = |operand: &Operand| {
            let name = match operand {
                Operand::Path(name) => name.as_str(),
                _ => "?",
            };
            ExpressionError(format!(
                "The provided expression refers to an attribute that does not exist in the item: {name}"
            ))
        };
        let mut sets = Vec::new();
        for (path, value) in &self.set {
            let computed = match value {
                SetValue::Operand(operand) => operand.eval(item).ok_or_else(|| missing(operand))?,
                SetValue::Plus(left, right) | SetValue::Minus(left, right) => {
                    let a = integer(&left.eval(item).ok_or_else(|| missing(left))?)?;
                    let b = integer(&right.eval(item).ok_or_else(|| missing(right))?)?;
                    let sum = if matches!(value, SetValue::Plus(..)) {
                        a.checked_add(b)
                    } else {
                        a.checked_sub(b)
                    };
                    let sum = sum.ok_or_else(|| ExpressionError("Number overflow".into()))?;
                    serde_json::json!({ "N": sum.to_string() })
                }
            };
            sets.push((path.clone(), computed));
        }
        let mut adds = Vec::new();
        for (path, value) in &self.add {
            let added = match item.get(path) {
                None => value.clone(),
                Some(existing) => {
                    let sum = integer(existing)?
                        .checked_add(integer(value)?)
                        .ok_or_else(|| ExpressionError("Number overflow".into()))?;
                    serde_json::json!({ "N": sum.to_string() })
                }
            };
            adds.push((path.clone(), added));
        }
        for (path, value) in sets.into_iter().chain(adds) {
            item.insert(path, value);
        }
        for path in &self.remove {
            item.remove(path);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(names: Value, values: Value) -> Value {
        json!({ "ExpressionAttributeNames": names, "ExpressionAttributeValues": values })
    }

    fn holds(text: &str, request: &Value, item: &Value) -> Result<bool, ExpressionError> {
        let mut placeholders = Placeholders::of(request);
        let condition = Condition::parse(text, &mut placeholders)?;
        placeholders.check_all_used()?;
        Ok(condition.holds(item.as_object()))
    }

    #[test]
    fn conditions_of_the_product() {
        let item = json!({
            "pk": {"S": "ACCOUNT#1"}, "sk": {"S": "USER#2"},
            "status": {"N": "1"}, "deleted": {"BOOL": false}, "sends": {"N": "4"},
            "windowStart": {"N": "100"}, "usedAdminUsers": {"N": "2"},
            "limitAdminUsers": {"N": "10"}, "tokenHash": {"S": "abc"},
        });
        let values = json!({
            ":false": {"BOOL": false}, ":active": {"N": "1"}, ":cutoff": {"N": "50"},
            ":limit": {"N": "5"}, ":hash": {"S": "abc"}, ":now": {"N": "200"},
        });
        let names = json!({"#status": "status", "#start": "windowStart", "#sends": "sends"});
        let all = request(names.clone(), values.clone());
        let case = |text: &str, names: Value, values: Value| {
            holds(text, &request(names, values), &item).unwrap()
        };
        assert!(case("attribute_exists(pk)", json!(null), json!(null)));
        assert!(!case("attribute_not_exists(pk)", json!(null), json!(null)));
        assert!(case(
            "#start > :cutoff AND #sends < :limit",
            json!({"#start": "windowStart", "#sends": "sends"}),
            json!({":cutoff": {"N": "50"}, ":limit": {"N": "5"}})
        ));
        assert!(!case(
            "attribute_not_exists(pk) OR #start <= :cutoff",
            json!({"#start": "windowStart"}),
            json!({":cutoff": {"N": "50"}})
        ));
        assert!(holds(
            "attribute_exists(pk) AND deleted = :false AND #status = :active \
             AND (attribute_not_exists(mfaLease) OR mfaLeaseUntil < :now) AND tokenHash = :hash \
             AND #start > :cutoff AND #sends < :limit",
            &all,
            &item
        )
        .unwrap());
        // Two attributes compared; NOT; missing attributes are unequal to anything.
        assert!(case(
            "attribute_exists(pk) AND #to < #limit",
            json!({"#to": "usedAdminUsers", "#limit": "limitAdminUsers"}),
            json!(null)
        ));
        assert!(case(
            "NOT nothing = :x",
            json!(null),
            json!({":x": {"S": "a"}})
        ));
        assert!(case(
            "nothing <> :x",
            json!(null),
            json!({":x": {"S": "a"}})
        ));
        assert!(!case(
            "nothing < :x",
            json!(null),
            json!({":x": {"S": "a"}})
        ));
        // Numbers compare by value; types never match across.
        assert!(case("sends = :x", json!(null), json!({":x": {"N": "4.0"}})));
        assert!(!case("sends = :x", json!(null), json!({":x": {"S": "4"}})));
        assert!(case(
            "begins_with(sk, :p)",
            json!(null),
            json!({":p": {"S": "USER#"}})
        ));
        assert!(case(
            "sends BETWEEN :a AND :b OR sends IN (:a)",
            json!(null),
            json!({":a": {"N": "3"}, ":b": {"N": "9"}})
        ));
        // Precedence: NOT over AND over OR.
        assert!(case(
            "attribute_exists(pk) OR attribute_exists(x) AND attribute_exists(y)",
            json!(null),
            json!(null)
        ));
        // No item: every attribute missing.
        let nothing = json!({});
        let mut placeholders = Placeholders::of(&nothing);
        let condition = Condition::parse("attribute_not_exists(pk)", &mut placeholders).unwrap();
        assert!(condition.holds(None));
    }

    #[test]
    fn unknown_forms_and_placeholders_are_refused() {
        let none = json!({});
        for text in [
            "size(a) > :x",
            "contains(a, :x)",
            "a.b = :x",
            "a[0] = :x",
            "a = ",
            "a = :x extra",
            "",
        ] {
            let values = json!({"ExpressionAttributeValues": {":x": {"N": "1"}}});
            assert!(holds(text, &values, &none).is_err(), "{text}");
        }
        let undefined = holds("#a = :x", &json!({}), &none).unwrap_err();
        assert!(undefined.0.contains("#a"), "{undefined}");
        let unused = holds(
            "a = :x",
            &request(json!(null), json!({":x": {"N": "1"}, ":y": {"N": "2"}})),
            &none,
        )
        .unwrap_err();
        assert!(unused.0.contains(":y"), "{unused}");
    }

    fn updated(text: &str, request: &Value, item: Value) -> Result<Value, ExpressionError> {
        let mut placeholders = Placeholders::of(request);
        let update = Update::parse(text, &mut placeholders)?;
        placeholders.check_all_used()?;
        let mut item = item.as_object().cloned().unwrap_or_default();
        update.apply(&mut item)?;
        Ok(Value::Object(item))
    }

    #[test]
    fn updates_of_the_product() {
        let item = json!({"pk": {"S": "A"}, "sends": {"N": "4"}, "lease": {"S": "x"}, "until": {"N": "9"}});
        let values = json!({":one": {"N": "1"}, ":now": {"S": "today"}});
        let done = updated(
            "SET #sends = #sends + :one, updateDate = :now REMOVE lease, #until",
            &request(json!({"#sends": "sends", "#until": "until"}), values),
            item.clone(),
        )
        .unwrap();
        assert_eq!(
            done,
            json!({"pk": {"S": "A"}, "sends": {"N": "5"}, "updateDate": {"S": "today"}})
        );
        let done = updated(
            "ADD #total :n, fresh :n SET #kind = :kind, other = if_not_exists(sends, :n), c = sends - :n",
            &request(
                json!({"#total": "sends", "#kind": "kind"}),
                json!({":n": {"N": "3"}, ":kind": {"S": "day"}}),
            ),
            item.clone(),
        )
        .unwrap();
        assert_eq!(done["sends"], json!({"N": "7"}));
        assert_eq!(done["fresh"], json!({"N": "3"}));
        assert_eq!(done["other"], json!({"N": "4"}));
        assert_eq!(done["c"], json!({"N": "1"}));
        assert_eq!(done["kind"], json!({"S": "day"}));

        // Arithmetic on a missing attribute, or on a string, is an error.
        let values = json!({":one": {"N": "1"}});
        assert!(updated(
            "SET a = nothing + :one",
            &request(json!(null), values.clone()),
            item.clone()
        )
        .is_err());
        assert!(updated(
            "SET a = lease + :one",
            &request(json!(null), values.clone()),
            item.clone()
        )
        .is_err());
        // Clauses once; paths once; unsupported forms refused.
        assert!(updated(
            "SET a = :one SET b = :one",
            &request(json!(null), values.clone()),
            item.clone()
        )
        .is_err());
        assert!(updated(
            "SET a = :one REMOVE a",
            &request(json!(null), values.clone()),
            item.clone()
        )
        .is_err());
        assert!(updated(
            "DELETE a :one",
            &request(json!(null), values.clone()),
            item.clone()
        )
        .is_err());
        assert!(updated(
            "SET a = list_append(a, :one)",
            &request(json!(null), values.clone()),
            item.clone()
        )
        .is_err());
        assert!(updated("SET a.b = :one", &request(json!(null), values), item).is_err());
    }
}
