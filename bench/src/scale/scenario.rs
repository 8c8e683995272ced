//! What the bench asks of the two list functions, as API Gateway events, and what the
//! answers must be, computed from the generated account.

use serde_json::{Map, Value};

use super::account::Account;
use shared::adapters::db::model::UserItem;
use shared::domain::UserId;

/// The two list functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    GetAllUsers,
    GetAllUsersWithDetails,
}

impl Endpoint {
    pub const ALL: [Endpoint; 2] = [Endpoint::GetAllUsers, Endpoint::GetAllUsersWithDetails];

    /// The function's binary.
    pub fn function(self) -> &'static str {
        match self {
            Endpoint::GetAllUsers => "get-all-users",
            Endpoint::GetAllUsersWithDetails => "get-all-users-with-details",
        }
    }

    /// The endpoint's name in the API's paths.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::GetAllUsers => "get_all_users",
            Endpoint::GetAllUsersWithDetails => "get_all_users_with_details",
        }
    }

    /// The function's sample event, whose shape the bench's events copy.
    fn sample_event(self) -> &'static str {
        match self {
            Endpoint::GetAllUsers => include_str!("../../../events/get-all-users.json"),
            Endpoint::GetAllUsersWithDetails => {
                include_str!("../../../events/get-all-users-with-details.json")
            }
        }
    }
}

/// The list's sort fields the scenarios use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortBy {
    CreateDate,
    LastName,
}

/// One kind of list request.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    sort: SortBy,
    descending: bool,
    include_deleted: bool,
    /// Lower-case substring of the username.
    username: Option<String>,
    /// 1-based.
    page: usize,
    page_size: usize,
}

impl Scenario {
    /// No parameters: page 1 of 50, newest first, deleted users left out.
    pub fn default_list() -> Self {
        Self {
            name: "default".to_owned(),
            sort: SortBy::CreateDate,
            descending: true,
            include_deleted: false,
            username: None,
            page: 1,
            page_size: 50,
        }
    }

    /// Every scenario, for an account of `size` users; the first is the default.
    pub fn all(size: usize) -> Vec<Self> {
        let filter = username_filter(size);
        vec![
            Self::default_list(),
            Self {
                name: "LastName asc, deleted, page 5 of 200".to_owned(),
                sort: SortBy::LastName,
                descending: false,
                include_deleted: true,
                page: 5,
                page_size: 200,
                ..Self::default_list()
            },
            Self {
                name: format!("username={filter}"),
                username: Some(filter),
                ..Self::default_list()
            },
        ]
    }

