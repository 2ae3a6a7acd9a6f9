//! Messages to members. `template` renders a channel's template for one member in a sandbox
//! (API.md's variables and filters), checking it at save time; `sms` measures a text the way
//! an SMS gateway bills it. The provider adapters (SMTP, SendGrid, Mailgun, eSMS, Vietguys,
//! Zalo ZNS) are to come here, one module each behind one trait.

pub mod sms;
pub mod template;
