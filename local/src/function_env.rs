//! The environment `template.yaml` gives each function (the `Globals` variables, then the
//! function's own), resolved against a local stack the way CloudFormation resolves it
//! against a deployed one; plus what the Lambda service itself adds. One source for the
//! binaries under the Runtime API in the tests, `.local/env.json` for `sam local invoke`
//! and `make invoke`.

use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::Path;

use crate::provision::BoxError;

/// A function of the template: its logical id, the binary it runs and its environment
/// variables as written (`!Ref` and friends unresolved).
#[derive(Debug, Clone)]
pub struct TemplateFunction {
    pub logical_id: String,
    pub binary: String,
    variables: Vec<(String, Value)>,
}

/// Every `AWS::Serverless::Function` of the template, in template order.
pub fn template_functions(text: &str) -> Result<Vec<TemplateFunction>, BoxError> {
    let template: Value = serde_yaml::from_str(text)?;
    let globals = variables(&template["Globals"]["Function"]);
    let resources = template["Resources"]
        .as_mapping()
        .ok_or("template.yaml has no Resources")?;
    let mut functions = Vec::new();
    for (id, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let logical_id = id.as_str().ok_or("a non-string logical id")?.to_owned();
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .ok_or_else(|| format!("{logical_id} has no Metadata.BuildProperties.Binary"))?
            .to_owned();
        // A function's own variable replaces the global one of the same name, as in SAM.
        let mut merged = globals.clone();
        for (name, value) in variables(&resource["Properties"]) {
            merged.retain(|(existing, _)| *existing != name);
            merged.push((name, value));
        }
        functions.push(TemplateFunction {
            logical_id,
            binary,
            variables: merged,
        });
    }
    Ok(functions)
}

/// Loads `template.yaml` and returns its functions.
pub fn load_template_functions(path: &Path) -> Result<Vec<TemplateFunction>, BoxError> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    template_functions(&text)
}

fn variables(section: &Value) -> Vec<(String, Value)> {
    section["Environment"]["Variables"]
        .as_mapping()
        .map(|mapping| {
            mapping
                .iter()
                .filter_map(|(name, value)| Some((name.as_str()?.to_owned(), value.clone())))
                .collect()
        })
        .unwrap_or_default()
}

/// What the template's references stand for in one stack: parameter values, the physical
/// ids of resources (`!Ref`) and their attributes (`!GetAtt`), and the pseudo parameters.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    pub parameters: BTreeMap<String, String>,
    pub resources: BTreeMap<String, String>,
    pub attributes: BTreeMap<String, String>,
    pub region: String,
    pub account_id: String,
    /// `AWS::StackName`: the local stack's name.
    pub stack_name: String,
}

impl Bindings {
    /// The template's parameter defaults, then `overrides` (as `--parameter-overrides`).
    pub fn with_defaults(
        template_text: &str,
        overrides: &[(&str, String)],
    ) -> Result<Self, BoxError> {
        let template: Value = serde_yaml::from_str(template_text)?;
        let mut parameters = BTreeMap::new();
        if let Some(declared) = template["Parameters"].as_mapping() {
            for (name, parameter) in declared {
                if let (Some(name), Some(default)) = (name.as_str(), scalar(&parameter["Default"]))
                {
                    parameters.insert(name.to_owned(), default);
                }
            }
        }
        for (name, value) in overrides {
            parameters.insert((*name).to_owned(), value.clone());
        }
        Ok(Self {
            parameters,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            stack_name: "users-local".into(),
            ..Self::default()
        })
    }

    fn reference(&self, name: &str) -> Result<String, BoxError> {
        match name {
            "AWS::Region" => return Ok(self.region.clone()),
            "AWS::AccountId" => return Ok(self.account_id.clone()),
            "AWS::Partition" => return Ok("aws".into()),
            "AWS::StackName" => return Ok(self.stack_name.clone()),
            _ => {}
        }
        self.parameters
            .get(name)
            .or_else(|| self.resources.get(name))
            .cloned()
            .ok_or_else(|| {
                format!("!Ref {name}: no such parameter with a value, or resource").into()
            })
    }

