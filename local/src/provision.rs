//! Creates the table, user pool, app client and sender identity in the emulator from the
//! definitions in `template.yaml`: the template is the one source of truth.

use aws_sdk_cognitoidentityprovider::types::{
    ExplicitAuthFlowsType, PasswordPolicyType, SoftwareTokenMfaConfigType, UserPoolMfaType,
    UserPoolPolicyType, UsernameAttributeType,
};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use serde_yaml::Value;
use std::path::Path;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The parts of `template.yaml` the local stack provisions.
#[derive(Debug, Clone, PartialEq)]
pub struct Definitions {
    pub table_attributes: Vec<(String, String)>,
    pub table_keys: Vec<(String, String)>,
    pub table_indexes: usize,
    pub ttl_attribute: String,
    pub username_attributes: Vec<String>,
    pub mfa_configuration: String,
    pub password_policy: PasswordPolicy,
    pub auth_flows: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PasswordPolicy {
    pub minimum_length: i32,
    pub require_lowercase: bool,
    pub require_uppercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
}

fn properties<'a>(template: &'a Value, resource: &str) -> Result<&'a Value, BoxError> {
    template["Resources"][resource]
        .get("Properties")
        .ok_or_else(|| format!("template.yaml has no Resources.{resource}.Properties").into())
}

fn strings(value: &Value, what: &str) -> Result<Vec<String>, BoxError> {
    value
        .as_sequence()
        .ok_or_else(|| format!("template.yaml: {what} is not a list"))?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("template.yaml: {what} holds a non-string").into())
        })
        .collect()
}

fn pairs(value: &Value, a: &str, b: &str, what: &str) -> Result<Vec<(String, String)>, BoxError> {
    value
        .as_sequence()
        .ok_or_else(|| format!("template.yaml: {what} is not a list"))?
        .iter()
        .map(|v| match (v[a].as_str(), v[b].as_str()) {
            (Some(x), Some(y)) => Ok((x.to_owned(), y.to_owned())),
            _ => Err(format!("template.yaml: {what} entries need {a} and {b}").into()),
        })
        .collect()
}

impl Definitions {
    pub fn load(path: &Path) -> Result<Self, BoxError> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, BoxError> {
        let template: Value = serde_yaml::from_str(text)?;
        let table = properties(&template, "UsersTable")?;
        let pool = properties(&template, "UserPool")?;
        let client = properties(&template, "UserPoolClient")?;
        let policy = &pool["Policies"]["PasswordPolicy"];
        let flag = |name: &str| policy[name].as_bool().unwrap_or(false);
        Ok(Self {
            table_attributes: pairs(
                &table["AttributeDefinitions"],
                "AttributeName",
                "AttributeType",
                "AttributeDefinitions",
            )?,
            table_keys: pairs(&table["KeySchema"], "AttributeName", "KeyType", "KeySchema")?,
            table_indexes: table["GlobalSecondaryIndexes"]
                .as_sequence()
                .map_or(0, Vec::len),
            ttl_attribute: table["TimeToLiveSpecification"]["AttributeName"]
                .as_str()
                .ok_or("template.yaml: UsersTable has no TTL attribute")?
                .to_owned(),
            username_attributes: strings(&pool["UsernameAttributes"], "UsernameAttributes")?,
            mfa_configuration: pool["MfaConfiguration"]
                .as_str()
                .unwrap_or("OFF")
                .to_owned(),
            password_policy: PasswordPolicy {
                minimum_length: policy["MinimumLength"].as_i64().unwrap_or(8) as i32,
                require_lowercase: flag("RequireLowercase"),
                require_uppercase: flag("RequireUppercase"),
                require_numbers: flag("RequireNumbers"),
                require_symbols: flag("RequireSymbols"),
            },
            auth_flows: strings(&client["ExplicitAuthFlows"], "ExplicitAuthFlows")?,
        })
    }
}

