//! Outgoing email (SES v2) behind a small trait. Templates are rendered here, in the
//! function, with plain-text and HTML parts.

use async_trait::async_trait;
use aws_sdk_sesv2::error::DisplayErrorContext;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

/// One message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("email not sent: {0}")]
pub struct MailError(pub String);

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: Email) -> Result<(), MailError>;
}

/// SES v2 from one verified sender, through a configuration set when one is given (its
/// event destination is what makes bounces and complaints visible).
#[derive(Debug, Clone)]
pub struct Ses {
    client: Client,
    sender: String,
    configuration_set: Option<String>,
}

impl Ses {
    /// The functions' mailer, from their configuration (sender and configuration set).
    pub fn new(sdk: &aws_config::SdkConfig, config: &crate::Config) -> Self {
        Self::from_client(Client::new(sdk), &config.sender_email)
            .with_configuration_set(config.ses_configuration_set.clone())
    }

    pub fn from_client(client: Client, sender: impl Into<String>) -> Self {
        Self {
            client,
            sender: sender.into(),
            configuration_set: None,
        }
    }

    pub fn with_configuration_set(mut self, name: Option<String>) -> Self {
        self.configuration_set = name;
        self
    }
}

#[allow(clippy::expect_used)] // The builder fails only without data, set just above.
fn content(data: String) -> Content {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .expect("data is set")
}

#[async_trait]
impl Mailer for Ses {
    async fn send(&self, email: Email) -> Result<(), MailError> {
        let message = Message::builder()
            .subject(content(email.subject))
            .body(
                Body::builder()
                    .text(content(email.text))
                    .html(content(email.html))
                    .build(),
            )
            .build();
        self.client
            .send_email()
            .from_email_address(&self.sender)
            .set_configuration_set_name(self.configuration_set.clone())
            .destination(Destination::builder().to_addresses(email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| MailError(DisplayErrorContext(e).to_string()))
    }
}

/// Escapes text for HTML bodies.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A subject as one clean line, whatever the stored text it was built from holds: data
/// written before names were checked may carry line breaks, which in a mail header would
/// start a new header. Each run of hidden or control characters becomes one space.
pub fn subject_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    let mut hidden = false;
    for c in text.chars() {
        if crate::domain::is_hidden_or_control(c) {
            hidden = true;
        } else {
            if hidden && !line.is_empty() {
                line.push(' ');
            }
            hidden = false;
            line.push(c);
        }
    }
    line
}

/// A short notification with the same words in both parts.
pub fn notification(to: &str, subject: &str, paragraphs: &[&str]) -> Email {
    let text = paragraphs.join("\n\n");
    let html = paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>", escape_html(p)))
        .collect::<Vec<_>>()
        .join("\n");
    Email {
        to: to.to_owned(),
        subject: subject_line(subject),
        text,
        html: format!("<!doctype html><html><body>{html}</body></html>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_built_from_stored_text_is_one_line() {
        assert_eq!(
            subject_line("You're invited to join Acme\r\nBcc: victim@evil.test"),
            "You're invited to join Acme Bcc: victim@evil.test"
        );
        assert_eq!(subject_line("a\u{202E}b\u{0}"), "a b");
        assert_eq!(subject_line("Plain"), "Plain");
    }
}
