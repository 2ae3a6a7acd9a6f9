//! Messages to members. `template` renders a channel's template for one member in a sandbox
//! (API.md's variables and filters), checking it at save time; `sms` measures a text the way
//! an SMS gateway bills it; `provider` hands a rendered message to SMTP, SendGrid, Mailgun,
//! eSMS, Vietguys or Zalo ZNS (one module each behind one trait) and reads their delivery
//! reports; `doubles` (feature `doubles`) are local stand-ins for those providers in tests.

#[cfg(feature = "doubles")]
pub mod doubles;
pub mod provider;
pub mod sms;
pub mod template;
pub mod tracking;