/// What was created.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub table_name: String,
    pub user_pool_id: String,
    pub user_pool_client_id: String,
    /// The SES configuration set (the template's `EmailConfigurationSet`), named like the table.
    pub configuration_set: String,
    /// The change event bus (the template's `ChangeEventBus`), named like the table.
    pub event_bus_name: String,
}

/// Creates the resources in the emulator (or any account the SDK config points at).
pub async fn provision(
    sdk: &aws_config::SdkConfig,
    definitions: &Definitions,
    table_name: &str,
    pool_name: &str,
    sender: &str,
) -> Result<Provisioned, BoxError> {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    if definitions.table_indexes > 0 {
        return Err(
            "template.yaml declares global secondary indexes the local stack does not create"
                .into(),
        );
    }
    let mut create = dynamodb
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest);
    for (name, kind) in &definitions.table_attributes {
        create = create.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()?,
        );
    }
    for (name, kind) in &definitions.table_keys {
        create = create.key_schema(
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(kind.as_str()))
                .build()?,
        );
    }
    create.send().await?;
    dynamodb
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(&definitions.ttl_attribute)
                .enabled(true)
                .build()?,
        )
        .send()
        .await?;

    let cognito = aws_sdk_cognitoidentityprovider::Client::new(sdk);
    let policy = &definitions.password_policy;
    let mut pool = cognito
        .create_user_pool()
        .pool_name(pool_name)
        .mfa_configuration(UserPoolMfaType::from(
            definitions.mfa_configuration.as_str(),
        ))
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(
                    PasswordPolicyType::builder()
                        .minimum_length(policy.minimum_length)
                        .require_lowercase(policy.require_lowercase)
                        .require_uppercase(policy.require_uppercase)
                        .require_numbers(policy.require_numbers)
                        .require_symbols(policy.require_symbols)
                        .build(),
                )
                .build(),
        );
    for attribute in &definitions.username_attributes {
        pool = pool.username_attributes(UsernameAttributeType::from(attribute.as_str()));
    }
    let pool_id = pool
        .send()
        .await?
        .user_pool
        .and_then(|p| p.id)
        .ok_or("CreateUserPool returned no id")?;
    if definitions.mfa_configuration != "OFF" {
        cognito
            .set_user_pool_mfa_config()
            .user_pool_id(&pool_id)
            .mfa_configuration(UserPoolMfaType::from(
                definitions.mfa_configuration.as_str(),
            ))
            .software_token_mfa_configuration(
                SoftwareTokenMfaConfigType::builder().enabled(true).build(),
            )
            .send()
            .await?;
    }
    let mut client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name(format!("{pool_name}-client"));
    for flow in &definitions.auth_flows {
        client = client.explicit_auth_flows(ExplicitAuthFlowsType::from(flow.as_str()));
    }
    let client_id = client
        .send()
        .await?
        .user_pool_client
        .and_then(|c| c.client_id)
        .ok_or("CreateUserPoolClient returned no id")?;

    let ses = aws_sdk_sesv2::Client::new(sdk);
    ses.create_email_identity()
        .email_identity(sender)
        .send()
        .await?;
    // The functions' SES_CONFIGURATION_SET names it; mail sent through a set that does not
    // exist would be refused.
    let configuration_set = format!("{table_name}-mail");
    ses.create_configuration_set()
        .configuration_set_name(&configuration_set)
        .send()
        .await?;
    // The publisher's EVENT_BUS_NAME names it; events put on a bus that does not exist
    // would be refused.
    let event_bus_name = format!("{table_name}-changes");
    aws_sdk_eventbridge::Client::new(sdk)
        .create_event_bus()
        .name(&event_bus_name)
        .send()
        .await?;
    Ok(Provisioned {
        table_name: table_name.to_owned(),
        user_pool_id: pool_id,
        user_pool_client_id: client_id,
        configuration_set,
        event_bus_name,
    })
}
