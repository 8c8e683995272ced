//! The invitation email: subject, plain text and HTML, with the signup link and expiry.

use super::*;

/// The invitation email: subject, plain text and HTML, with the signup link and expiry.
pub fn invitation_email(
    config: &Config,
    user: &UserItem,
    account_name: &str,
    inviter: &Inviter,
    token: &str,
    expires_at: DateTime<Utc>,
) -> OutgoingEmail {
    let separator = if config.signup_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let link = format!("{}{separator}token={token}", config.signup_url);
    let expiry = expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let greeting = if user.firstname.is_empty() {
        "Hello,".to_owned()
    } else {
        format!("Hello {},", user.firstname)
    };
    let subject =
        crate::adapters::mail::subject_line(&format!("You're invited to join {account_name}"));
    let text = format!(
        "{greeting}\n\n{} invited you to join {account_name}.\n\nFinish your signup here:\n{link}\n\nThis link expires on {expiry}. If you did not expect this invitation, you can ignore this email.\n",
        inviter.name
    );
    let html = format!(
        "<!doctype html><html><body><p>{}</p><p>{} invited you to join <strong>{}</strong>.</p><p><a href=\"{}\">Finish your signup</a></p><p>This link expires on {}. If you did not expect this invitation, you can ignore this email.</p></body></html>",
        escape_html(&greeting),
        escape_html(&inviter.name),
        escape_html(account_name),
        escape_html(&link),
        expiry
    );
    OutgoingEmail {
        to: user.email.to_string(),
        subject,
        text,
        html,
    }
}
