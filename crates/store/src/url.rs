//! Where the data lives: `sqlite://loyalty.db` (the default, a file in the working directory),
//! `sqlite:///var/lib/loyalty/loyalty.db`, or `postgres://user:password@host:5432/db`.

use std::fmt;
use std::path::PathBuf;

use crate::sql::Backend;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://loyalty.db";

/// A database URL. `Debug` and `Display` hide the password so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
    backend: Backend,
}

#[derive(Debug, thiserror::Error)]
#[error("database URL must start with sqlite:// or postgres:// (got {0})")]
pub struct UrlError(String);

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<DatabaseUrl, UrlError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(UrlError(redact(url)));
        };
        let parsed = DatabaseUrl {
            url: url.to_string(),
            backend,
        };
        if backend == Backend::Sqlite && parsed.sqlite_path().is_none() {
            return Err(UrlError(redact(url)));
        }
        Ok(parsed)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The file of a SQLite URL: `sqlite://loyalty.db` is relative, `sqlite:///abs/x.db` absolute.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.url.strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty()).then(|| PathBuf::from(path))
    }

    /// The full URL with its password: only for handing to the driver.
    pub fn expose(&self) -> &str {
        &self.url
    }

    pub fn redacted(&self) -> String {
        redact(&self.url)
    }
}

/// Hides passwords: `scheme://user:password@host` → `scheme://user:***@host`, and any query
/// parameter whose name holds `password` (`?password=…`, `&sslpassword=…`) → `…=***`.
fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((credentials, host)) => match credentials.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => base.to_string(),
            },
            None => base.to_string(),
        },
        None => base.to_string(),
    };
    match query {
        None => base,
        Some(query) => {
            let params: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                        format!("{name}=***")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_a_file() {
        let url = DatabaseUrl::parse("sqlite://loyalty.db").unwrap();
        assert_eq!(url.sqlite_path().unwrap(), PathBuf::from("loyalty.db"));
        let url = DatabaseUrl::parse("sqlite:///var/lib/loyalty/x.db").unwrap();
        assert_eq!(
            url.sqlite_path().unwrap(),
            PathBuf::from("/var/lib/loyalty/x.db")
        );
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("mysql://x").is_err());
    }

    #[test]
    fn passwords_never_show_in_logs() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/loyalty").unwrap();
        assert_eq!(
            format!("{url:?} {url}"),
            "postgres://app:***@db:5432/loyalty postgres://app:***@db:5432/loyalty"
        );
        assert_eq!(url.expose(), "postgres://app:s3cret@db:5432/loyalty");
        let url = DatabaseUrl::parse(
            "postgres://db/loyalty?user=app&password=s3cret&sslpassword=k3y&sslmode=require",
        )
        .unwrap();
        assert_eq!(
            url.to_string(),
            "postgres://db/loyalty?user=app&password=***&sslpassword=***&sslmode=require"
        );
        let url = DatabaseUrl::parse("postgres://app:p@ss@db/loyalty?Password=x").unwrap();
        assert_eq!(
            url.to_string(),
            "postgres://app:***@db/loyalty?Password=***"
        );
        let refused = DatabaseUrl::parse("mysql://a:s3cret@c?password=s3cret").unwrap_err();
        assert!(!refused.to_string().contains("s3cret"), "{refused}");
    }
}