    /// The query string parameters, as a client sends them.
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if self.sort == SortBy::LastName {
            query.push(("sortfield", "LastName".to_owned()));
        }
        if !self.descending {
            query.push(("descending", "false".to_owned()));
        }
        if self.include_deleted {
            query.push(("deleted", "true".to_owned()));
        }
        if self.page != 1 {
            query.push(("page", self.page.to_string()));
        }
        if self.page_size != 50 {
            query.push(("pagesize", self.page_size.to_string()));
        }
        if let Some(username) = &self.username {
            query.push(("username", username.clone()));
        }
        query
    }

    /// The HTTP API event of this request by the Cognito user `sub`.
    pub fn event(&self, endpoint: Endpoint, sub: &str) -> String {
        let event: Value =
            serde_json::from_str(endpoint.sample_event()).expect("the sample event is JSON");
        request_event(event, self.query(), sub)
    }

    /// The page the list must answer, in order, and the number of matches.
    pub fn expected(&self, users: &[UserItem]) -> (Vec<UserId>, usize) {
        let mut matches: Vec<&UserItem> = users
            .iter()
            .filter(|user| self.include_deleted || !user.deleted)
            .filter(|user| {
                self.username
                    .as_deref()
                    .is_none_or(|part| user.username.as_str().contains(part))
            })
            .collect();
        // The documented order: the field, ties by id; descending reverses both.
        matches.sort_by_cached_key(|user| {
            let field = match self.sort {
                SortBy::CreateDate => user.create_date.clone(),
                SortBy::LastName => user.lastname.to_lowercase(),
            };
            (field, user.id)
        });
        if self.descending {
            matches.reverse();
        }
        let total = matches.len();
        let start = ((self.page - 1) * self.page_size).min(total);
        let end = (start + self.page_size).min(total);
        (
            matches[start..end].iter().map(|user| user.id).collect(),
            total,
        )
    }

    /// Checks an answer: 200, the exact total, the expected users in order, and with
    /// details, each user's number of groups, project and drive permissions.
    pub fn check(
        &self,
        endpoint: Endpoint,
        account: &Account,
        expected: &(Vec<UserId>, usize),
        status: u16,
        body: &str,
    ) -> Result<(), String> {
        let short = || body.chars().take(500).collect::<String>();
        if status != 200 {
            return Err(format!("status {status}, body {}", short()));
        }
        let answer: Value = serde_json::from_str(body)
            .map_err(|e| format!("body is not JSON ({e}): {}", short()))?;
        let (ids, total) = expected;
        if answer["total"].as_u64() != Some(*total as u64) {
            return Err(format!(
                "total {} where {total} was expected",
                answer["total"]
            ));
        }
        let rows = answer["data"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if rows.len() != ids.len() {
            return Err(format!(
                "{} rows where {} were expected",
                rows.len(),
                ids.len()
            ));
        }
        for (position, (row, id)) in rows.iter().zip(ids).enumerate() {
            if row["id"].as_str() != Some(id.to_string().as_str()) {
                return Err(format!(
                    "row {position} is user {} where {id} was expected",
                    row["id"]
                ));
            }
            if endpoint == Endpoint::GetAllUsersWithDetails {
                let relations = account.relations[id];
                let count = |field: &str| row[field].as_array().map_or(0, Vec::len);
                let found = (count("groups"), count("projectsData"), count("drivesData"));
                let wanted = (relations.groups, relations.projects, relations.drives);
                if found != wanted {
                    return Err(format!(
                        "user {id} has (groups, projects, drives) {found:?} where {wanted:?} were expected"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A username substring that about 300 users of an account of `size` have: the first
/// digits of "1234..." (usernames end in the user's number, 1 to `size`), one digit per
/// power of ten above 1,000.
pub fn username_filter(size: usize) -> String {
    let digits = size.to_string().len().saturating_sub(3).max(1);
    "1234567890".chars().take(digits).collect()
}

/// `event` (an HTTP API sample event) with this query string and the access-token claims
/// of the Cognito user `sub`: the request a bench scenario sends.
pub fn request_event(mut event: Value, query: Vec<(&'static str, String)>, sub: &str) -> String {
    // Times hold ':' (encoded in a raw query string as a client would send it).
    let raw: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(':', "%3A")))
        .collect();
    event["rawQueryString"] = Value::from(raw.join("&"));
    let object = event.as_object_mut().expect("an object");
    if query.is_empty() {
        // API Gateway leaves the field out when there is no query string.
        object.remove("queryStringParameters");
    } else {
        let parameters: Map<String, Value> = query
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::from(v)))
            .collect();
        object.insert("queryStringParameters".to_owned(), parameters.into());
    }
    let claims = &mut event["requestContext"]["authorizer"]["jwt"]["claims"];
    claims["sub"] = Value::from(sub);
    claims["username"] = Value::from(sub);
    claims["token_use"] = Value::from("access");
    event.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scale::account;
    use serde_json::json;

    #[test]
    fn filters_match_about_300_users_at_every_size() {
        assert_eq!(username_filter(1_000), "1");
        assert_eq!(username_filter(10_000), "12");
        assert_eq!(username_filter(100_000), "123");
        assert_eq!(username_filter(50), "1");
    }

    #[test]
    fn answers_are_checked_against_the_generated_account() {
        let account = account::build(300, 7, true, &mut |_| {}).unwrap();
        let scenario = &Scenario::all(300)[1];
        let expected = scenario.expected(&account.users);
        // All 300 users (deleted ones too) by last name, page 5 of 200: none left.
        assert_eq!(expected, (Vec::new(), 300));
        let default = Scenario::default_list();
        let expected = default.expected(&account.users);
        let live = account.users.iter().filter(|user| !user.deleted).count();
        assert_eq!((expected.0.len(), expected.1), (50, live));

        let rows = |ids: &[UserId]| -> Vec<Value> {
            ids.iter()
                .map(|id| {
                    let relations = account.relations[id];
                    json!({
                        "id": id.to_string(),
                        "groups": vec![json!({}); relations.groups],
                        "projectsData": vec![json!({}); relations.projects],
                        "drivesData": vec![json!({}); relations.drives],
                    })
                })
                .collect()
        };
        let check = |endpoint, total: usize, data: Vec<Value>| {
            let body = json!({ "data": data, "total": total }).to_string();
            default.check(endpoint, &account, &expected, 200, &body)
        };
        let details = Endpoint::GetAllUsersWithDetails;
        assert_eq!(check(details, live, rows(&expected.0)), Ok(()));
        assert!(check(details, live + 1, rows(&expected.0)).is_err());
        let mut swapped = expected.0.clone();
        swapped.swap(0, 1);
        assert!(check(details, live, rows(&swapped)).is_err());
        let mut fewer_groups = rows(&expected.0);
        fewer_groups[3]["groups"] = json!([]);
        assert!(check(details, live, fewer_groups).is_err());
        assert!(default
            .check(Endpoint::GetAllUsers, &account, &expected, 500, "{}")
            .is_err());
    }
}