    fn attribute(&self, name: &str) -> Result<String, BoxError> {
        self.attributes
            .get(name)
            .cloned()
            .ok_or_else(|| format!("!GetAtt {name}: unknown locally").into())
    }

    /// The value of a template expression: a scalar, `!Ref`, `!GetAtt` or `!Sub`.
    pub fn resolve(&self, value: &Value) -> Result<String, BoxError> {
        if let Some(text) = scalar(value) {
            return Ok(text);
        }
        let Value::Tagged(tagged) = value else {
            return Err(format!("cannot resolve {value:?}").into());
        };
        let argument = tagged
            .value
            .as_str()
            .ok_or("a tag without a string argument")?;
        match tagged.tag.to_string().trim_start_matches('!') {
            "Ref" => self.reference(argument),
            "GetAtt" => self.attribute(argument),
            "Sub" => self.substitute(argument),
            other => Err(format!("!{other} is not resolved locally").into()),
        }
    }

    fn substitute(&self, text: &str) -> Result<String, BoxError> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').ok_or("!Sub: unclosed ${")? + start;
            let name = &rest[start + 2..end];
            if name.contains('.') {
                out.push_str(&self.attribute(name)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

impl TemplateFunction {
    /// The function's variables with every reference resolved, as Lambda would set them.
    pub fn environment(&self, bindings: &Bindings) -> Result<BTreeMap<String, String>, BoxError> {
        self.variables
            .iter()
            .map(|(name, value)| {
                let resolved = bindings
                    .resolve(value)
                    .map_err(|e| format!("{}: {name}: {e}", self.logical_id))?;
                Ok((name.clone(), resolved))
            })
            .collect()
    }
}

/// What the Lambda service sets beside the template's variables, pointed at an emulator:
/// region, dummy credentials (never the developer's own) and the endpoint.
pub fn lambda_service_environment(
    function_name: &str,
    region: &str,
    emulator_endpoint: &str,
) -> BTreeMap<String, String> {
    [
        ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function_name}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "local".into()),
        // template.yaml's LoggingConfig.LogFormat.
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        ("AWS_REGION", region.to_owned()),
        ("AWS_DEFAULT_REGION", region.to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".into()),
        ("AWS_SECRET_ACCESS_KEY", "local".into()),
        ("AWS_ENDPOINT_URL", emulator_endpoint.to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Sender:
    Type: String
  Level:
    Type: String
    Default: info
Globals:
  Function:
    Environment:
      Variables:
        TABLE: !Ref Table
        LEVEL: !Ref Level
        SENDER: !Ref Sender
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  OneFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: one
    Properties:
      Environment:
        Variables:
          LEVEL: debug
          ARN: !GetAtt Table.Arn
          URL: !Sub https://${Table}.${AWS::Region}.example.com
"#;

    #[test]
    fn a_function_gets_the_global_variables_its_own_replace_and_references_resolved() {
        let functions = template_functions(TEMPLATE).unwrap();
        assert_eq!(functions.len(), 1);
        assert_eq!(functions[0].binary, "one");
        let mut bindings =
            Bindings::with_defaults(TEMPLATE, &[("Sender", "a@b.c".into())]).unwrap();
        bindings.resources.insert("Table".into(), "users-1".into());
        bindings
            .attributes
            .insert("Table.Arn".into(), "arn:table/users-1".into());
        let environment = functions[0].environment(&bindings).unwrap();
        let expected: BTreeMap<String, String> = [
            ("TABLE", "users-1"),
            ("LEVEL", "debug"),
            ("SENDER", "a@b.c"),
            ("ARN", "arn:table/users-1"),
            ("URL", "https://users-1.us-east-1.example.com"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(environment, expected);
    }

    #[test]
    fn a_reference_to_nothing_known_is_an_error_naming_the_variable() {
        let functions = template_functions(TEMPLATE).unwrap();
        let bindings = Bindings::with_defaults(TEMPLATE, &[]).unwrap();
        let error = functions[0].environment(&bindings).unwrap_err().to_string();
        assert!(error.contains("OneFunction"), "{error}");
    }
}
