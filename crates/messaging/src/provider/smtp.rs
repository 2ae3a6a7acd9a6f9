//! E-mail over SMTP (`lettre`): `none`, `starttls` or `tls` on the settings' host and port,
//! with a login when the channel has one. SMTP has no idempotency reference: a message whose
//! answer never came is not sent again.

use lettre::message::{Mailbox, MultiPart, SinglePart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use loyalty_core::Invalid;
use serde::Deserialize;

use super::{Outcome, Outgoing, Provider, Sending, check_common};
use crate::template::Rendered;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default = "starttls")]
    pub tls: String,
    pub from: String,
    #[serde(default)]
    pub price_per_message: Option<i64>,
    /// The provider's rate limit for this account (sends a second).
    #[serde(default)]
    pub max_per_second: Option<u32>,
}

fn starttls() -> String {
    "starttls".into()
}

impl Settings {
    pub fn check(&self) -> Result<(), Invalid> {
        let mut errors = Invalid::default();
        if self.host.trim().is_empty() {
            errors.required("settings.host");
        }
        if !matches!(self.tls.as_str(), "none" | "starttls" | "tls") {
            errors.push_coded("settings.tls", "invalid", "one of none, starttls, tls");
        }
        if self.from.parse::<Mailbox>().is_err() {
            errors.push_coded(
                "settings.from",
                "invalid",
                "an address such as Shop <loyalty@shop.vn>",
            );
        }
        check_common(self.price_per_message, &mut errors);
        errors.into_result(|| ())
    }
}

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Smtp {
    pub fn new(
        settings: Settings,
        username: Option<String>,
        password: Option<String>,
    ) -> Result<Smtp, Invalid> {
        settings.check()?;
        let tls = |host: &str| {
            TlsParameters::new(host.to_string())
                .map_err(|e| Invalid::one("settings.host", "invalid", e.to_string()))
        };
        let (builder, default_port) = match settings.tls.as_str() {
            "tls" => (
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
                    .tls(Tls::Wrapper(tls(&settings.host)?)),
                465,
            ),
            "starttls" => (
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
                    .tls(Tls::Required(tls(&settings.host)?)),
                587,
            ),
            _ => (
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host),
                25,
            ),
        };
        let mut builder = builder
            .port(settings.port.unwrap_or(default_port))
            .timeout(Some(std::time::Duration::from_secs(15)));
        if let (Some(user), Some(pass)) = (username, password)
            && !user.is_empty()
        {
            builder = builder.credentials(Credentials::new(user, pass));
        }
        let from = settings
            .from
            .parse()
            .map_err(|_| Invalid::one("settings.from", "invalid", "an e-mail address"))?;
        Ok(Smtp {
            transport: builder.build(),
            from,
        })
    }

    fn message(&self, out: &Outgoing) -> Result<Message, String> {
        let Rendered::Email {
            subject,
            html,
            text,
        } = &out.content
        else {
            return Err("an e-mail channel sends e-mail templates only".into());
        };
        let to = Mailbox::new(
            out.name.clone(),
            out.to
                .parse()
                .map_err(|_| format!("invalid address {}", out.to))?,
        );
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{}@loyalty>", out.reference)));
        let html_part = SinglePart::builder()
            .header(header::ContentType::TEXT_HTML)
            .body(html.clone());
        let built = match text {
            Some(text) => builder.multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(header::ContentType::TEXT_PLAIN)
                            .body(text.clone()),
                    )
                    .singlepart(html_part),
            ),
            None => builder.singlepart(html_part),
        };
        built.map_err(|e| e.to_string())
    }
}

impl Provider for Smtp {
    fn send<'a>(&'a self, out: &'a Outgoing) -> Sending<'a> {
        Box::pin(async move {
            let message = match self.message(out) {
                Ok(m) => m,
                Err(why) => return Outcome::Permanent(why),
            };
            match self.transport.send(message).await {
                Ok(_) => Outcome::Sent { provider_id: None },
                Err(e) if e.is_permanent() => Outcome::Permanent(e.to_string()),
                Err(e) if e.is_timeout() => Outcome::Unknown(e.to_string()),
                // A refused connection, a 4xx, a broken TLS handshake: nothing was taken.
                Err(e) => Outcome::Temporary(e.to_string()),
            }
        })
    }
}
